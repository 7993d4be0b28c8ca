"""The HTTP app: one factory, `create_app`. Nothing happens at import time."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from desktop import __version__
from desktop import env as env_names
from desktop.api.assistant_routes import assistant_router
from desktop.api.attachment_routes import attachment_router
from desktop.api.chatkit_routes import chatkit_router
from desktop.api.data_routes import DataOperations, data_router
from desktop.api.engine import ChatEngine, StoreHandle
from desktop.api.entity_routes import entity_router
from desktop.api.errors import error_json, error_response
from desktop.api.first_stage import Front
from desktop.api.mcp_routes import mcp_router
from desktop.api.page import PageEndpoints
from desktop.api.quitting import QuitMiddleware, Quitting
from desktop.api.security import GuardMiddleware, SignInCodes, page_csp
from desktop.api.settings_routes import settings_router
from desktop.api.shell_routes import page_router, shell_router
from desktop.context import RequestContext
from desktop.errors import DesktopError
from desktop.file_manager import open_folder as system_open_folder
from desktop.mcp.hub import McpHub
from desktop.paths import Paths, resolve_paths, ui_dir
from desktop.profile import Profile
from desktop.settings.service import SettingsService
from desktop.settings.ui_state import UiState

if TYPE_CHECKING:
    from desktop.store.chat_store import SQLiteStore

log = logging.getLogger(__name__)
# What create_app returns, for modules outside the HTTP layer that only pass it along.
App = FastAPI
P = ParamSpec("P")
R = TypeVar("R")

UI_DIR = ui_dir()


@dataclass
class AppState:
    paths: Paths
    stores: StoreHandle
    chat: ChatEngine
    token: str
    settings: SettingsService
    sign_in_codes: SignInCodes
    # The server calls its `begin` when it starts to stop (see serving.make_server).
    quitting: Quitting

    @property
    def store(self) -> SQLiteStore:
        return self.stores.value


async def _start_mcp(chat: ChatEngine, mcp: McpHub) -> None:
    try:
        await chat.server()
    except Exception:
        return  # the chat reports why it can't start; tools without it are of no use
    await mcp.start()
    await mcp.watch()


def create_app(
    *,
    token: str,
    profile: Profile | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    store: SQLiteStore | None = None,
    log_file: Path | None = None,
    on_focus: Callable[[], bool] | None = None,
    on_page_ready: Callable[[], None] | None = None,
    warm_up_delay_s: float = 0.0,
    first_backup_after_s: float = 600.0,
    open_folder: Callable[[Path], None] = system_open_folder,
    today: Callable[[], date] = date.today,
    front: Front | None = None,
) -> FastAPI:
    """Build the app on `profile` (or on a profile opened from `data_dir` and `env`). `port` is
    the one it will be served on (checked against Host headers).

    `on_focus` brings the window to the front when a second launch asks for it; `on_page_ready`
    hears when the page is usable (the launch reports how long that took). `warm_up_delay_s`
    holds back building the chat store and engine (over a second of imports) so that they don't
    compete with the first page; whatever needs them first, or the page being up, starts them.
    The daily backup is first looked at `first_backup_after_s` after start-up. `open_folder`
    shows a folder in the system's file manager. `today` is the date models' shutdowns are
    judged by (tests move it). `front` is what the launch's first stage already serves with
    (its sign-in, quitting and history cursors); by default the app makes its own.
    """
    if profile is None:
        environ = os.environ if env is None else env
        chosen = data_dir or environ.get(env_names.DATA_DIR)
        profile = Profile.open(resolve_paths(chosen) if chosen else None, env=environ)
    paths, service = profile.paths, profile.settings
    front = front or Front.new(token, port)
    stores = StoreHandle(paths.db, paths.attachments, store, front.cursors)

    def keys_backend() -> str:
        return service.keys.backend

    mcp = McpHub(paths.mcp_config, paths.logs / "mcp")
    quitting = front.quitting

    def move_default(old: str, new: str) -> bool:
        """Settings' default model moves off one that shut down. A model the environment names
        isn't the file's to change: the chat moves alone, and says so."""
        if service.env.get(env_names.MODEL) or service.effective().model != old:
            return False
        try:
            service.save({"model": new})
        except (DesktopError, OSError):
            return False  # the chat still moves; the next turn tries again
        log.info("default model moved from %s to %s (shut down)", old, new)
        return True

    chat = ChatEngine(
        stores, service.provider_config, mcp, quitting, move_default=move_default, today=today
    )
    codes = front.codes
    ui_state = UiState(paths.ui_state)
    guard = front.guard
    data_ops = DataOperations(stores, paths.data, service, mcp, ui_state)
    state = AppState(
        paths=paths,
        stores=stores,
        chat=chat,
        token=token,
        settings=service,
        sign_in_codes=codes,
        quitting=quitting,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if warm_up_delay_s > 0:
            later = asyncio.get_running_loop().call_later(warm_up_delay_s, chat.start)
        else:
            chat.start()
        # Ask the key store now (keychain probing takes a moment): the first page needs it.
        warm_key = asyncio.create_task(asyncio.to_thread(lambda: (service.key(), keys_backend())))
        # MCP servers start once the chat engine is up, so they never hold back the window.
        servers = asyncio.create_task(_start_mcp(chat, mcp))
        await asyncio.to_thread(data_ops.remove_leftovers)
        backups = asyncio.create_task(data_ops.daily_backups(first_backup_after_s))
        try:
            yield
        finally:
            if warm_up_delay_s > 0:
                later.cancel()
            warm_key.cancel()
            servers.cancel()
            backups.cancel()
            await data_ops.imports.aclose()
            await mcp.aclose()
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
    app.add_middleware(QuitMiddleware, quitting=quitting)
    app.add_middleware(GuardMiddleware, guard=guard)
    app.include_router(
        settings_router(
            service, chat.models, data_dir=paths.data, log_file=lambda: log_file, today=today
        )
    )
    app.include_router(shell_router(on_focus))
    app.mount("/assets", StaticFiles(directory=UI_DIR / "assets", check_dir=False), name="assets")

    @app.exception_handler(DesktopError)
    async def _desktop_error(request: Request, exc: DesktopError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_json(400, "invalid_request", "Invalid request.")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_json(exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return error_response(exc)

    def context_for(request: Request) -> RequestContext:
        base = f"http://{request.headers['host']}"
        return RequestContext(base_url=base, upload_headers={"Authorization": f"Bearer {token}"})

    app.include_router(chatkit_router(chat, stores, context_for))
    app.include_router(attachment_router(stores))
    app.include_router(assistant_router(stores, chat.models, service.provider_config, today))
    app.include_router(entity_router(stores, mcp))
    app.include_router(mcp_router(mcp))
    app.include_router(data_router(data_ops, open_folder))

    def page_ready() -> None:
        chat.start()
        if on_page_ready is not None:
            on_page_ready()

    app.include_router(
        page_router(
            PageEndpoints(
                token=token,
                guard=guard,
                codes=codes,
                ui_state=ui_state,
                csp=lambda: page_csp(allow_chatkit=service.effective().chat_interface != "builtin"),
                on_ready=page_ready,
            )
        )
    )
    return app
