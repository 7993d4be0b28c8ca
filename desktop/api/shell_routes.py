"""Routes around the chat: the page's own endpoints (see page.py), its remembered state, and the
window's focus."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from fastapi import APIRouter, Request

from desktop.api.page import PageEndpoints
from desktop.errors import InvalidRequestError


def shell_router(on_focus: Callable[[], bool] | None) -> APIRouter:
    router = APIRouter()

    # A second launch reaches this with the focus secret from `.instance.json` (see the Guard):
    # the one route that secret opens, and all it can do is raise the window.
    @router.post("/api/instance/focus")
    async def focus() -> dict[str, bool]:
        return {"focused": bool(on_focus and on_focus())}

    return router


def page_router(page: PageEndpoints) -> APIRouter:
    """The page itself (with sign-in), its session, health, readiness and remembered state."""
    router = APIRouter()
    for (method, path), endpoint in page.routes().items():
        router.add_route(path, endpoint, methods=[method])

    @router.put("/api/ui-state")
    async def put_ui_state(request: Request) -> dict[str, object]:
        try:
            changes = json.loads(await request.body() or b"{}")
        except (ValueError, RecursionError) as exc:
            raise InvalidRequestError("The request body is not valid JSON.") from exc
        return await asyncio.to_thread(page.ui_state.update, changes)

    return router
