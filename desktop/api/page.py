"""The page's own routes, in plain Starlette: the page with its sign-in, its session, health,
readiness, remembered state and log lines. The launch's first stage serves them before FastAPI is
imported, and the full app mounts the same endpoints, so the two can't answer differently.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from desktop import __version__
from desktop.api.errors import parse_body
from desktop.api.security import Guard, SignInCodes, token_matches
from desktop.paths import ui_dir
from desktop.settings.ui_state import UiState

page_log = logging.getLogger("desktop.page")

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


@dataclass
class PageEndpoints:
    """Each method is a Starlette endpoint: a request in, a response out."""

    token: str
    guard: Guard
    codes: SignInCodes
    ui_state: UiState
    # The Content-Security-Policy the page is served with (it follows the chat interface setting).
    csp: Callable[[], str]
    # Called each time the page says it is usable: the launch reports it, the engine warms up.
    on_ready: Callable[[], None]

    async def index(self, request: Request) -> Response:
        offered = request.query_params.get("token")
        code = request.query_params.get("code")
        if offered is not None or code is not None:
            # Sign this browser in, then take the token or code out of the address bar.
            response: Response = RedirectResponse("/", status_code=303)
            if token_matches(offered, self.token) or (code is not None and self.codes.redeem(code)):
                response.set_cookie(
                    self.guard.cookie_name,
                    self.guard.session,
                    httponly=True,
                    samesite="strict",
                    path="/",
                )
            return response
        csp = self.csp()
        try:
            # A few kB, read on the event loop: a worker thread's hand-off would cost the first
            # page more than the read.
            page = (ui_dir() / "index.html").read_bytes()
        except OSError:
            return HTMLResponse(
                _NOT_BUILT, status_code=503, headers={"Content-Security-Policy": csp}
            )
        return HTMLResponse(page, headers={"Content-Security-Policy": csp})

    async def session(self, request: Request) -> Response:
        # For the ChatKit component's fetch wrapper; only a signed-in page can read it.
        return JSONResponse({"token": self.token})

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "version": __version__})

    async def ready(self, request: Request) -> Response:
        self.on_ready()
        return Response(status_code=204)

    async def get_ui_state(self, request: Request) -> Response:
        return JSONResponse(await asyncio.to_thread(self.ui_state.get))

    async def log_entry(self, request: Request) -> Response:
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

    def routes(self) -> dict[tuple[str, str], Callable[[Request], Awaitable[Response]]]:
        """(method, path) -> endpoint, for whoever serves them."""
        return {
            ("GET", "/"): self.index,
            ("GET", "/api/session"): self.session,
            ("GET", "/api/health"): self.health,
            ("POST", "/api/page/ready"): self.ready,
            ("GET", "/api/ui-state"): self.get_ui_state,
            ("POST", "/api/log"): self.log_entry,
        }
