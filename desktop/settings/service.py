"""Settings as a service: the file's, with environment variables on top, and the key."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from desktop.attachment_rules import page_limits
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
from desktop.settings.keys import KeySource, KeyStore, display_host, origin_of, web_origin

log = logging.getLogger(__name__)

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


def _checked_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > _MAX_KEY_CHARS or any(c.isspace() for c in key):
        raise SettingsInvalid({"api_key": "doesn't look like an API key"})
    return key


class SettingsService:
    """The settings in force: the file's, with environment variables on top, and the key."""

    def __init__(self, settings_path: Path, env: Mapping[str, str], keys: KeyStore) -> None:
        self.path = settings_path
        self.env = env
        self.keys = keys
        self._lock = threading.Lock()
        self._saved = load_settings(settings_path)
        self._effective = apply_env(self._saved, env)
        # OPENAI_API_KEY goes to the origin in force at launch (OPENAI_BASE_URL's when that is
        # set, which no saved setting overrides), and to hosts the user opts in to this run; a
        # saved or restored base_url elsewhere doesn't take it along.
        self._env_key_home = origin_of(self._effective.base_url)
        self._env_key_origins = {self._env_key_home}

    def effective(self) -> Settings:
        return self._effective

    def reload(self) -> None:
        """Read the settings file again (a restore or an erase replaced it)."""
        with self._lock:
            self._saved = load_settings(self.path)
            self._effective = apply_env(self._saved, self.env)

    def key(self) -> str | None:
        """The key for the base URL in force (see `key_for`)."""
        return self.key_for(self._effective.base_url)

    def key_for(self, base_url: str, *, use_saved_key: bool = False) -> str | None:
        """The key that may be sent to `base_url`: the user's key for its origin, or, with
        `use_saved_key` (the user's explicit choice), the key Settings shows, wherever it is for."""
        key, _, origin = self._shown_key(base_url)
        if key and (use_saved_key or origin == origin_of(base_url)):
            return key
        return None

    def withheld_for(self, base_url: str | None = None) -> str | None:
        """The host the user's key is for, when it is not sent to `base_url` (by default the
        one in force) because that is another host."""
        url = base_url or self._effective.base_url
        key, _, origin = self._shown_key(url)
        if key and origin and origin != origin_of(url):
            return display_host(origin)
        return None

    def _shown_key(self, base_url: str) -> tuple[str | None, KeySource, str | None]:
        """(key, where it comes from, the origin it is for) of the key Settings shows for
        `base_url`: the one for its origin (OPENAI_API_KEY first), else OPENAI_API_KEY, else
        the saved key."""
        here = origin_of(base_url)
        env_key = self.env.get(ENV_API_KEY)
        if env_key and here in self._env_key_origins:
            return env_key, "env", here  # the key store isn't read: nothing there is needed
        saved, saved_for = self._saved_key()
        if saved and saved_for == here:
            return saved, self.keys.backend, saved_for
        if env_key:
            return env_key, "env", self._env_key_home
        if saved:
            return saved, self.keys.backend, saved_for
        return None, "none", None

    def _saved_key(self) -> tuple[str | None, str | None]:
        key, origin = self.keys.record()
        if key and origin is None:
            # Saved before keys were bound: it has been going to the base URL the user saved,
            # so that is the host the user chose for it (not an OPENAI_BASE_URL of this launch).
            origin = origin_of(self._saved.base_url)
            try:
                self.keys.bind(origin)
            except Exception as exc:  # a keychain that won't write: bound for this run only
                log.warning("binding the saved key failed (%s)", type(exc).__name__)
        return key, origin

    def provider_config(self) -> ProviderConfig:
        return provider_config(self._effective, self.key(), key_withheld_for=self.withheld_for())

    def candidate(self, changes: Mapping[str, Any]) -> Settings:
        """Saved settings with `changes` applied, validated, without saving them."""
        unknown = set(changes) - set(Settings.model_fields)
        if unknown:
            raise SettingsInvalid({name: "is not a setting" for name in sorted(unknown)})
        try:
            return Settings.model_validate({**self._saved.model_dump(), **changes})
        except ValidationError as exc:
            raise SettingsInvalid(_field_errors(exc)) from exc

    def set_key(self, key: None) -> None:
        """Forget the saved key, and the hosts OPENAI_API_KEY was allowed to this run (an erase
        of all data). A key is saved by `save`, which binds it to its address."""
        with self._lock:
            self.keys.clear()
            self._env_key_origins = {self._env_key_home}

    def save(
        self,
        changes: Mapping[str, Any],
        *,
        api_key: str | None = None,
        clear_key: bool = False,
        use_saved_key: bool = False,
    ) -> None:
        """Settings and the key together: a typed key (or, with `use_saved_key`, the key Settings
        shows) is for the base URL these settings put in force. Nothing changes if any is wrong."""
        self._saved_key()  # an unbound key belongs to the address saved before this change
        with self._lock:
            updated = self.candidate(changes) if changes else self._saved
            target = apply_env(updated, self.env).base_url
            typed = _checked_key(api_key) if api_key is not None else None
            shown, source, _ = self._shown_key(target)
            if use_saved_key and typed is None and not shown:
                raise SettingsInvalid({"use_saved_key": "there is no saved key to use"})
            if typed is not None:
                self.keys.set(typed, target)
            elif clear_key:
                self.keys.clear()
            elif use_saved_key and source == "env":
                # OPENAI_API_KEY can't be rebound for good: the user's choice holds this run.
                self._env_key_origins.add(origin_of(target))
            elif use_saved_key:
                self.keys.bind(target)
            if changes:
                save_settings(self.path, updated)
                self._saved = updated
                self._effective = apply_env(updated, self.env)

    def needs_onboarding(self) -> bool:
        s = self._effective
        if self.key() or s.provider in KEYLESS_PROVIDERS:
            return False
        return urlsplit(s.base_url).hostname == "api.openai.com"

    def view(self, *, log_file: Path | None, data_dir: Path) -> dict[str, Any]:
        """What the page may see. The key itself never leaves the process: only its last 4."""
        here = self._effective.base_url
        key, source, origin = self._shown_key(here)
        withheld = self.withheld_for()
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
                # The host the key is sent to (and its origin, as a page's URL spells it, so the
                # page can offer to use it elsewhere), and the host it is not sent to until the
                # user types that host's key or chooses to use this one there.
                "for_host": display_host(origin) if origin else None,
                "for_origin": web_origin(origin) if origin else None,
                "needs_key_for": display_host(origin_of(here)) if withheld else None,
            },
            "needs_onboarding": self.needs_onboarding(),
            "presets": {
                name: {"base_url": url, "api": api} for name, (url, api) in PROVIDER_PRESETS.items()
            },
            "attachments": page_limits(),
            "log_file": str(log_file) if log_file else None,
            "data_dir": str(data_dir),
        }
