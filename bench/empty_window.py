"""The floor for launch time: an empty pywebview window showing a static page, then closing.

Prints 'loaded' when the page's load event fires. Same toolkit and settings as the app.
"""

from __future__ import annotations

import sys
import threading

from desktop.shell.window import prepare_qt_environment

PAGE = "<!doctype html><html><head><meta charset='utf-8'><title>Empty</title></head><body><p>Empty</p></body></html>"


def main() -> int:
    prepare_qt_environment()
    import webview

    window = webview.create_window("Empty", html=PAGE, width=1100, height=760)
    assert window is not None

    def on_loaded() -> None:
        print("loaded", flush=True)
        threading.Timer(0.2, window.destroy).start()

    window.events.loaded += on_loaded
    webview.start(gui="qt" if sys.platform.startswith("linux") else None, private_mode=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
