"""The provider's models, listed once a minute at most: the composer offers them, and a model a
message asks for is checked against them before anything is saved."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx2
import openai

from desktop.chat.provider import ProviderClients, translate
from desktop.errors import InvalidRequestError, ProviderError
from desktop.settings.config import ProviderConfig

CACHE_S = 60.0
_LIST_TIMEOUT_S = 10.0
# The answer is read by us, not by the SDK, so that any body (a web page at a wrong base URL,
# JSON of another shape, an endless stream) ends as "can't list models", never as an error.
# OpenRouter's list, the largest known, is a few MB.
MAX_LIST_BYTES = 16 * 1024 * 1024
MAX_MODELS = 5000
MAX_NAME_CHARS = 200


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
            async with client.models.with_streaming_response.list() as response:
                body = await _read_capped(response.iter_bytes(), MAX_LIST_BYTES)
        except ProviderError as exc:
            return ModelList((cfg.model,), listed=False, message=exc.message)
        except openai.NotFoundError:
            return ModelList(
                (cfg.model,),
                listed=False,
                message=f"{host} has no models list at {cfg.base_url}/models (404). Check the base URL.",
            )
        except (openai.OpenAIError, httpx2.HTTPError, ValueError) as exc:
            error = translate(exc, cfg, streamed=False)
            message = error.message if error else f"{host} failed: {type(exc).__name__}."
            return ModelList((cfg.model,), listed=False, message=message)
        if body is None:
            return ModelList(
                (cfg.model,),
                listed=False,
                message=f"{host}'s models list is larger than {MAX_LIST_BYTES // 2**20} MB.",
            )
        # A list of megabytes takes a while to parse: off the event loop, so chats go on.
        names = (
            await asyncio.to_thread(model_names, body) if len(body) > 2**20 else model_names(body)
        )
        if names is None:
            return ModelList(
                (cfg.model,),
                listed=False,
                message=f"{host} answered {cfg.base_url}/models with something that isn't a "
                "models list. Check the base URL.",
            )
        if not names:
            return ModelList((cfg.model,), listed=False, message=f"{host} listed no models.")
        return ModelList(names, listed=True)

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
        if len(model) > MAX_NAME_CHARS or not model.strip():
            raise InvalidRequestError("That model name isn't valid.")
        found = await self.list(cfg)
        if found.listed and model not in found.models:
            host = urlsplit(cfg.base_url).netloc or cfg.base_url
            raise InvalidRequestError(
                f"The model '{model[:80]}' isn't offered by {host}. Pick one of its models in "
                "the composer."
            )


async def _read_capped(chunks: AsyncIterator[bytes], limit: int) -> bytes | None:
    """The whole body, or None once it passes `limit` (counted after decompression)."""
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def model_names(body: bytes) -> tuple[str, ...] | None:
    """The ids of an OpenAI-style list (`{"data": [{"id": ...}, ...]}`), sorted; None when the
    body isn't one. Entries without a usable id are left out rather than failing the list."""
    try:
        answer = json.loads(body)
    except (ValueError, RecursionError):
        return None
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, list):
        return None
    names = {
        item["id"]
        for item in data
        if isinstance(item, dict) and isinstance(item.get("id"), str) and _usable(item["id"])
    }
    return tuple(sorted(names)[:MAX_MODELS])


def _usable(name: str) -> bool:
    # `check` refuses longer names, and control characters would only garble the picker.
    return 0 < len(name) <= MAX_NAME_CHARS and name.strip() == name and name.isprintable()
