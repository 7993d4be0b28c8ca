"""The desktop shell: command line, single instance, logs, and the window (the only
module that imports `webview`)."""
