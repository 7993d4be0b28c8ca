"""Running the app on 127.0.0.1 with uvicorn, in the current thread or a background one."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
from collections.abc import Iterator
from types import FrameType

import uvicorn
from starlette.types import ASGIApp


def bind_loopback(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1 only.

    The protocol must be IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted
    connections only when it is, and without it every keep-alive response and streamed event
    can wait 40 ms on Nagle's algorithm and delayed ACKs.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


class Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn re-raises the signal after a graceful stop, which would make a clean shutdown
        # exit with -15. SIGTERM and Ctrl+C are a normal quit here: stop, then return.
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def stop(sig: int, frame: FrameType | None) -> None:
            if self.should_exit and sig == signal.SIGINT:
                self.force_exit = True
            self.should_exit = True

        previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


def make_server(app: ASGIApp) -> Server:
    return Server(
        uvicorn.Config(
            app,
            log_config=None,
            access_log=False,  # access lines would carry the sign-in URL's token
            lifespan="on",
            timeout_graceful_shutdown=10,
        )
    )


def serve(app: ASGIApp, sock: socket.socket) -> None:
    """Serve until SIGINT/SIGTERM, then finish in-flight work and return normally."""
    with sock:
        asyncio.run(make_server(app).serve(sockets=[sock]))
