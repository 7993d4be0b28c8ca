"""Command line: `python -m desktop` and `chatkit-desktop`.

Start-up order matters for launch time: arguments, data dir and the single-instance lock are
cheap and come first. Then the server's first stage starts on a thread of its own while the
window's toolkit starts on this one; the full app, chatkit and the Agents SDK (seconds of imports)
load behind the page (see desktop/api/first_stage.py).
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from desktop import __version__
from desktop.shell.launch import Launch, fail, serve_headless, serve_window

if TYPE_CHECKING:
    from desktop.paths import Paths

log = logging.getLogger("desktop")
STARTED = time.monotonic()


def _parser() -> argparse.ArgumentParser:
    from desktop.paths import DATA_DIR_ENV, resolve_paths

    default = resolve_paths()
    # --data-dir is taken before a subcommand and after it (`backup --data-dir DIR`).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        metavar="DIR",
        default=argparse.SUPPRESS,  # keeps a --data-dir given before the subcommand
        help="where chats, settings and attachments live",
    )
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
    from desktop.shell.data_commands import add_commands

    add_commands(parser.add_subparsers(dest="command", metavar="COMMAND"), common)
    return parser


def _return_large_buffers_to_the_os() -> None:
    """A turn with images builds tens of MB of base64 and JSON. glibc would keep those pages
    after they are freed (its mmap threshold grows with use), so RSS crept up by ~20 MB a turn;
    a fixed 1 MB threshold hands large buffers back when freed."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        # The process's own symbols, libc's among them: finding libc by name runs ldconfig.
        libc = ctypes.CDLL(None)
        libc.mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass  # not glibc: nothing to tune


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _return_large_buffers_to_the_os()
    if not 0 <= args.port <= 65535:
        return fail(f"--port must be between 0 and 65535, not {args.port}.", 2)

    from desktop.fileio import make_private, restrict_new_files
    from desktop.paths import resolve_paths

    # Chats, keys and the instance's details are the user's alone, on a shared machine too.
    restrict_new_files()
    paths = resolve_paths(args.data_dir)
    try:
        paths.data.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return fail(f"can't create the data folder {paths.data}: {exc.strerror}.")
    if not os.access(paths.data, os.W_OK):
        return fail(f"the data folder {paths.data} is not writable.")
    make_private(paths.data)
    make_private(paths.logs)
    if getattr(args, "command", None):
        from desktop.shell.data_commands import run_command

        return run_command(args, paths.data)

    from desktop.shell.instance import InstanceLock, ask_to_focus

    lock = InstanceLock(paths.data)
    if not lock.acquire():
        if ask_to_focus(paths.data):
            print(
                "ChatKit Desktop is already running for this data folder; brought it to the front."
            )
            return 0
        return fail(f"another ChatKit Desktop is already using {paths.data}.")
    try:
        return _run(args, paths, lock)
    finally:
        lock.release()


def _run(args: argparse.Namespace, paths: Paths, lock: Any) -> int:
    from desktop.env import API_KEY as ENV_API_KEY
    from desktop.loopback import bind_loopback, make_token
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
        return fail(f"can't write the log at {where}: {exc.strerror or exc}.")
    try:
        sock = bind_loopback(args.port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return fail(
                f"port {args.port} is already in use. Choose another with --port, or 0 for any."
            )
        return fail(f"can't listen on 127.0.0.1:{args.port}: {exc.strerror}.")
    port = sock.getsockname()[1]
    lock.publish(port, token)
    sign_in = f"http://127.0.0.1:{port}/?token={token}"
    log.info("starting on 127.0.0.1:%d, data dir %s", port, paths.data)

    launch = Launch(args, paths, sock, token, keys, log_file, sign_in, STARTED)
    if args.no_window or args.browser:
        return serve_headless(launch)
    return serve_window(launch)
