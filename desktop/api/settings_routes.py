"""Settings as a service (file + env + key store) and the /api routes the Settings page uses."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict

from desktop.api.errors import error_json, parse_body
from desktop.settings.config import ProviderConfig, apply_env, provider_config
from desktop.settings.service import SettingsInvalid, SettingsService

if TYPE_CHECKING:
    from desktop.chat.models import ModelCatalog

log = logging.getLogger(__name__)


class SettingsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    settings: dict[str, Any] = {}
    api_key: str | None = None
    clear_api_key: bool = False
    # Send the key Settings shows (the saved one, or OPENAI_API_KEY) to the (new) base URL too:
    # the user's explicit choice, since a key otherwise goes only to the host it is for.
    use_saved_key: bool = False


def settings_router(
    service: SettingsService,
    models: Callable[[], Awaitable[ModelCatalog]],
    *,
    data_dir: Path,
    log_file: Callable[[], Path | None],
    today: Callable[[], date] = date.today,
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
        # Testing another URL doesn't take the user's key there: only the key for that address
        # goes, or, with use_saved_key, the key Settings shows. That flag is the user's explicit
        # choice (the "Use my saved key with <host>" box, ticked before testing), as on save; it
        # gives a page script nothing that PUT /api/settings with it wouldn't.
        key = typed or service.key_for(candidate.base_url, use_saved_key=update.use_saved_key)
        withheld = None if key else service.withheld_for(candidate.base_url)
        cfg = provider_config(candidate, key, key_withheld_for=withheld)
        result = await _probe(await models(), cfg, today())
        if not result["ok"] and cfg.key_withheld_for:
            result["message"] += " " + cfg.key_withheld_message()
        return result

    @router.get("/api/models")
    async def list_models() -> Response:
        cfg = service.provider_config()
        result = await _probe(await models(), cfg, today())
        if not result["ok"] and cfg.key_withheld_for:
            result["message"] += " " + cfg.key_withheld_message()
        if not result["ok"]:
            return error_json(502, "provider_error", result["message"])
        return JSONResponse({"models": result["models"], "retiring": result["retiring"]})

    return router


def _invalid(exc: SettingsInvalid) -> JSONResponse:
    return error_json(400, exc.code, exc.message, exc.fields)


async def _probe(models: ModelCatalog, cfg: ProviderConfig, today: date) -> dict[str, Any]:
    """Test connection: list the provider's models, now (not from the composer's cache)."""
    found = await models.fetch(cfg, timeout_s=15)
    if not found.listed:
        return {"ok": False, "message": found.message, "models": [], "retiring": {}}
    host = urlsplit(cfg.base_url).netloc
    names = list(found.models)
    note = "" if cfg.model in names else f" The model '{cfg.model}' is not among them."
    return {
        "ok": True,
        "message": f"Connected to {host}: {len(names)} models available.{note}",
        "models": names,
        # Each model's shutdown, as GET /api/composer has it.
        "retiring": found.retirements_view(today, [cfg.model]),
    }
