"""Guards for a server on 127.0.0.1 that any web page in the user's browser could try to reach.

Every API request needs the per-launch token; the Host header must name us (DNS rebinding);
a foreign or `null` Origin is refused; no CORS headers are ever sent. The session cookie is
ambient (a browser attaches it to requests other pages make, and every port of 127.0.0.1 is the
same site), so a request it authorizes must also come from our own page.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from desktop import env
from desktop.api.errors import error_json
from desktop.errors import PayloadTooLarge
from desktop.loopback import focus_secret as focus_secret
from desktop.loopback import make_token as make_token

TOKEN_ENV = env.TOKEN
SESSION_COOKIE = "chatkit_desktop_session"
LOCAL_HOSTNAMES = ("127.0.0.1", "localhost")

# Paths that need the token. The page shell itself carries no data.
PROTECTED_PREFIXES = ("/chatkit", "/api/")

CHATKIT_SCRIPT_ORIGIN = "https://cdn.platform.openai.com"

# `Sec-Fetch-Site` values of requests our own page makes: its fetches and subresources
# (`same-origin`), and navigations the user started: the address bar, a browser's command line,
# the window loading the sign-in URL, reloads (`none`). Anything else was started by another page,
# including pages on other ports of 127.0.0.1 (`same-site`).
OWN_FETCH_SITES = ("same-origin", "none")


def page_csp(allow_chatkit: bool) -> str:
    """The page's Content-Security-Policy. OpenAI's script and frame only when ChatKit may load."""
    script = "'self'" + (f" {CHATKIT_SCRIPT_ORIGIN}" if allow_chatkit else "")
    frame = f"{CHATKIT_SCRIPT_ORIGIN} https://*.openai.com" if allow_chatkit else "'none'"
    return (
        f"default-src 'self'; script-src {script}; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; frame-src {frame}; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
    )


def session_cookie_name(port: int | None) -> str:
    """Browsers send a 127.0.0.1 cookie to every port, so each instance names its own."""
    return f"{SESSION_COOKIE}_{port}" if port else SESSION_COOKIE


# Request bodies larger than this are refused while they arrive. Uploads have their own cap;
# an import (a ChatGPT export can be gigabytes) is only bounded by the disk.
MAX_API_BODY = 256 * 1024
MAX_CHATKIT_BODY = 8 * 1024 * 1024


def body_limit(path: str) -> int | None:
    if path.startswith("/api/attachments/") or path == "/api/data/import":
        return None
    return MAX_CHATKIT_BODY if path.startswith("/chatkit") else MAX_API_BODY


class SignInCodes:
    """One-time codes that sign a browser in, for URLs that other local users may see (a
    browser's command line is public in `ps`). A code works once, within a minute."""

    LIFETIME_S = 60.0

    def __init__(self) -> None:
        self._codes: dict[str, float] = {}
        self._lock = threading.Lock()

    def issue(self) -> str:
        code = secrets.token_urlsafe(24)
        with self._lock:
            now = time.monotonic()
            self._codes = {c: t for c, t in self._codes.items() if t > now}
            self._codes[code] = now + self.LIFETIME_S
        return code

    def redeem(self, code: str) -> bool:
        with self._lock:
            expires = self._codes.pop(code, None)
        return expires is not None and expires > time.monotonic()


def token_matches(candidate: str | None, token: str) -> bool:
    return candidate is not None and hmac.compare_digest(candidate.encode(), token.encode())


def _refuse(status: int, message: str) -> Response:
    # Deliberately terse: a refused caller learns nothing about what would have worked.
    return error_json(status, "forbidden" if status == 403 else "unauthorized", message)


class Guard:
    """The checks every request passes before it reaches a route."""

    def __init__(self, token: str, port: int | None, session: str | None = None) -> None:
        self.token = token
        self.port = port
        # The cookie's value is not the token: a page that learns it can't use it as a Bearer
        # token, and another instance's sign-in can't replace it.
        self.session = session or secrets.token_urlsafe(32)
        self.cookie_name = session_cookie_name(port)
        self.focus = focus_secret(token)

    def host_allowed(self, host: str | None) -> bool:
        if not host:
            return False
        name, _, port = host.rpartition(":") if host.count(":") == 1 else (host, "", "")
        if not port:
            return False
        if name not in LOCAL_HOSTNAMES:
            return False
        return self.port is None or port == str(self.port)

    def origin_allowed(self, origin: str | None) -> bool:
        if origin is None:
            return True
        scheme, _, rest = origin.partition("://")
        return scheme == "http" and self.host_allowed(rest)

    def credential(self, request: Request) -> str | None:
        """What authorizes the request: "bearer", "focus", "cookie", or None."""
        header = request.headers.get("authorization", "")
        if header[:7].lower() == "bearer " and token_matches(header[7:].strip(), self.token):
            return "bearer"
        # A second launch asks this one to show its window: the only route its secret opens.
        if (
            request.method == "POST"
            and request.url.path == env.FOCUS_PATH
            and token_matches(request.headers.get(env.FOCUS_HEADER), self.focus)
        ):
            return "focus"
        if token_matches(request.cookies.get(self.cookie_name), self.session):
            return "cookie"
        return None

    def check(self, request: Request) -> Response | None:
        """None when the request may proceed, else the refusal to send."""
        if not self.host_allowed(request.headers.get("host")):
            return _refuse(403, "Forbidden.")
        if not self.origin_allowed(request.headers.get("origin")):
            return _refuse(403, "Forbidden.")
        if not request.url.path.startswith(PROTECTED_PREFIXES):
            # The page shell and its assets carry no data, so any page may navigate to them.
            return None
        credential = self.credential(request)
        if credential is None:
            return _refuse(401, "Unauthorized.")
        if credential == "cookie" and not own_page(request.headers.get("sec-fetch-site")):
            return _refuse(403, "Forbidden.")
        return None


def own_page(fetch_site: str | None) -> bool:
    """True unless the browser says another site or page started the request. Clients that don't
    send `Sec-Fetch-Site` (old browsers, scripts) are left to the Host and Origin checks."""
    return fetch_site is None or fetch_site.strip().lower() in OWN_FETCH_SITES


class GuardMiddleware:
    """Pure ASGI, so that streamed replies and client disconnects pass through untouched."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self.guard.check(Request(scope))
        if refusal is not None:
            await refusal(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                headers.setdefault("Cache-Control", "no-store")
            await send(message)

        limit = body_limit(scope["path"])
        if limit is None:
            await self.app(scope, receive, send_with_headers)
            return
        declared = Request(scope).headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(limit)(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Raised inside the route's body read; the app's error boundary answers 413.
                    raise PayloadTooLarge(_too_large_text(limit))
            return message

        await self.app(scope, limited_receive, send_with_headers)


def _too_large_text(limit: int) -> str:
    size = f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} kB"
    return f"The request is larger than the {size} this address accepts."


def _too_large(limit: int) -> Response:
    return error_json(413, "too_large", _too_large_text(limit))
