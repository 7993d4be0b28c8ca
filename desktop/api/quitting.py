"""Quitting at once. A desktop app that is closed should be gone in a moment, not wait on the
requests still running: a reply being written stops as if its page had pressed Stop (what it
has written so far is saved), and a request still waiting for the chat engine is told the app is
closing."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable
from typing import TypeVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from desktop.errors import AppClosing

T = TypeVar("T")

_GONE: Message = {"type": "http.disconnect"}
# The chat's last event when the app quits during a reply (the protocol's error event).
CLOSED_EVENT = (
    b'data: {"type":"error","code":"custom","message":"ChatKit Desktop was closed during '
    b'this reply. What it had written is saved.","allow_retry":true}\n\n'
)


class Quitting:
    """Set once, when the server starts to stop."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def begin(self) -> None:
        self._event.set()

    @property
    def begun(self) -> bool:
        return self._event.is_set()

    async def unless_quitting(self, awaitable: Awaitable[T]) -> T:
        """`awaitable`'s result, or AppClosing if the app starts to quit first."""
        if self.begun:
            if inspect.iscoroutine(awaitable):
                awaitable.close()  # never started: say so, rather than leave it unawaited
            raise AppClosing()
        work = asyncio.ensure_future(awaitable)
        quit_ = asyncio.ensure_future(self._event.wait())
        try:
            await asyncio.wait({work, quit_}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            work.cancel()  # the caller was cancelled: nothing is left waiting on its behalf
            raise
        finally:
            quit_.cancel()
        if not work.done():
            work.cancel()
            raise AppClosing()
        return work.result()


class QuitMiddleware:
    """Tells each request its client went away when the app quits: Starlette then ends a stream
    just as when the page stops it, and an upload as when the page cancels it. A chat stream
    cut that way is then closed properly, with a last event that says why."""

    def __init__(self, app: ASGIApp, quitting: Quitting) -> None:
        self.app = app
        self.quitting = quitting

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        event_stream = False
        complete = False

        async def receive_until_quit() -> Message:
            try:
                return await self.quitting.unless_quitting(receive())
            except AppClosing:
                return _GONE

        async def watched_send(message: Message) -> None:
            nonlocal event_stream, complete
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                event_stream = headers.get(b"content-type", b"").startswith(b"text/event-stream")
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                complete = True
            await send(message)

        await self.app(scope, receive_until_quit, watched_send)
        if event_stream and not complete and self.quitting.begun:
            await send({"type": "http.response.body", "body": CLOSED_EVENT, "more_body": False})
