"""Helpers shared by the tests, the benchmarks and the packaging checks: the fake provider, a live
server, the headless app, Xvfb, a file-backed keyring and the browser's settings."""
