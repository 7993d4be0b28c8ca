"""Routes for the shell around the chat: the page's own log lines, and the window's focus."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel

from desktop.api.errors import parse_body

page_log = logging.getLogger("desktop.page")

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

    @router.post("/api/instance/focus")
    async def focus() -> dict[str, bool]:
        return {"focused": bool(on_focus and on_focus())}

    return router
