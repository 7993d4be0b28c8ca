"""Command line: `python -m desktop` and `chatkit-desktop`.

Start-up order matters for launch time: arguments, data dir and the single-instance lock are
cheap and come first; the window appears next; chatkit and the Agents SDK (about 1.4 s of
imports) load behind it, on the thread that starts the server.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import sys
import threading
import time
import webbrowser
from collections.abc import Callable, Sequence
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
STARTED = time.monotonic()


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


def _parser() -> argparse.ArgumentParser:
    from desktop.paths import DATA_DIR_ENV, resolve_paths

    default = resolve_paths()
    parser = argparse.ArgumentParser(
        prog="chatkit-desktop",
        description="ChatKit Desktop: a local chat app for OpenAI and OpenAI-compatible models.",
        epilog=(
            f"Data: {default.data} (override with --data-dir or {DATA_DIR_ENV}). "
            f"Logs: {default.logs} (or <data dir>/logs when the data dir is overridden)."
        ),
    )
    parser.add_argument(
        "--data-dir", metavar="DIR", help="where chats, settings and attachments live"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        metavar="N",
        help="port on 127.0.0.1 to serve on (default: a free port)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--no-window",
        action="store_true",
        help="serve only, and print a URL that signs a browser in",
    )
    mode.add_argument(
        "--browser",
        action="store_true",
        help="open the app in the default browser instead of a window",
    )
    parser.add_argument(
        "--debug", action="store_true", help="developer tools in the window, and verbose logs"
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def _fail(message: str, code: int = 1) -> int:
    print(f"chatkit-desktop: {message}", file=sys.stderr, flush=True)
    return code


def _return_large_buffers_to_the_os() -> None:
    """A turn with images builds tens of MB of base64 and JSON. glibc would keep those pages
    after they are freed (its mmap threshold grows with use), so RSS crept up by ~20 MB a turn;
    a fixed 1 MB threshold hands large buffers back when freed."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass  # not glibc: nothing to tune


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _return_large_buffers_to_the_os()
    if not 0 <= args.port <= 65535:
        return _fail(f"--port must be between 0 and 65535, not {args.port}.", 2)

    from desktop.fileio import make_private, restrict_new_files
    from desktop.paths import resolve_paths

    # Chats, keys and the instance's details are the user's alone, on a shared machine too.
    restrict_new_files()
    paths = resolve_paths(args.data_dir)
    try:
        paths.data.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return _fail(f"can't create the data folder {paths.data}: {exc.strerror}.")
    if not os.access(paths.data, os.W_OK):
        return _fail(f"the data folder {paths.data} is not writable.")
    make_private(paths.data)
    make_private(paths.logs)

    from desktop.shell.instance import InstanceLock, ask_to_focus

    lock = InstanceLock(paths.data)
    if not lock.acquire():
        if ask_to_focus(paths.data):
            print(
                "ChatKit Desktop is already running for this data folder; brought it to the front."
            )
            return 0
        return _fail(f"another ChatKit Desktop is already using {paths.data}.")
    try:
        return _run(args, paths, lock)
    finally:
        lock.release()


def _run(args: argparse.Namespace, paths: Paths, lock: Any) -> int:
    from desktop.api.security import make_token
    from desktop.api.serving import bind_loopback
    from desktop.env import API_KEY as ENV_API_KEY
    from desktop.settings.keys import KeyStore
    from desktop.shell.logs import setup_logging

    token = make_token()
    keys = KeyStore(paths.data)
    try:
        log_file = setup_logging(
            paths.logs,
            debug=args.debug,
            # Masks only what is loaded: a key still in the keychain can't be in a log line yet.
            secrets=lambda: (token, os.environ.get(ENV_API_KEY), keys.peek()),
        )
    except OSError as exc:
        where = exc.filename or paths.logs
        return _fail(f"can't write the log at {where}: {exc.strerror or exc}.")
    try:
        sock = bind_loopback(args.port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return _fail(
                f"port {args.port} is already in use. Choose another with --port, or 0 for any."
            )
        return _fail(f"can't listen on 127.0.0.1:{args.port}: {exc.strerror}.")
    port = sock.getsockname()[1]
    lock.publish(port, token)
    sign_in = f"http://127.0.0.1:{port}/?token={token}"
    log.info("starting on 127.0.0.1:%d, data dir %s", port, paths.data)

    launch = Launch(args, paths, sock, token, keys, log_file, sign_in)
    if args.no_window or args.browser:
        return _serve_headless(launch)
    return _serve_window(launch)


def _build_app(
    launch: Launch,
    on_focus: Callable[[], bool] | None,
    on_page_ready: Callable[[], None] | None = None,
) -> App:
    """Check and migrate the chat history, then build the app; raises DesktopError with a
    sentence for the user. The chatkit store itself is built in the background once serving."""
    from desktop.api.app import create_app
    from desktop.store.database import prepare_database

    paths = launch.paths
    prepare_database(paths.db, paths.attachments)
    return create_app(
        data_dir=paths.data,
        token=launch.token,
        port=launch.sock.getsockname()[1],
        keys=launch.keys,
        log_file=launch.log_file,
        on_focus=on_focus,
        on_page_ready=on_page_ready,
        # With a window, the page comes first; the chat engine loads right behind it.
        warm_up_delay_s=3.0 if on_page_ready is not None else 0.0,
    )


def _serve_headless(launch: Launch) -> int:
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
        app = _build_app(launch, open_browser)
    except DesktopError as exc:
        launch.sock.close()
        return _fail(exc.message)
    port = launch.sock.getsockname()[1]
    print(f"ChatKit Desktop {__version__} is serving on http://127.0.0.1:{port}", flush=True)
    print(f"Open this URL to sign a browser in: {launch.sign_in}", flush=True)
    print(f"Data: {launch.paths.data}  Log: {launch.log_file}", flush=True)
    if launch.args.browser:
        threading.Timer(0.3, open_browser).start()
    serve(app, launch.sock)
    log.info("stopped cleanly")
    return 0


def _serve_window(launch: Launch) -> int:
    from desktop.api.serving import make_server
    from desktop.errors import DesktopError
    from desktop.shell.window import DesktopWindow

    window = DesktopWindow(debug=launch.args.debug, process_started=STARTED)
    window.open_hidden()
    state: dict[str, Any] = {"server": None, "thread": None, "code": 0}

    usable = threading.Event()
    usable_at: list[float] = []

    def page_usable() -> None:
        if not usable.is_set():
            usable_at.append(time.monotonic() - STARTED)
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
            app = _build_app(launch, window.focus, page_usable)
        except DesktopError as exc:
            state["code"] = _fail(exc.message)
            window.show_error(exc.message)
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
        log.debug("server answering %.3f s after start", time.monotonic() - STARTED)
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
