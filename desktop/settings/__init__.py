"""Settings: the file, the environment, the key store, and what the page remembers."""
