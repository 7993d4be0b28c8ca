"""Settings as a service (file + env + key store) and the /api routes the Settings page uses."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict

from desktop.api.errors import error_json, parse_body
from desktop.settings.config import (
    ENV_API,
    ENV_BASE_URL,
    ENV_MODEL,
    ProviderConfig,
    apply_env,
    provider_config,
)
from desktop.settings.service import SettingsInvalid, SettingsService

if TYPE_CHECKING:
    from desktop.chat.models import ModelCatalog

log = logging.getLogger(__name__)

_ENV_FIELDS = {ENV_BASE_URL: "base_url", ENV_MODEL: "model", ENV_API: "api"}
_MAX_KEY_CHARS = 512


class SettingsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    settings: dict[str, Any] = {}
    api_key: str | None = None
    clear_api_key: bool = False
    # Send the saved key to the (new) base URL too: the user's explicit choice, since a saved
    # key otherwise goes only to the host it was saved for.
    use_saved_key: bool = False


def settings_router(
    service: SettingsService,
    models: Callable[[], Awaitable[ModelCatalog]],
    *,
    data_dir: Path,
    log_file: Callable[[], Path | None],
) -> APIRouter:
    router = APIRouter()

    def view() -> dict[str, Any]:
        return service.view(log_file=log_file(), data_dir=data_dir)

    @router.get("/api/settings")
    async def get_settings() -> dict[str, Any]:
        return view()

    @router.put("/api/settings")
    async def put_settings(request: Request) -> Response:
        update = parse_body(SettingsUpdate, await request.body())
        try:
            service.save(
                update.settings,
                api_key=update.api_key,
                clear_key=update.clear_api_key,
                use_saved_key=update.use_saved_key,
            )
        except SettingsInvalid as exc:
            return _invalid(exc)
        return JSONResponse(view())

    @router.post("/api/settings/test")
    async def test_connection(request: Request) -> dict[str, Any]:
        update = parse_body(SettingsUpdate, await request.body() or b"{}")
        try:
            candidate = service.candidate(update.settings)
        except SettingsInvalid as exc:
            return {"ok": False, "message": exc.message, "fields": exc.fields}
        candidate = apply_env(candidate, service.env)
        typed = (update.api_key or "").strip()
        # The saved key goes only to the address it was saved for: whatever script runs in the
        # page must not be able to send it anywhere else by testing another URL.
        key = typed or service.key_for(candidate.base_url, use_saved_key=update.use_saved_key)
        result = await _probe(await models(), provider_config(candidate, key))
        saved_for = service.saved_key_host()
        if not result["ok"] and not key and saved_for:
            result["message"] += " " + _saved_key_hint(saved_for, candidate.base_url)
        return result

    @router.get("/api/models")
    async def list_models() -> Response:
        cfg = service.provider_config()
        result = await _probe(await models(), cfg)
        if not result["ok"] and cfg.key_withheld_for:
            result["message"] += " " + _saved_key_hint(cfg.key_withheld_for, cfg.base_url)
        if not result["ok"]:
            return error_json(502, "provider_error", result["message"])
        return JSONResponse({"models": result["models"]})

    return router


def _saved_key_hint(saved_for: str, base_url: str) -> str:
    host = urlsplit(base_url).netloc
    return (
        f"The saved API key is for {saved_for}, so it was not sent to {host}: enter the key "
        f"for {host} in Settings, or choose to use the saved key with it."
    )


def _invalid(exc: SettingsInvalid) -> JSONResponse:
    return error_json(400, exc.code, exc.message, exc.fields)


async def _probe(models: ModelCatalog, cfg: ProviderConfig) -> dict[str, Any]:
    """Test connection: list the provider's models, now (not from the composer's cache)."""
    found = await models.fetch(cfg, timeout_s=15)
    if not found.listed:
        return {"ok": False, "message": found.message, "models": []}
    host = urlsplit(cfg.base_url).netloc
    names = list(found.models)
    note = "" if cfg.model in names else f" The model '{cfg.model}' is not among them."
    return {
        "ok": True,
        "message": f"Connected to {host}: {len(names)} models available.{note}",
        "models": names,
    }
