"""The HTTP app: one factory, `create_app`. Nothing happens at import time."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, TypeVar
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import StreamingResponse

from desktop import __version__
from desktop import env as env_names
from desktop.api.engine import ChatEngine, StoreHandle
from desktop.api.errors import error_json
from desktop.api.security import (
    MAX_CHATKIT_BODY,
    Guard,
    GuardMiddleware,
    SignInCodes,
    page_csp,
    token_matches,
)
from desktop.api.settings_routes import settings_router
from desktop.api.shell_routes import shell_router
from desktop.context import RequestContext
from desktop.errors import DesktopError, InvalidRequestError, NotFound, PayloadTooLarge
from desktop.paths import Paths, resolve_paths, ui_dir
from desktop.settings.keys import KeyStore
from desktop.settings.service import SettingsService
from desktop.settings.ui_state import UiState
from desktop.store import attachment_rules as rules

if TYPE_CHECKING:
    from desktop.store.chat_store import SQLiteStore

log = logging.getLogger(__name__)
# What create_app returns, for modules outside the HTTP layer that only pass it along.
App = FastAPI
P = ParamSpec("P")
R = TypeVar("R")

UI_DIR = ui_dir()

_NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>ChatKit Desktop</title>
<body style="font:15px system-ui,sans-serif;margin:2em"><h1>The page isn't built</h1>
<p>Build it with <code>npm --prefix web ci && npm --prefix web run build</code>, then reload.</p>"""

_STREAM_ERROR = b'data: {"type":"error","code":"stream.error","allow_retry":true}\n\n'


@dataclass
class AppState:
    paths: Paths
    stores: StoreHandle
    chat: ChatEngine
    token: str
    settings: SettingsService
    sign_in_codes: SignInCodes

    @property
    def store(self) -> SQLiteStore:
        return self.stores.value


def _error(status: int, code: str, message: str) -> JSONResponse:
    return error_json(status, code, message)


def _is_not_found(exc: BaseException) -> bool:
    # chatkit is imported in the background; an exception of its kind means it is loaded.
    store = sys.modules.get("chatkit.store")
    return store is not None and isinstance(exc, store.NotFoundError)


def _not_found_is_404(route: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """chatkit's NotFoundError as our 404, for routes that use the store. (It can't have an
    exception handler of its own: chatkit is not imported when the app is built.)"""

    @functools.wraps(route)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await route(*args, **kwargs)
        except Exception as exc:
            if _is_not_found(exc):
                raise NotFound(f"{exc}.") from exc
            raise

    return wrapper


def error_response(exc: BaseException) -> JSONResponse:
    """The one place a failure on the HTTP API becomes a response."""
    if isinstance(exc, DesktopError):
        return _error(exc.status_code, exc.code, exc.message)
    if _is_not_found(exc):
        return _error(404, "not_found", f"{exc}.")
    if isinstance(exc, ValueError | NotImplementedError):
        # chatkit reports a request that doesn't fit the thread's state this way.
        return _error(400, "invalid_request", str(exc)[:300] or "Invalid request.")
    log.error("unexpected error", exc_info=exc)
    return _error(
        500, "internal", "Something went wrong inside ChatKit Desktop. The details are in the log."
    )


async def _guarded_stream(first: bytes | None, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first is not None:
        yield first
    try:
        async for chunk in rest:
            yield chunk
    except Exception:
        # The response has started, so a status code is no longer possible: end with an error event.
        log.exception("stream failed")
        yield _STREAM_ERROR


def create_app(
    *,
    data_dir: str | os.PathLike[str] | None = None,
    token: str,
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    store: SQLiteStore | None = None,
    keys: KeyStore | None = None,
    log_file: Path | None = None,
    on_focus: Callable[[], bool] | None = None,
    on_page_ready: Callable[[], None] | None = None,
    warm_up_delay_s: float = 0.0,
) -> FastAPI:
    """Build the app. `port` is the one it will be served on (checked against Host headers).

    `on_focus` brings the window to the front when a second launch asks for it; `on_page_ready`
    hears when the page is usable (the launch reports how long that took). `warm_up_delay_s`
    holds back building the chat store and engine (over a second of imports) so that they don't
    compete with the first page; whatever needs them first, or the page being up, starts them.
    """
    environ = dict(os.environ if env is None else env)
    paths = resolve_paths(data_dir or environ.get(env_names.DATA_DIR))
    service = SettingsService(paths.settings, environ, keys or KeyStore(paths.data))
    stores = StoreHandle(paths.db, paths.attachments, store)

    def keys_backend() -> str:
        return service.keys.backend

    chat = ChatEngine(stores, service.provider_config)
    codes = SignInCodes()
    ui_state = UiState(paths.ui_state)
    guard = Guard(token, port)
    state = AppState(
        paths=paths, stores=stores, chat=chat, token=token, settings=service, sign_in_codes=codes
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if warm_up_delay_s > 0:
            later = asyncio.get_running_loop().call_later(warm_up_delay_s, chat.start)
        else:
            chat.start()
        # Ask the key store now (keychain probing takes a moment): the first page needs it.
        warm_key = asyncio.create_task(asyncio.to_thread(lambda: (service.key(), keys_backend())))
        try:
            yield
        finally:
            if warm_up_delay_s > 0:
                later.cancel()
            warm_key.cancel()
            await chat.aclose()
            await stores.aclose()

    app = FastAPI(
        title="ChatKit Desktop",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.desktop = state
    app.add_middleware(GuardMiddleware, guard=guard)
    app.include_router(
        settings_router(service, chat.clients, data_dir=paths.data, log_file=lambda: log_file)
    )
    app.include_router(shell_router(on_focus))
    app.mount("/assets", StaticFiles(directory=UI_DIR / "assets", check_dir=False), name="assets")

    @app.exception_handler(DesktopError)
    async def _desktop_error(request: Request, exc: DesktopError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(400, "invalid_request", "Invalid request.")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return error_response(exc)

    context_for_store = RequestContext()

    def context_for(request: Request) -> RequestContext:
        base = f"http://{request.headers['host']}"
        return RequestContext(base_url=base, upload_headers={"Authorization": f"Bearer {token}"})

    @app.get("/api/session")
    async def session() -> dict[str, str]:
        # For the ChatKit component's fetch wrapper; only a signed-in page can read it.
        return {"token": token}

    @app.post("/api/page/ready", status_code=204)
    async def page_ready() -> Response:
        chat.start()
        if on_page_ready is not None:
            on_page_ready()
        return Response(status_code=204)

    @app.get("/api/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.post("/chatkit")
    async def chatkit_endpoint(request: Request) -> Response:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_CHATKIT_BODY:
            raise PayloadTooLarge("The request is too large.")
        body = await request.body()
        try:
            server = await chat.server()
        except Exception as exc:
            return error_response(exc)
        from desktop.chat.protocol import parse_request  # loaded with the server, above

        parsed = parse_request(body)
        try:
            from chatkit.server import NonStreamingResult  # loaded with the server, above

            result = await server.handle(parsed, context_for(request))
            if isinstance(result, NonStreamingResult):
                return Response(content=result.json, media_type="application/json")
            # Pull the first event before answering, so a bad reference still gets a 4xx.
            events = aiter(result)
            first = await anext(events, None)
        except Exception as exc:
            return error_response(exc)
        return StreamingResponse(
            _guarded_stream(first, events),
            media_type="text/event-stream",
            headers={"X-Accel-Buffering": "no"},
        )

    @app.get("/api/threads/{thread_id}/feedback")
    @_not_found_is_404
    async def thread_feedback(thread_id: str) -> dict[str, dict[str, str]]:
        # The protocol saves feedback but never returns it; the built-in client shows it again.
        db = await stores.get()
        await db.load_thread(thread_id, context_for_store)
        return {"feedback": await db.load_feedback(thread_id)}

    @app.delete("/api/threads/{thread_id}/feedback/{item_id}", status_code=204)
    @_not_found_is_404
    async def clear_feedback(thread_id: str, item_id: str) -> Response:
        db = await stores.get()
        await db.load_thread(thread_id, context_for_store)
        await db.clear_feedback(thread_id, item_id)
        return Response(status_code=204)

    @app.get("/api/ui-state")
    async def get_ui_state() -> dict[str, object]:
        return await asyncio.to_thread(ui_state.get)

    @app.put("/api/ui-state")
    async def put_ui_state(request: Request) -> dict[str, object]:
        try:
            changes = json.loads(await request.body() or b"{}")
        except (ValueError, RecursionError) as exc:
            raise InvalidRequestError("The request body is not valid JSON.") from exc
        return await asyncio.to_thread(ui_state.update, changes)

    @app.api_route("/api/attachments/{attachment_id}/upload", methods=["PUT", "POST"])
    @_not_found_is_404
    async def upload(attachment_id: str, request: Request) -> Response:
        rules.checked_id(attachment_id)
        files = (await stores.get()).attachments
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > files.max_bytes + 64 * 1024:
            raise PayloadTooLarge(
                f"The file is larger than the {files.max_bytes // (1024 * 1024)} MB limit."
            )
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            form = await request.form(max_files=1, max_fields=10, max_part_size=files.max_bytes + 1)
            file = next((v for v in form.values() if isinstance(v, UploadFile)), None)
            if file is None:
                raise InvalidRequestError("The upload has no file part.")
            attachment = await files.write_attachment_file(attachment_id, _file_chunks(file))
        else:
            attachment = await files.write_attachment_file(attachment_id, request.stream())
        return Response(
            attachment.model_dump_json(exclude_none=True, context={"exclude_metadata": True}),
            media_type="application/json",
        )

    @app.get("/api/attachments/{attachment_id}/content")
    @_not_found_is_404
    async def attachment_content(attachment_id: str) -> Response:
        attachment, path = await (await stores.get()).attachments.attachment_file(attachment_id)
        # Anything that isn't an image or a PDF is shown as plain text, never rendered as a page.
        media = attachment.mime_type
        if media not in rules.IMAGE_TYPES and media != rules.PDF:
            media = "text/plain; charset=utf-8"
        return FileResponse(
            path,
            media_type=media,
            headers={
                "Content-Disposition": f"inline; filename*=UTF-8''{quote(attachment.name)}",
                "Content-Security-Policy": "default-src 'none'; sandbox",
            },
        )

    @app.get("/", response_class=HTMLResponse)
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
        csp = page_csp(allow_chatkit=service.effective().chat_interface != "builtin")
        if not (UI_DIR / "index.html").is_file():
            return HTMLResponse(
                _NOT_BUILT, status_code=503, headers={"Content-Security-Policy": csp}
            )
        return FileResponse(UI_DIR / "index.html", headers={"Content-Security-Policy": csp})

    return app


async def _file_chunks(file: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await file.read(64 * 1024):
        yield chunk
