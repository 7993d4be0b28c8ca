"""The provider's models, listed once a minute at most: the composer offers them, and a model a
message asks for is checked against them before anything is saved."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlsplit

import httpx2
import openai

from desktop.chat.provider import ProviderClients, translate
from desktop.chat.retirements import KNOWN, Retirement, parse_date, retirement
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
    # The provider's own `shutdown_date` for the models that carry one (OpenAI's list does).
    shutdowns: Mapping[str, date] = field(default_factory=dict)

    def retirement(self, model: str, today: date) -> Retirement | None:
        """The model's shutdown: the provider's date when it gave one, else the table's."""
        return retirement(model, today, self.shutdowns.get(model))

    def retirements_view(self, today: date, also: Iterable[str] = ()) -> dict[str, object]:
        """What the pickers show beside a model that shuts down: every listed model with a
        date, the table's models (Settings and assistants can name any) and `also`."""
        names = dict.fromkeys([*self.models, *KNOWN, *also])
        found = {name: self.retirement(name, today) for name in names if name}
        return {name: r.view() for name, r in found.items() if r is not None}

    def offers(self, model: str) -> bool:
        """Whether `model` is known to be usable: always, when the list couldn't be read."""
        return not self.listed or model in self.models


class ModelCatalog:
    def __init__(self, clients: ProviderClients) -> None:
        self._clients = clients
        self._cache: dict[str, tuple[float, ModelList]] = {}
        # When a turn last found the list unreadable: turns don't each wait on a failing list.
        self._failed: dict[str, tuple[float, ModelList]] = {}
        self._refreshing: dict[str, asyncio.Task[ModelList]] = {}

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
        entries = (
            await asyncio.to_thread(model_entries, body)
            if len(body) > 2**20
            else model_entries(body)
        )
        if entries is None:
            return ModelList(
                (cfg.model,),
                listed=False,
                message=f"{host} answered {cfg.base_url}/models with something that isn't a "
                "models list. Check the base URL.",
            )
        if not entries:
            return ModelList((cfg.model,), listed=False, message=f"{host} listed no models.")
        shutdowns = {name: day for name, day in entries.items() if day is not None}
        return ModelList(tuple(entries), listed=True, shutdowns=shutdowns)

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

    async def for_turn(self, cfg: ProviderConfig) -> ModelList:
        """The list a turn picks its model from, without making the turn wait when it can be
        helped: a stale list is used while a fresh one is fetched beside it, and a list that
        couldn't be read is not asked for again within the minute."""
        key = self._key(cfg)
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached and now - cached[0] >= CACHE_S and key not in self._refreshing:
            task = asyncio.create_task(self.list(cfg))
            self._refreshing[key] = task
            task.add_done_callback(lambda _: self._refreshing.pop(key, None))
        if cached:
            return cached[1]
        failed = self._failed.get(key)
        if failed and now - failed[0] < CACHE_S:
            return failed[1]
        found = await self.list(cfg)
        if not found.listed:
            self._failed[key] = (time.monotonic(), found)
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
    entries = model_entries(body)
    return None if entries is None else tuple(entries)


def model_entries(body: bytes) -> dict[str, date | None] | None:
    """Each usable id of the list, sorted, with its `shutdown_date` when it has a valid one;
    None when the body isn't a models list."""
    try:
        answer = json.loads(body)
    except (ValueError, RecursionError):
        return None
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, list):
        return None
    found: dict[str, date | None] = {}
    for item in data:
        if isinstance(item, dict) and isinstance(item.get("id"), str) and _usable(item["id"]):
            found[item["id"]] = parse_date(item.get("shutdown_date")) or found.get(item["id"])
    return {name: found[name] for name in sorted(found)[:MAX_MODELS]}


def _usable(name: str) -> bool:
    # `check` refuses longer names, and control characters would only garble the picker.
    return 0 < len(name) <= MAX_NAME_CHARS and name.strip() == name and name.isprintable()
