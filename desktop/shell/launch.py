"""Serving a launch: headless (or in the user's browser), or in the native window.

The window's toolkit starts hidden while the server comes up on another thread; the window shows
once the app page has loaded, and the launch reports when the page says it is usable.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import threading
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop import __version__

if TYPE_CHECKING:
    import socket

    from desktop.api.app import App
    from desktop.paths import Paths
    from desktop.settings.keys import KeyStore

log = logging.getLogger("desktop")


@dataclass(frozen=True)
class Launch:
    """What a launch has settled before it serves: flags, paths, socket, secrets, log."""

    args: argparse.Namespace
    paths: Paths
    sock: socket.socket
    token: str
    keys: KeyStore
    log_file: Path
    sign_in: str
    # When the process started, for the launch time it reports.
    started: float


def fail(message: str, code: int = 1) -> int:
    print(f"chatkit-desktop: {message}", file=sys.stderr, flush=True)
    return code


def build_app(
    launch: Launch,
    on_focus: Callable[[], bool] | None,
    on_page_ready: Callable[[], None] | None = None,
) -> App:
    """Check and migrate the chat history, then build the app; raises DesktopError with a
    sentence for the user. The chatkit store itself is built in the background once serving."""
    from desktop.api.app import create_app
    from desktop.profile import Profile
    from desktop.store.database import prepare_database

    paths = launch.paths
    prepare_database(paths.db, paths.attachments)
    return create_app(
        profile=Profile.open(paths, keys=launch.keys),
        token=launch.token,
        port=launch.sock.getsockname()[1],
        log_file=launch.log_file,
        on_focus=on_focus,
        on_page_ready=on_page_ready,
        # With a window, the page comes first; the chat engine loads right behind it.
        warm_up_delay_s=3.0 if on_page_ready is not None else 0.0,
    )


def serve_headless(launch: Launch) -> int:
    from desktop.api.serving import serve
    from desktop.errors import DesktopError

    app: App | None = None

    def open_browser() -> bool:
        # A one-time code, not the token: a browser's command line is visible to other users.
        if app is None or not launch.args.browser:
            return False
        code = app.state.desktop.sign_in_codes.issue()
        return webbrowser.open(f"{launch.sign_in.split('?', 1)[0]}?code={code}")

    try:
        app = build_app(launch, open_browser)
    except DesktopError as exc:
        launch.sock.close()
        return fail(exc.message)
    port = launch.sock.getsockname()[1]
    print(f"ChatKit Desktop {__version__} is serving on http://127.0.0.1:{port}", flush=True)
    print(f"Open this URL to sign a browser in: {launch.sign_in}", flush=True)
    print(f"Data: {launch.paths.data}  Log: {launch.log_file}", flush=True)
    if launch.args.browser:
        threading.Timer(0.3, open_browser).start()
    serve(app, launch.sock)
    log.info("stopped cleanly")
    return 0


def serve_window(launch: Launch) -> int:
    from desktop.api.serving import make_server
    from desktop.errors import DesktopError
    from desktop.shell.window import DesktopWindow

    window = DesktopWindow(debug=launch.args.debug, process_started=launch.started)
    window.open_hidden()
    state: dict[str, Any] = {"server": None, "thread": None, "code": 0}

    usable = threading.Event()
    usable_at: list[float] = []

    def page_usable() -> None:
        if not usable.is_set():
            usable_at.append(time.monotonic() - launch.started)
            usable.set()

    def page_loaded(loaded: float) -> None:
        # The page says when its chat (or onboarding) is up; that is when a person can start.
        usable.wait(30)
        ready = f"usable {usable_at[0]:.2f} s" if usable_at else "not yet usable"
        log.info("window ready: page loaded %.2f s, %s after start", loaded, ready)
        print(
            f"ChatKit Desktop window is ready (page loaded {loaded:.2f} s, {ready} after start)",
            flush=True,
        )

    def stop_server() -> None:
        if state["server"] is not None:
            state["server"].should_exit = True

    def boot() -> None:
        try:
            app = build_app(launch, window.focus, page_usable)
        except DesktopError as exc:
            state["code"] = fail(exc.message)
            window.show_error(exc.message)
            # What scripts (and tests) wait for before they close it, instead of guessing a time.
            print("ChatKit Desktop window shows why it can't start", flush=True)
            return
        server = make_server(app)
        thread = threading.Thread(
            target=lambda: asyncio.run(server.serve(sockets=[launch.sock])),
            name="server",
            daemon=False,
        )
        state["server"], state["thread"] = server, thread
        thread.start()
        while not server.started and thread.is_alive():
            time.sleep(0.005)
        log.debug("server answering %.3f s after start", time.monotonic() - launch.started)
        if window.closed.is_set():
            server.should_exit = True
        else:
            window.show_app(launch.sign_in)

    window.on_page_loaded = page_loaded
    window.on_close = stop_server
    threading.Thread(target=boot, name="boot", daemon=True).start()
    window.run()
    # The window is closed: let the server finish in-flight requests and DB writes, then exit.
    stop_server()
    if state["thread"] is not None:
        state["thread"].join(timeout=20)
    launch.sock.close()
    log.info("window closed; stopped cleanly")
    return int(state["code"])
