"""The provider's models, listed once a minute at most: the composer offers them, and a model a
message asks for is checked against them before anything is saved."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import openai

from desktop.chat.provider import ProviderClients, translate
from desktop.errors import InvalidRequestError, ProviderError
from desktop.settings.config import ProviderConfig

CACHE_S = 60.0
_LIST_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class ModelList:
    models: tuple[str, ...]
    # False when the provider couldn't be asked; `models` is then just the configured default.
    listed: bool
    message: str = ""


class ModelCatalog:
    def __init__(self, clients: ProviderClients) -> None:
        self._clients = clients
        self._cache: dict[str, tuple[float, ModelList]] = {}

    @staticmethod
    def _key(cfg: ProviderConfig) -> str:
        # Keyed by a digest: the key itself is never held anywhere but the client.
        return hashlib.sha256(f"{cfg.base_url}\0{cfg.api_key or ''}".encode()).hexdigest()

    async def fetch(self, cfg: ProviderConfig, *, timeout_s: float = _LIST_TIMEOUT_S) -> ModelList:
        """Ask the provider now: the cheapest call that proves the URL and the key work."""
        host = urlsplit(cfg.base_url).netloc or cfg.base_url
        try:
            client = self._clients.client(cfg).with_options(
                timeout=min(cfg.timeout_s, timeout_s), max_retries=0
            )
            page = await client.models.list()
            names = sorted({m.id for m in page.data})
        except ProviderError as exc:
            return ModelList((cfg.model,), listed=False, message=exc.message)
        except openai.NotFoundError:
            return ModelList(
                (cfg.model,),
                listed=False,
                message=f"{host} has no models list at {cfg.base_url}/models (404). Check the base URL.",
            )
        except (openai.OpenAIError, ValueError) as exc:
            error = translate(exc, cfg, streamed=False)
            message = error.message if error else f"{host} failed: {type(exc).__name__}."
            return ModelList((cfg.model,), listed=False, message=message)
        if not names:
            return ModelList((cfg.model,), listed=False, message=f"{host} listed no models.")
        return ModelList(tuple(names), listed=True)

    async def list(self, cfg: ProviderConfig) -> ModelList:
        """`fetch`, remembered for a minute when it worked."""
        key = self._key(cfg)
        cached = self._cache.get(key)
        if cached and time.monotonic() - cached[0] < CACHE_S:
            return cached[1]
        found = await self.fetch(cfg)
        if found.listed:
            self._cache[key] = (time.monotonic(), found)
        return found

    async def check(self, cfg: ProviderConfig, model: str) -> None:
        """Refuse a model the provider doesn't offer. When the list can't be had, the provider
        itself will say (a 404 becomes a clear message)."""
        if model == cfg.model:
            return
        if len(model) > 200 or not model.strip():
            raise InvalidRequestError("That model name isn't valid.")
        found = await self.list(cfg)
        if found.listed and model not in found.models:
            host = urlsplit(cfg.base_url).netloc or cfg.base_url
            raise InvalidRequestError(
                f"The model '{model[:80]}' isn't offered by {host}. Pick one of its models in "
                "the composer."
            )
