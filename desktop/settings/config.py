"""Settings: defaults, then the settings file in the data dir, then environment variables."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from desktop import env
from desktop.errors import ConfigError
from desktop.fileio import atomic_write

log = logging.getLogger(__name__)

ApiFlavour = Literal["responses", "chat_completions"]
Provider = Literal["openai", "ollama", "lmstudio", "custom"]
Theme = Literal["system", "light", "dark"]
ChatInterface = Literal["auto", "chatkit", "builtin"]
ToolPolicy = Literal["ask", "allow", "block"]
OPENAI_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-6.1-terra"

# What choosing a provider in Settings fills in. Local servers speak Chat Completions.
PROVIDER_PRESETS: dict[str, tuple[str, ApiFlavour]] = {
    "openai": (OPENAI_BASE_URL, "responses"),
    "ollama": ("http://localhost:11434/v1", "chat_completions"),
    "lmstudio": ("http://localhost:1234/v1", "chat_completions"),
}
# Providers that run on the user's machine and need no key.
KEYLESS_PROVIDERS = ("ollama", "lmstudio")

ENV_API_KEY = env.API_KEY
ENV_BASE_URL = env.BASE_URL
ENV_MODEL = env.MODEL
ENV_API = env.API


def _check_url(value: str) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http:// or https:// URL, such as http://localhost:11434/v1")
    return value.rstrip("/")


class Settings(BaseModel):
    """What the user can set. Stored as JSON; never holds the API key."""

    model_config = ConfigDict(extra="ignore", validate_assignment=True)

    provider: Provider = "openai"
    base_url: str = OPENAI_BASE_URL
    api: ApiFlavour = "responses"
    model: str = DEFAULT_MODEL
    system_prompt: str = "You are a helpful assistant."
    request_timeout_s: float = Field(default=120.0, gt=0, le=3600)
    max_retries: int = Field(default=2, ge=0, le=10)
    # How much history is sent back to the model each turn: the newest items within both limits.
    history_max_items: int = Field(default=60, ge=1, le=1000)
    history_max_chars: int = Field(default=120_000, ge=1000)
    generate_titles: bool = True
    theme: Theme = "system"
    # Auto uses OpenAI's ChatKit component when its script loads, else the built-in client.
    chat_interface: ChatInterface = "auto"
    # Hosts on this computer or the local network that read_web_page may read ("host" or
    # "host:port"); all other private addresses are refused.
    web_allowed_hosts: list[str] = Field(default_factory=list, max_length=50)
    # Per tool ("copy_to_clipboard", "mcp:<server>/<tool>") or server ("mcp:<server>"): whether
    # a call asks first, runs, or is never offered. Unlisted: MCP tools and tools that act ask.
    tool_policies: dict[str, ToolPolicy] = Field(default_factory=dict, max_length=2000)
    # Every tool call that isn't blocked asks first, whatever else is set.
    always_ask_tools: bool = False
    # How many backups (daily, before updates, by hand) are kept in <data dir>/backups.
    backups_keep: int = Field(default=7, ge=1, le=100)
    # ChatKit's web component requires a domain key; any value works on localhost.
    domain_key: str = "domain_pk_localhost_dev"

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_url(value)

    @field_validator("tool_policies")
    @classmethod
    def _tool_keys(cls, value: dict[str, ToolPolicy]) -> dict[str, ToolPolicy]:
        for key in value:
            if not key or len(key) > 200:
                raise ValueError("tool names must be 1 to 200 characters")
        return value

    @field_validator("model")
    @classmethod
    def _model(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be empty")
        return value


def load_settings(path: Path) -> Settings:
    """Read the settings file. A corrupt one is kept aside as a backup and defaults are used."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    except (OSError, UnicodeDecodeError) as exc:
        if isinstance(exc, UnicodeDecodeError):
            raw = "\ufffd"  # unreadable text is a corrupt file: set aside below
        else:
            reason = "it is a folder" if path.is_dir() else (exc.strerror or type(exc).__name__)
            raise ConfigError(
                f"Can't read the settings file {path}: {reason}. Move it aside to start from "
                "defaults."
            ) from exc
    try:
        return Settings.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as exc:
        backup = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        with contextlib.suppress(OSError):
            path.replace(backup)
        log.warning(
            "settings file %s was invalid (%s); kept it as %s and started from defaults",
            path,
            type(exc).__name__,
            backup.name,
        )
        return Settings()


def save_settings(path: Path, settings: Settings) -> None:
    """Write atomically, so a crash mid-write never leaves a half-written settings file."""
    atomic_write(path, settings.model_dump_json(indent=2))


@dataclass(frozen=True)
class ProviderConfig:
    """Everything needed to call the model for one turn. `repr` never shows the key."""

    base_url: str
    api: ApiFlavour
    model: str
    system_prompt: str
    timeout_s: float
    max_retries: int
    history_max_items: int
    history_max_chars: int
    generate_titles: bool
    api_key: str | None = None
    web_allowed_hosts: tuple[str, ...] = ()
    tool_policies: tuple[tuple[str, ToolPolicy], ...] = ()
    always_ask_tools: bool = False
    # The host the user's key (OPENAI_API_KEY or the saved one) is for, when it was not sent
    # here (another host): what a refusal should tell the user to do.
    key_withheld_for: str | None = None

    def __repr__(self) -> str:
        key = "set" if self.api_key else "unset"
        return f"ProviderConfig(base_url={self.base_url!r}, api={self.api!r}, model={self.model!r}, key={key})"

    def key_withheld_message(self) -> str:
        """Why no key went to this host and what to do about it: one wording for Settings' test,
        the models list and a refused reply."""
        host = urlsplit(self.base_url).netloc or self.base_url
        return (
            f"Your API key is for {self.key_withheld_for or 'another host'}, so it was not sent "
            f"to {host}. Enter the key for {host} in Settings, or choose there to use your key "
            "with it."
        )

    @property
    def is_openai(self) -> bool:
        return urlsplit(self.base_url).hostname == "api.openai.com"

    @property
    def runs_hosted_tools(self) -> bool:
        """OpenAI's own tools (web search, code interpreter, images) exist only in its
        Responses API."""
        return self.api == "responses" and self.is_openai


def apply_env(settings: Settings, env: Mapping[str, str]) -> Settings:
    """Environment variables win over the settings file."""
    updates: dict[str, str] = {}
    if env.get(ENV_BASE_URL):
        updates["base_url"] = env[ENV_BASE_URL]
    if env.get(ENV_MODEL):
        updates["model"] = env[ENV_MODEL]
    if env.get(ENV_API):
        updates["api"] = env[ENV_API].strip().lower()
    if not updates:
        return settings
    try:
        return Settings.model_validate({**settings.model_dump(), **updates})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = {"base_url": ENV_BASE_URL, "model": ENV_MODEL, "api": ENV_API}.get(
            str(first["loc"][0]), str(first["loc"][0])
        )
        raise ConfigError(f"{field} is invalid: {first['msg']}") from exc


def provider_config(
    settings: Settings, api_key: str | None, *, key_withheld_for: str | None = None
) -> ProviderConfig:
    return ProviderConfig(
        base_url=settings.base_url,
        api=settings.api,
        model=settings.model,
        system_prompt=settings.system_prompt,
        timeout_s=settings.request_timeout_s,
        max_retries=settings.max_retries,
        history_max_items=settings.history_max_items,
        history_max_chars=settings.history_max_chars,
        generate_titles=settings.generate_titles,
        api_key=api_key or None,
        web_allowed_hosts=tuple(h.strip().lower() for h in settings.web_allowed_hosts if h.strip()),
        tool_policies=tuple(sorted(settings.tool_policies.items())),
        always_ask_tools=settings.always_ask_tools,
        key_withheld_for=key_withheld_for,
    )
