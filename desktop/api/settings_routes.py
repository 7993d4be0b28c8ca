"""Settings as a service (file + env + key store) and the /api routes the Settings page uses."""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, ValidationError

from desktop.api.errors import error_json
from desktop.errors import ConfigError, InvalidRequestError, ProviderError
from desktop.settings.config import (
    ENV_API,
    ENV_API_KEY,
    ENV_BASE_URL,
    ENV_MODEL,
    KEYLESS_PROVIDERS,
    PROVIDER_PRESETS,
    ProviderConfig,
    Settings,
    apply_env,
    load_settings,
    provider_config,
    save_settings,
)
from desktop.settings.keys import KeyStore, lookup_key
from desktop.store.attachment_rules import page_limits

if TYPE_CHECKING:
    from desktop.chat.provider import ProviderClients

log = logging.getLogger(__name__)
page_log = logging.getLogger("desktop.page")

_ENV_FIELDS = {ENV_BASE_URL: "base_url", ENV_MODEL: "model", ENV_API: "api"}
_MAX_KEY_CHARS = 512
# Line breaks and other controls in a page's log message would forge log lines.
_LOG_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)} | {
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


class SettingsInvalid(ConfigError):
    def __init__(self, fields: dict[str, str]) -> None:
        first = next(iter(fields.items()))
        super().__init__(f"{first[0]}: {first[1]}")
        self.fields = fields


def _field_errors(exc: ValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "settings"
        message = str(error["msg"]).removeprefix("Value error, ")
        fields.setdefault(name, message)
    return fields


class SettingsService:
    """The settings in force: the file's, with environment variables on top, and the key."""

    def __init__(self, settings_path: Path, env: Mapping[str, str], keys: KeyStore) -> None:
        self.path = settings_path
        self.env = env
        self.keys = keys
        self._lock = threading.Lock()
        self._saved = load_settings(settings_path)
        self._effective = apply_env(self._saved, env)

    def effective(self) -> Settings:
        return self._effective

    def key(self) -> str | None:
        return lookup_key(self.env, self.keys)[0]

    def provider_config(self) -> ProviderConfig:
        return provider_config(self._effective, self.key())

    def candidate(self, changes: Mapping[str, Any]) -> Settings:
        """Saved settings with `changes` applied, validated, without saving them."""
        unknown = set(changes) - set(Settings.model_fields)
        if unknown:
            raise SettingsInvalid({name: "is not a setting" for name in sorted(unknown)})
        try:
            return Settings.model_validate({**self._saved.model_dump(), **changes})
        except ValidationError as exc:
            raise SettingsInvalid(_field_errors(exc)) from exc

    def update(self, changes: Mapping[str, Any]) -> None:
        with self._lock:
            updated = self.candidate(changes)
            save_settings(self.path, updated)
            self._saved = updated
            self._effective = apply_env(updated, self.env)

    def set_key(self, key: str | None) -> None:
        if key is None:
            self.keys.clear()
            return
        key = key.strip()
        if not key or len(key) > _MAX_KEY_CHARS or any(c.isspace() for c in key):
            raise SettingsInvalid({"api_key": "doesn't look like an API key"})
        self.keys.set(key)

    def needs_onboarding(self) -> bool:
        s = self._effective
        if self.key() or s.provider in KEYLESS_PROVIDERS:
            return False
        return urlsplit(s.base_url).hostname == "api.openai.com"

    def view(self, *, log_file: Path | None, data_dir: Path) -> dict[str, Any]:
        """What the page may see. The key itself never leaves the process: only its last 4."""
        key, source = lookup_key(self.env, self.keys)
        return {
            "settings": self._effective.model_dump(),
            "saved": self._saved.model_dump(),
            "overridden_by_env": sorted(f for env, f in _ENV_FIELDS.items() if self.env.get(env)),
            "api_key": {
                "set": key is not None,
                "last4": key[-4:] if key and len(key) >= 8 else None,
                "source": source,
                "storage": self.keys.backend,
                "from_env": ENV_API_KEY if source == "env" else None,
            },
            "needs_onboarding": self.needs_onboarding(),
            "presets": {
                name: {"base_url": url, "api": api} for name, (url, api) in PROVIDER_PRESETS.items()
            },
            "attachments": page_limits(),
            "log_file": str(log_file) if log_file else None,
            "data_dir": str(data_dir),
        }


class SettingsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    settings: dict[str, Any] = {}
    api_key: str | None = None
    clear_api_key: bool = False


class PageLog(BaseModel):
    level: str = "error"
    message: str
    source: str = "page"


def settings_router(
    service: SettingsService,
    clients: Callable[[], Awaitable[ProviderClients]],
    *,
    data_dir: Path,
    log_file: Callable[[], Path | None],
    on_focus: Callable[[], bool] | None,
) -> APIRouter:
    router = APIRouter()

    def view() -> dict[str, Any]:
        return service.view(log_file=log_file(), data_dir=data_dir)

    @router.get("/api/settings")
    async def get_settings() -> dict[str, Any]:
        return view()

    @router.put("/api/settings")
    async def put_settings(request: Request) -> Response:
        update = _parse(SettingsUpdate, await request.body())
        try:
            if update.settings:
                service.candidate(update.settings)  # validate everything before changing anything
            if update.api_key is not None:
                service.set_key(update.api_key)
            elif update.clear_api_key:
                service.set_key(None)
            if update.settings:
                service.update(update.settings)
        except SettingsInvalid as exc:
            return _invalid(exc)
        return JSONResponse(view())

    @router.post("/api/settings/test")
    async def test_connection(request: Request) -> dict[str, Any]:
        update = _parse(SettingsUpdate, await request.body() or b"{}")
        try:
            candidate = service.candidate(update.settings)
        except SettingsInvalid as exc:
            return {"ok": False, "message": exc.message, "fields": exc.fields}
        candidate = apply_env(candidate, service.env)
        typed = (update.api_key or "").strip()
        saved = service.key()
        # The saved key goes only to the saved address: whatever script runs in the page must
        # not be able to send it anywhere else by testing another URL.
        same_place = candidate.base_url == service.effective().base_url
        cfg = provider_config(candidate, typed or (saved if same_place else None))
        result = await _probe(await clients(), cfg)
        if not result["ok"] and saved and not typed and not same_place:
            result["message"] += (
                " The saved key is only sent to the saved address: save this address first, "
                "or enter the key here to test it."
            )
        return result

    @router.get("/api/models")
    async def models() -> Response:
        result = await _probe(await clients(), service.provider_config())
        if not result["ok"]:
            return error_json(502, "provider_error", result["message"])
        return JSONResponse({"models": result["models"]})

    @router.post("/api/log", status_code=204)
    async def page_log_entry(request: Request) -> Response:
        entry = _parse(PageLog, await request.body())
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


def _parse(model: type[Any], body: bytes) -> Any:
    try:
        return model.model_validate_json(body or b"{}")
    except ValidationError as exc:
        raise InvalidRequestError(
            "Invalid request: "
            + "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
                for e in exc.errors()[:3]
            )
        ) from exc


def _invalid(exc: SettingsInvalid) -> JSONResponse:
    return error_json(400, exc.code, exc.message, exc.fields)


async def _probe(clients: ProviderClients, cfg: ProviderConfig) -> dict[str, Any]:
    """List the provider's models: the cheapest call that proves the URL and the key work."""
    import openai

    from desktop.chat.provider import translate

    host = urlsplit(cfg.base_url).netloc
    try:
        client = clients.client(cfg).with_options(timeout=min(cfg.timeout_s, 15), max_retries=0)
        page = await client.models.list()
        names = sorted(m.id for m in page.data)
    except ProviderError as exc:
        return {"ok": False, "message": exc.message, "models": []}
    except openai.NotFoundError:
        return {
            "ok": False,
            "models": [],
            "message": f"{host} has no models list at {cfg.base_url}/models (404). Check the base URL.",
        }
    except (openai.OpenAIError, ValueError) as exc:
        error = translate(exc, cfg, streamed=False)
        return {
            "ok": False,
            "message": error.message if error else f"{host} failed: {type(exc).__name__}.",
            "models": [],
        }
    note = "" if not names or cfg.model in names else f" The model '{cfg.model}' is not among them."
    return {
        "ok": True,
        "message": f"Connected to {host}: {len(names)} models available.{note}",
        "models": names,
    }
