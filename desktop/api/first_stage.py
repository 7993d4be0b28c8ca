"""The launch's first stage: the window is usable before the full app is imported.

FastAPI, the app's routers and the chat store take most of a second to import, and chatkit and
the Agents SDK more than another. A window that waited for them would show its composer seconds
after an empty window would have shown a page. So the launch serves this first: the page, its
assets, its own routes, Settings and the history's first page, from modules that import neither
FastAPI, chatkit nor the Agents SDK. Every other request waits for the full app (`create_app`),
which is built on a worker thread behind it; once that is up it answers everything, and the page
never reloads. The first message may wait for the engine, and the page shows that it is waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from desktop.api.errors import error_json, error_response
from desktop.api.page import PageEndpoints
from desktop.api.quitting import Quitting
from desktop.api.security import Guard, GuardMiddleware, SignInCodes, page_csp
from desktop.errors import AppClosing
from desktop.paths import ui_dir
from desktop.profile import Profile
from desktop.settings.ui_state import UiState
from desktop.store.thread_cursors import ThreadCursors
from desktop.store.thread_list import first_page

log = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Front:
    """What the first stage and the full app share: who is signed in, how the app quits, and
    where the history's pages ended."""

    token: str
    guard: Guard
    codes: SignInCodes
    quitting: Quitting
    cursors: ThreadCursors

    @classmethod
    def new(cls, token: str, port: int | None) -> Front:
        return cls(token, Guard(token, port), SignInCodes(), Quitting(), ThreadCursors())


# Builds the full app on a worker thread; told whether the page is already up (then the chat
# engine needn't hold back for it).
FullAppBuilder = Callable[[bool], ASGIApp]


class FirstStage:
    """An ASGI app that answers what the first page needs and hands the rest to the full app."""

    def __init__(
        self,
        *,
        front: Front,
        profile: Profile,
        build_full: FullAppBuilder,
        on_page_ready: Callable[[], None] | None = None,
        log_file: Any = None,
        build_after_s: float = 0.0,
    ) -> None:
        self.front = front
        self._profile = profile
        self._build_full = build_full
        self._on_page_ready = on_page_ready
        self._log_file = log_file
        self._build_after_s = build_after_s
        self._page_up = False
        self._full: ASGIApp | None = None
        self._bring_up_task: asyncio.Task[ASGIApp] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._key_read: asyncio.Future[None] | None = None
        self._lifespan: asyncio.Future[None] | None = None
        self._to_full: asyncio.Queue[Message] = asyncio.Queue()
        self._from_full: asyncio.Queue[Message] = asyncio.Queue()
        settings = profile.settings
        page = PageEndpoints(
            token=front.token,
            guard=front.guard,
            codes=front.codes,
            ui_state=UiState(profile.paths.ui_state),
            csp=lambda: page_csp(allow_chatkit=settings.effective().chat_interface != "builtin"),
            on_ready=self._page_ready,
        )
        self._routes: dict[tuple[str, str], Endpoint] = {
            **page.routes(),
            ("GET", "/api/settings"): self._settings,
        }
        self._assets = StaticFiles(directory=ui_dir() / "assets", check_dir=False)
        self._guarded = GuardMiddleware(self._serve, front.guard)

    # ------------------------------------------------------------------ ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._run_lifespan(receive, send)
        elif self._full is not None:
            await self._full(scope, receive, send)
        else:
            await self._guarded(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._forward(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        endpoint = self._routes.get((method, path))
        try:
            if endpoint is not None:
                response = await endpoint(Request(scope, receive))
            elif path.startswith("/assets/") and method in ("GET", "HEAD"):
                await self._assets({**scope, "root_path": "/assets"}, receive, send)
                return
            elif (method, path) == ("POST", "/chatkit"):
                await self._chatkit(scope, receive, send)
                return
            else:
                await self._forward(scope, receive, send)
                return
        except Exception as exc:
            response = error_response(exc)
        await response(scope, receive, send)

    def _read_key(self) -> None:
        """Find the key store and read the key: probing the system keychain takes a while (a
        tenth of a second, far longer on a busy machine), so it starts with the server."""
        self._profile.settings.key()
        _ = self._profile.keys.backend

    async def _settings(self, request: Request) -> Response:
        if self._key_read is not None:
            await asyncio.shield(self._key_read)
        view = self._profile.settings.view(
            log_file=self._log_file, data_dir=self._profile.paths.data
        )
        return Response(json.dumps(view), media_type="application/json")

    async def _chatkit(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The history's first page is answered here; any other ChatKit request goes on, with
        the body it was sent with."""
        body = await Request(scope, receive).body()
        limit = _first_page_limit(body)
        if limit is not None:
            db = self._profile.paths.db
            page = await asyncio.to_thread(first_page, db, limit, self.front.cursors)
            await Response(page, media_type="application/json")(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self._forward(scope, replay, send)

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            app = await self.front.quitting.unless_quitting(self._bring_up())
        except AppClosing as exc:
            await error_response(exc)(scope, receive, send)
            return
        except Exception:
            log.exception("the app couldn't finish starting")
            refusal = error_json(
                503,
                "unavailable",
                "ChatKit Desktop couldn't finish starting. The details are in the log; "
                "restarting the app may help.",
            )
            await refusal(scope, receive, send)
            return
        await app(scope, receive, send)

    # ------------------------------------------------------------------ the full app

    def _page_ready(self) -> None:
        self._page_up = True
        if self._on_page_ready is not None:
            self._on_page_ready()
        # The page is up: nothing competes with the rest of the app any more.
        self._begin()

    def _begin(self) -> None:
        if self._bring_up_task is None:
            self._bring_up_task = asyncio.get_running_loop().create_task(self._build_and_start())
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _bring_up(self) -> asyncio.Future[ASGIApp]:
        self._begin()
        assert self._bring_up_task is not None
        # Shielded: a request that gives up waiting mustn't cancel the app's start for the rest.
        return asyncio.shield(self._bring_up_task)

    async def _build_and_start(self) -> ASGIApp:
        page_up = self._page_up
        app = await asyncio.to_thread(self._build_full, page_up)
        if self.front.quitting.begun:
            raise AppClosing()
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
        self._lifespan = asyncio.ensure_future(app(scope, self._to_full.get, self._from_full.put))
        await self._to_full.put({"type": "lifespan.startup"})
        reply = await self._reply_from_full()
        if reply.get("type") != "lifespan.startup.complete":
            raise RuntimeError(reply.get("message") or "the app's start-up failed")
        if self._page_up and not page_up:
            # The page came up while the app was being built: its engine needn't wait any more.
            app.state.desktop.chat.start()  # type: ignore[attr-defined]
        self._full = app
        log.debug("the full app has taken over from the first stage")
        return app

    async def _reply_from_full(self) -> Message:
        assert self._lifespan is not None
        reply: asyncio.Future[Message] = asyncio.ensure_future(self._from_full.get())
        waits: set[asyncio.Future[Any]] = {reply, self._lifespan}
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        if reply.done():
            return reply.result()
        reply.cancel()
        error = self._lifespan.exception()
        return {"type": "lifespan.failed", "message": str(error) if error else ""}

    async def _run_lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._key_read = asyncio.ensure_future(asyncio.to_thread(self._read_key))
                if self._build_after_s <= 0:
                    self._begin()
                else:
                    loop = asyncio.get_running_loop()
                    self._timer = loop.call_later(self._build_after_s, self._begin)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._bring_up_task is not None:
            # A build under way finishes (a thread can't be stopped), then is shut down.
            with contextlib.suppress(Exception):
                await self._bring_up_task
        if self._lifespan is not None and not self._lifespan.done():
            await self._to_full.put({"type": "lifespan.shutdown"})
            await self._reply_from_full()
            with contextlib.suppress(Exception):
                await self._lifespan


def _first_page_limit(body: bytes) -> int | None:
    """The page size when `body` asks for the history's first page, newest first; else None."""
    try:
        request = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(request, dict) or request.get("type") != "threads.list":
        return None
    params = request.get("params")
    if not isinstance(params, dict) or set(params) - {"limit", "order", "after"}:
        return None
    limit, order = params.get("limit"), params.get("order", "desc")
    if params.get("after") is not None or order != "desc":
        return None
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
        return None  # chatkit decides what it makes of it
    return limit or 20  # chatkit's page size when none (or 0) is asked for
