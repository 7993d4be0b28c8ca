"""Settings as a service: the file's, with environment variables on top, and the key."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from desktop.errors import ConfigError
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

_ENV_FIELDS = {ENV_BASE_URL: "base_url", ENV_MODEL: "model", ENV_API: "api"}
_MAX_KEY_CHARS = 512


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

    def reload(self) -> None:
        """Read the settings file again (a restore or an erase replaced it)."""
        with self._lock:
            self._saved = load_settings(self.path)
            self._effective = apply_env(self._saved, self.env)

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
