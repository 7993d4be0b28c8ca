"""Serving a launch: headless (or in the user's browser), or in the native window.

The window's toolkit starts hidden while the server comes up on another thread; the window shows
once the app page has loaded, and the launch reports when the page says it is usable.
"""

from __future__ import annotations

import argparse
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
    from desktop.api.first_stage import FirstStage
    from desktop.paths import Paths
    from desktop.settings.keys import KeyStore
    from desktop.shell.window import DesktopWindow

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


def read_keys_early(launch: Launch) -> None:
    """Find the key store and read the saved key on a thread of their own, from the start:
    probing the system keychain takes a tenth of a second (far longer on a busy machine), and
    Settings, which the first page asks for, needs it."""

    def read() -> None:
        try:
            _ = launch.keys.backend
            launch.keys.record()
        except Exception:  # the first request that needs the key says what is wrong
            log.debug("reading the key store early failed", exc_info=True)

    threading.Thread(target=read, name="keys", daemon=True).start()


def build_first_stage(
    launch: Launch,
    on_focus: Callable[[], bool] | None,
    on_page_ready: Callable[[], None] | None = None,
) -> FirstStage:
    """Check and migrate the chat history, then build the first stage; the full app is built
    behind it. Raises DesktopError with a sentence for the user."""
    from desktop.api.first_stage import FirstStage, Front
    from desktop.profile import Profile
    from desktop.store.database import prepare_database

    paths = launch.paths
    prepare_database(paths.db, paths.attachments)
    profile = Profile.open(paths, keys=launch.keys)
    port = launch.sock.getsockname()[1]
    front = Front.new(launch.token, port)
    windowed = on_page_ready is not None

    def build_full(page_up: bool) -> App:
        from desktop.api.app import create_app

        return create_app(
            profile=profile,
            token=launch.token,
            port=port,
            log_file=launch.log_file,
            on_focus=on_focus,
            on_page_ready=on_page_ready,
            # With a window still loading its page, the chat engine waits a moment longer.
            warm_up_delay_s=3.0 if windowed and not page_up else 0.0,
            front=front,
        )

    return FirstStage(
        front=front,
        profile=profile,
        build_full=build_full,
        on_page_ready=on_page_ready,
        log_file=launch.log_file,
        # A window's page comes first: the rest is built once it is up (or needed, or 3 s on).
        build_after_s=3.0 if windowed else 0.0,
    )


def serve_headless(launch: Launch) -> int:
    from desktop.api.serving import serve
    from desktop.errors import DesktopError

    read_keys_early(launch)
    app: FirstStage | None = None

    def open_browser() -> bool:
        # A one-time code, not the token: a browser's command line is visible to other users.
        if app is None or not launch.args.browser:
            return False
        code = app.front.codes.issue()
        return webbrowser.open(f"{launch.sign_in.split('?', 1)[0]}?code={code}")

    try:
        app = build_first_stage(launch, open_browser)
    except DesktopError as exc:
        launch.sock.close()
        return fail(exc.message)
    port = launch.sock.getsockname()[1]
    print(f"ChatKit Desktop {__version__} is serving on http://127.0.0.1:{port}", flush=True)
    print(f"Open this URL to sign a browser in: {launch.sign_in}", flush=True)
    print(f"Data: {launch.paths.data}  Log: {launch.log_file}", flush=True)
    if launch.args.browser:
        threading.Timer(0.3, open_browser).start()
    serve(app, launch.sock, app.front.quitting.begin)
    log.info("stopped cleanly")
    return 0


def serve_window(launch: Launch) -> int:
    """The server starts on its own thread before the toolkit does, and the window asks for the
    app page at once: the bound socket holds that request until the server answers it."""
    state: dict[str, Any] = {"server": None, "code": 0, "stopping": False}
    usable = threading.Event()
    usable_at: list[float] = []
    window_made = threading.Event()
    window_box: list[DesktopWindow] = []

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
        # Either the boot thread sees `stopping` before it serves, or this sees its server.
        state["stopping"] = True
        if state["server"] is not None:
            state["server"].should_exit = True

    def focus() -> bool:
        return bool(window_box) and window_box[0].focus()

    def boot() -> None:
        # Imported here, on the server's thread: the window's toolkit starts meanwhile.
        import asyncio

        from desktop.api.serving import make_server
        from desktop.errors import DesktopError

        try:
            app = build_first_stage(launch, focus, page_usable)
        except Exception as exc:
            if isinstance(exc, DesktopError):
                message = exc.message
            else:
                log.exception("the app couldn't start")
                message = (
                    f"Something went wrong while starting. The details are in {launch.log_file}."
                )
            state["code"] = fail(message)
            window_made.wait()
            if window_box:
                window_box[0].show_error(message)
            # What scripts (and tests) wait for before they close it, instead of guessing a time.
            print("ChatKit Desktop window shows why it can't start", flush=True)
            return
        server = make_server(app, app.front.quitting.begin)
        state["server"] = server
        if state["stopping"]:
            return
        asyncio.run(server.serve(sockets=[launch.sock]))

    read_keys_early(launch)
    thread = threading.Thread(target=boot, name="server", daemon=False)
    thread.start()
    try:
        from desktop.shell.window import DesktopWindow

        window = DesktopWindow(debug=launch.args.debug, process_started=launch.started)
        window.open_hidden(launch.sign_in)
        window_box.append(window)
    except BaseException:
        stop_server()  # no window to serve: the server mustn't keep the process alive
        raise
    finally:
        window_made.set()
    window.on_page_loaded = page_loaded
    window.on_close = stop_server
    window.run()
    # The window is closed: let the server finish in-flight requests and DB writes, then exit.
    stop_server()
    thread.join(timeout=20)
    launch.sock.close()
    log.info("window closed; stopped cleanly")
    return int(state["code"])
