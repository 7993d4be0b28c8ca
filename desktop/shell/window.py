"""The native window (pywebview). The only module that imports `webview`.

The window is created hidden, asking for the app page at once, while the server starts on another
thread; it appears once the page has loaded.
"""

from __future__ import annotations

import html
import logging
import os
import signal
import sys
import threading
import time
import webbrowser
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

TITLE = "ChatKit Desktop"


def prepare_qt_environment() -> None:
    """Settings Qt reads at import time, so call this before importing webview."""
    if sys.platform.startswith("linux"):
        # Qt is the toolkit we ship on Linux; without this, asking for the screen size first
        # tries GTK, which isn't installed.
        os.environ.setdefault("PYWEBVIEW_GUI", "qt")
    if sys.platform.startswith("linux") and hasattr(os, "geteuid") and os.geteuid() == 0:
        # QtWebEngine refuses to run as root with its sandbox on; only then do we turn it off.
        os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")


def error_page(message: str) -> str:
    return (
        "<!doctype html><meta charset='utf-8'><title>ChatKit Desktop</title>"
        "<body style='font:15px system-ui,sans-serif;margin:2em'>"
        f"<h1>ChatKit Desktop can't start</h1><p>{html.escape(message)}</p></body>"
    )


EXTERNAL_SCHEMES = ("http", "https", "mailto")


def stays_in_app(url: str, app_url: str | None) -> bool:
    """Whether the window may show `url`: the app's own pages, and the blank or error page the
    window loads itself before the app is there. Anything else opens in the system browser."""
    if app_url is None:
        return True
    target, app = urlsplit(url), urlsplit(app_url)
    if target.scheme in ("data", "about"):
        return True
    return (target.scheme, target.netloc) == (app.scheme, app.netloc)


class DesktopWindow:
    def __init__(self, *, debug: bool, process_started: float) -> None:
        prepare_qt_environment()
        import webview

        self._webview = webview
        self.debug = debug
        self.process_started = process_started
        self.window: Any = None
        self._app_url: str | None = None
        self._reported = False
        self.closed = threading.Event()
        self.on_close: Callable[[], None] = lambda: None
        self.on_page_loaded: Callable[[float], None] = lambda seconds: None

    def open_hidden(self, url: str) -> None:
        """Create the window hidden, already asking for the app at `url` (the sign-in URL, which
        trades the token for a cookie); it shows once that page has loaded."""
        self._app_url = url
        width, height = self._initial_size()
        window = self._webview.create_window(
            TITLE, url=url, hidden=True, width=width, height=height, min_size=(360, 480)
        )
        if window is None:
            raise RuntimeError("pywebview did not create a window")
        window.events.loaded += self._on_loaded
        window.events.closed += self._on_closed
        window.events.before_show += self._guard_navigation
        self.window = window

    def _initial_size(self) -> tuple[int, int]:
        """1100x760, or less on a small screen: the whole window, title bar included, must fit."""
        try:
            screen = self._webview.screens[0]
            return min(1100, int(screen.width * 0.94)), min(760, int(screen.height * 0.9))
        except Exception:
            return 1100, 760

    def _guard_navigation(self) -> None:
        """The window never leaves the app: a reply's link, or a page that tries to navigate
        away, would leave the user stranded with no way back. Runs on the GUI thread."""
        native = getattr(self.window, "native", None)
        view = getattr(native, "webview", None)
        page = view.page() if view is not None else None
        signal = getattr(page, "navigationRequested", None)
        if signal is None:
            log.warning("this web view can't guard navigation; links may leave the app")
            return
        signal.connect(self._on_navigation)
        profile = page.profile() if page is not None else None
        if profile is not None:
            profile.downloadRequested.connect(self._on_download)

    def _on_download(self, download: Any) -> None:
        """An export: ask where to save it, starting in Downloads with the file's own name.
        (pywebview's handler would offer the URL's path as the name.)"""
        from pathlib import Path

        from platformdirs import user_downloads_dir
        from qtpy.QtWidgets import QFileDialog

        folder = Path(user_downloads_dir())
        if not folder.is_dir():
            folder = Path.home()
        suggested = folder / (download.downloadFileName() or "export")
        chosen, _ = QFileDialog.getSaveFileName(
            self.window.native, "Save the export", str(suggested)
        )
        if not chosen:
            download.cancel()
            return
        target = Path(chosen)
        download.setDownloadDirectory(str(target.parent))
        download.setDownloadFileName(target.name)
        download.accept()

    def _on_navigation(self, request: Any) -> None:
        url = request.url().toString()
        if not request.isMainFrame() or stays_in_app(url, self._app_url):
            return
        request.reject()
        if urlsplit(url).scheme in EXTERNAL_SCHEMES:
            log.info("opening a link in the system browser")
            threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()

    def show_error(self, message: str) -> None:
        self.window.load_html(error_page(message))
        self.window.show()

    def _on_loaded(self) -> None:
        url = self.window.get_current_url() or ""
        if self._app_url and not self._reported and url.startswith(self._app_url.split("?", 1)[0]):
            # The window appears only now: the server answered and the app page is there.
            self._reported = True
            self.window.show()
            self.on_page_loaded(time.monotonic() - self.process_started)

    def _on_closed(self) -> None:
        self.closed.set()
        self.on_close()

    def focus(self) -> bool:
        """Bring the window to the front (a second launch asks for this)."""
        log.info("a second launch asked for the window")
        if self.window is None or self.closed.is_set():
            return False
        try:
            self.window.restore()
            self.window.show()
            # Raising above other apps: toggling on_top is what works across platforms.
            self.window.on_top = True
            self.window.on_top = False
        except Exception:
            log.exception("could not focus the window")
            return False
        return True

    def close(self) -> None:
        if self.window is not None and not self.closed.is_set():
            self.window.destroy()

    def run(self) -> None:
        """Run the toolkit's loop until the window is closed (or SIGINT/SIGTERM closes it)."""
        self._stop_on_signals()
        if sys.platform.startswith("linux"):
            self._webview.start(gui="qt", debug=self.debug, private_mode=True)
        else:
            self._webview.start(debug=self.debug, private_mode=True)

    def _stop_on_signals(self) -> None:
        # While Qt's loop runs, Python signal handlers only run when Python code does. The
        # wakeup fd is written by the C-level handler at once, so a watcher thread sees it.
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        signal.set_wakeup_fd(write_fd)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda s, f: None)

        def watch() -> None:
            while os.read(read_fd, 1):
                log.info("signal received: closing the window")
                self.close()

        threading.Thread(target=watch, name="signal-watch", daemon=True).start()
