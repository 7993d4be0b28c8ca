"""Routes around the chat: the page itself (sign-in, session, health, readiness, remembered
state), the page's own log lines, and the window's focus."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from desktop import __version__
from desktop.api.engine import ChatEngine
from desktop.api.errors import parse_body
from desktop.api.security import Guard, SignInCodes, token_matches
from desktop.errors import InvalidRequestError
from desktop.paths import ui_dir
from desktop.settings.ui_state import UiState

page_log = logging.getLogger("desktop.page")

UI_DIR = ui_dir()
_NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>ChatKit Desktop</title>
<body style="font:15px system-ui,sans-serif;margin:2em"><h1>The page isn't built</h1>
<p>Build it with <code>npm --prefix web ci && npm --prefix web run build</code>, then reload.</p>"""

# Line breaks and other controls in a page's log message would forge log lines.
_LOG_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)} | {
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


class PageLog(BaseModel):
    level: str = "error"
    message: str
    source: str = "page"


def shell_router(on_focus: Callable[[], bool] | None) -> APIRouter:
    router = APIRouter()

    @router.post("/api/log", status_code=204)
    async def page_log_entry(request: Request) -> Response:
        entry = parse_body(PageLog, await request.body())
        level = {"error": logging.ERROR, "warning": logging.WARNING, "warn": logging.WARNING}.get(
            entry.level.lower(), logging.INFO
        )
        page_log.log(
            level,
            "[%s] %s",
            entry.source[:40].translate(_LOG_ESCAPES),
            entry.message[:4000].translate(_LOG_ESCAPES),
        )
        return Response(status_code=204)

    # A second launch reaches this with the focus secret from `.instance.json` (see the Guard):
    # the one route that secret opens, and all it can do is raise the window.
    @router.post("/api/instance/focus")
    async def focus() -> dict[str, bool]:
        return {"focused": bool(on_focus and on_focus())}

    return router


@dataclass
class PageRoutes:
    """What the page's own routes need from the app."""

    token: str
    guard: Guard
    codes: SignInCodes
    ui_state: UiState
    csp: Callable[[], str]
    on_page_ready: Callable[[], None] | None
    chat: ChatEngine


def page_router(p: PageRoutes) -> APIRouter:
    """The page itself (with sign-in), its session, health, readiness and remembered state."""
    router = APIRouter()
    token, guard, codes, ui_state, chat, on_page_ready = (
        p.token,
        p.guard,
        p.codes,
        p.ui_state,
        p.chat,
        p.on_page_ready,
    )

    @router.get("/api/session")
    async def session() -> dict[str, str]:
        # For the ChatKit component's fetch wrapper; only a signed-in page can read it.
        return {"token": token}

    @router.post("/api/page/ready", status_code=204)
    async def page_ready() -> Response:
        chat.start()
        if on_page_ready is not None:
            on_page_ready()
        return Response(status_code=204)

    @router.get("/api/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @router.get("/api/ui-state")
    async def get_ui_state() -> dict[str, object]:
        return await asyncio.to_thread(ui_state.get)

    @router.put("/api/ui-state")
    async def put_ui_state(request: Request) -> dict[str, object]:
        try:
            changes = json.loads(await request.body() or b"{}")
        except (ValueError, RecursionError) as exc:
            raise InvalidRequestError("The request body is not valid JSON.") from exc
        return await asyncio.to_thread(ui_state.update, changes)

    @router.get("/", response_class=HTMLResponse)
    async def index(request: Request) -> Response:
        offered = request.query_params.get("token")
        code = request.query_params.get("code")
        if offered is not None or code is not None:
            # Sign this browser in, then take the token or code out of the address bar.
            response: Response = RedirectResponse("/", status_code=303)
            if token_matches(offered, token) or (code is not None and codes.redeem(code)):
                response.set_cookie(
                    guard.cookie_name, guard.session, httponly=True, samesite="strict", path="/"
                )
            return response
        csp = p.csp()
        if not (UI_DIR / "index.html").is_file():
            return HTMLResponse(
                _NOT_BUILT, status_code=503, headers={"Content-Security-Policy": csp}
            )
        return FileResponse(UI_DIR / "index.html", headers={"Content-Security-Policy": csp})

    return router
