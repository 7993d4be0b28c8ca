"""Command line: `python -m desktop` and `chatkit-desktop`."""

from __future__ import annotations

import argparse
import errno
import logging
import os
import sys
from collections.abc import Sequence

from desktop import __version__

log = logging.getLogger("desktop")


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
    parser.add_argument(
        "--no-window",
        action="store_true",
        help="serve only, and print a URL that signs a browser in",
    )
    parser.add_argument("--debug", action="store_true", help="verbose logs")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def _fail(message: str, code: int = 1) -> int:
    print(f"chatkit-desktop: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not 0 <= args.port <= 65535:
        return _fail(f"--port must be between 0 and 65535, not {args.port}.", 2)

    from desktop.paths import resolve_paths

    paths = resolve_paths(args.data_dir)
    try:
        paths.data.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return _fail(f"can't create the data folder {paths.data}: {exc.strerror}.")
    if not os.access(paths.data, os.W_OK):
        return _fail(f"the data folder {paths.data} is not writable.")

    # Heavy imports (chatkit pulls in the Agents SDK) come after the argument checks.
    from desktop.app import create_app
    from desktop.errors import DesktopError
    from desktop.keys import KeyFile, lookup_key
    from desktop.logs import setup_logging
    from desktop.security import make_token
    from desktop.serving import bind_loopback, serve
    from desktop.store import SQLiteStore

    token = make_token()
    key_file = KeyFile(paths.key_file)
    log_file = setup_logging(
        paths.logs, debug=args.debug, secrets=lambda: (token, lookup_key(os.environ, key_file))
    )
    try:
        sock = bind_loopback(args.port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return _fail(
                f"port {args.port} is already in use. Choose another with --port, or 0 for any."
            )
        return _fail(f"can't listen on 127.0.0.1:{args.port}: {exc.strerror}.")
    port = sock.getsockname()[1]

    store = SQLiteStore(paths.db, attachments_dir=paths.attachments)
    try:
        store.open()
        app = create_app(data_dir=paths.data, token=token, port=port, store=store)
    except DesktopError as exc:
        sock.close()
        store.close()
        return _fail(exc.message)

    if not args.no_window:
        print(
            "chatkit-desktop: the desktop window is not available in this build; serving only.",
            file=sys.stderr,
        )
    print(f"ChatKit Desktop {__version__} is serving on http://127.0.0.1:{port}", flush=True)
    print(f"Open this URL to sign a browser in: http://127.0.0.1:{port}/?token={token}", flush=True)
    print(f"Data: {paths.data}  Log: {log_file}", flush=True)
    log.info("serving on 127.0.0.1:%d, data dir %s", port, paths.data)

    serve(app, sock)
    log.info("stopped cleanly")
    return 0
