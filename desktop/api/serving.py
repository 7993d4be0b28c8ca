"""Running the app on 127.0.0.1 with uvicorn, in the current thread or a background one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from desktop.loopback import bind_loopback as bind_loopback

log = logging.getLogger(__name__)


def _quiet_finished_streams(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # chatkit reads the model's events on helper tasks, and leaves one behind when a reply is
    # stopped; once the model's run is cancelled, that task ends with the stream's normal end,
    # which asyncio would report as an error when it is collected.
    if isinstance(context.get("exception"), StopAsyncIteration):
        log.debug("a stopped reply's event reader ended")
        return
    loop.default_exception_handler(context)


class Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, on_quit: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_quit = on_quit

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        asyncio.get_running_loop().set_exception_handler(_quiet_finished_streams)
        await super().serve(sockets)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Before uvicorn waits for the requests still running: told first, they end at once.
        self._on_quit()
        await super().shutdown(sockets)

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


def make_server(app: ASGIApp, on_quit: Callable[[], None] | None = None) -> Server:
    """A server for `app`. `on_quit` hears when it starts to stop; by default, an app from
    `create_app` does."""
    if on_quit is None:
        state = getattr(getattr(app, "state", None), "desktop", None)
        quitting = getattr(state, "quitting", None)
        on_quit = quitting.begin if quitting is not None else (lambda: None)
    return Server(
        uvicorn.Config(
            app,
            log_config=None,
            access_log=False,  # access lines would carry the sign-in URL's token
            lifespan="on",
            # Named, not "auto": the launch serves sooner without importing a websockets
            # implementation the app never speaks.
            http="h11",
            ws="none",
            timeout_graceful_shutdown=10,
        ),
        on_quit=on_quit,
    )


def serve(app: ASGIApp, sock: socket.socket, on_quit: Callable[[], None] | None = None) -> None:
    """Serve until SIGINT/SIGTERM, then stop what is running and return normally."""
    with sock:
        asyncio.run(make_server(app, on_quit).serve(sockets=[sock]))
