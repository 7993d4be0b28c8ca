"""The model provider: OpenAI clients for the user's settings, and provider failures in words.

Any OpenAI-compatible base URL works. The client is the real `openai` client; the only thing we
add is a transport that notices a Chat Completions stream which ends without finishing, which
the SDK otherwise accepts as a complete answer for non-OpenAI hosts, and stops a stream without
end.
"""

from __future__ import annotations

import email.utils
import json
import re
import socket
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx2
import openai
from agents import ModelBehaviorError, OpenAIProvider, RunConfig
from agents.exceptions import AgentsException, UserError

from desktop.chat.lean_client import LeanAsyncOpenAI
from desktop.chat.reply_cap import MAX_REPLY_PIECES
from desktop.errors import (
    KeyRejected,
    MissingApiKey,
    ModelNotFound,
    ProviderError,
    ProviderUnavailable,
    ProviderUnreachable,
    RateLimited,
    ResponseInterrupted,
)
from desktop.settings.config import ProviderConfig

# Local servers (Ollama, LM Studio, vLLM) ignore the key, but the client insists on one.
NO_KEY_PLACEHOLDER = "no-key"


class _UnfinishedStream(httpx2.RemoteProtocolError):
    pass


class _EndlessStream(httpx2.RemoteProtocolError):
    pass


# What one streamed reply may send. The SDK reads a stream ahead of the chat into an unbounded
# queue, so the chat's own cap (reply_cap) can't stop the reading: this does, as a backstop past
# it with room for the events that aren't reply text (a tool call's arguments, reasoning), and
# the chat then keeps what it had.
MAX_STREAM_EVENTS = 2 * MAX_REPLY_PIECES + 2_000
MAX_STREAM_BYTES = 32 * 1024 * 1024


def stopped_endless(exc: BaseException) -> bool:
    """Whether a run failed because its reply passed what one reply may stream."""
    return _caused_by(exc, _EndlessStream)


class _GuardedStream(httpx2.AsyncByteStream):
    """Passes SSE bytes through, up to MAX_STREAM_BYTES. `check_finish`: raise at the end if no
    finish_reason or [DONE] was seen (Chat Completions)."""

    _FINISHED = re.compile(rb'"finish_reason"\s*:\s*"|data:\s*\[DONE\]')

    def __init__(self, inner: httpx2.AsyncByteStream, check_finish: bool) -> None:
        self._inner = inner
        self._finished = not check_finish
        self._tail = b""
        self._size = 0
        self._events = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._size += len(chunk)
            self._events += chunk.count(b"\n\n") + chunk.count(b"\r\n\r\n")
            if self._size > MAX_STREAM_BYTES or self._events > MAX_STREAM_EVENTS:
                raise _EndlessStream("the reply is longer than a reply may be")
            if not self._finished:
                window = self._tail + chunk
                self._finished = bool(self._FINISHED.search(window))
                self._tail = window[-64:]
            yield chunk
        if not self._finished:
            raise _UnfinishedStream("the stream ended before the reply finished")

    async def aclose(self) -> None:
        await self._inner.aclose()


# The async transport leaves Nagle's algorithm on. A request is written in two parts (headers,
# then body), so on a kept-alive connection the body waits for the server's delayed ACK: about
# 40 ms added to every request after the first, which is every tool round-trip.
_NO_DELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


class _CompletionGuardTransport(httpx2.AsyncBaseTransport):
    def __init__(self) -> None:
        self._inner = httpx2.AsyncHTTPTransport(socket_options=_NO_DELAY)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        streaming = response.headers.get("content-type", "").startswith("text/event-stream")
        if streaming:
            assert isinstance(response.stream, httpx2.AsyncByteStream)
            completions = request.url.path.endswith("/chat/completions")
            return httpx2.Response(
                status_code=response.status_code,
                headers=response.headers,
                stream=_GuardedStream(response.stream, check_finish=completions),
                extensions=response.extensions,
                request=request,
            )
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class ProviderClients:
    """One OpenAI client per distinct provider setting, reused across turns (connection pooling)."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str, str, float, int], openai.AsyncOpenAI] = {}

    def client(self, cfg: ProviderConfig) -> openai.AsyncOpenAI:
        if not cfg.api_key and cfg.is_openai:
            raise MissingApiKey(
                "No API key is set. Add your OpenAI API key in Settings, or set OPENAI_API_KEY, "
                "or choose a local provider such as Ollama or LM Studio."
            )
        key = cfg.api_key or NO_KEY_PLACEHOLDER
        cache_key = (cfg.base_url, key, cfg.timeout_s, cfg.max_retries)
        client = self._clients.get(cache_key)
        if client is None:
            client = LeanAsyncOpenAI(
                api_key=key,
                base_url=cfg.base_url,
                timeout=cfg.timeout_s,
                max_retries=cfg.max_retries,
                http_client=openai.DefaultAsyncHttpxClient(transport=_CompletionGuardTransport()),
            )
            self._clients[cache_key] = client
        return client

    def run_config(self, cfg: ProviderConfig) -> RunConfig:
        provider = OpenAIProvider(
            openai_client=self.client(cfg), use_responses=cfg.api == "responses"
        )
        return RunConfig(model_provider=provider, tracing_disabled=True)

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.close()


_TOOLS_REFUSED = re.compile(r"\btools?\b|function.?call", re.IGNORECASE)


def rejects_tools(exc: openai.BadRequestError) -> bool:
    """A 400 that blames the tools offered (Ollama: "... does not support tools"; others word it
    differently, but name tools or function calling)."""
    body: Any = exc.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = body["error"]
    message = str(body.get("message") or "") if isinstance(body, dict) else str(exc)
    return bool(_TOOLS_REFUSED.search(message))


def _retry_after_seconds(headers: httpx2.Headers) -> int | None:
    if value := headers.get("retry-after-ms"):
        try:
            return max(1, round(float(value) / 1000))
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(1, round(float(value)))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        if parsed is None:
            return None
        return max(1, round(parsed.timestamp() - time.time()))


def _provider_detail(exc: openai.APIStatusError, secret: str | None) -> str:
    """The provider's own short message, with anything key-like removed."""
    body: Any = exc.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = body["error"]
    message = str(body.get("message") or "") if isinstance(body, dict) else ""
    return scrubbed(message, secret)


def scrubbed(text: str, secret: str | None, limit: int = 200) -> str:
    """A short message from outside (a provider, the SDK), with anything key-like removed."""
    text = " ".join(text.split())[:limit]
    if secret:
        text = text.replace(secret, "[key]")
    return re.sub(r"\b(sk|rk|pk)-[A-Za-z0-9_\-*]{6,}", "[key]", text)


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def translate(exc: BaseException, cfg: ProviderConfig, *, streamed: bool) -> ProviderError | None:
    """Turn a provider failure into a ProviderError whose message a user can act on."""
    host = urlsplit(cfg.base_url).netloc or cfg.base_url
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status in (401, 403) and cfg.key_withheld_for and not cfg.api_key:
            return KeyRejected(f"{host} needs an API key. {cfg.key_withheld_message()}")
        if status in (401, 403):
            return KeyRejected(
                f"{host} rejected the API key ({status}). Check the key in Settings."
            )
        if status == 404:
            return ModelNotFound(
                f"The model '{cfg.model}' isn't available at {host} (404). Pick another model in Settings."
            )
        if status == 429:
            wait = _retry_after_seconds(exc.response.headers)
            when = f"Try again in {wait} seconds." if wait else "Try again in a moment."
            return RateLimited(f"{host} is rate-limiting requests (429). {when}")
        if status >= 500:
            return ProviderUnavailable(
                f"{host} had a server error ({status}). Try again in a moment."
            )
        detail = _provider_detail(exc, cfg.api_key)
        return ProviderError(
            f"{host} refused the request ({status}){': ' + detail if detail else '.'}"
        )
    if isinstance(exc, openai.APITimeoutError):
        return ProviderUnreachable(f"{host} didn't answer within {cfg.timeout_s:g} s.")
    if isinstance(exc, openai.APIConnectionError):
        if _caused_by(exc, _EndlessStream):
            return ResponseInterrupted(
                f"The reply from {host} was stopped: it was longer than a reply may be. "
                "Ask for the answer in parts."
            )
        if _caused_by(exc, _UnfinishedStream):
            return ResponseInterrupted(
                f"The reply from {host} ended before it finished. The partial reply was not saved."
            )
        if streamed or not _caused_by(exc, httpx2.ConnectError):
            return ResponseInterrupted(
                f"The connection to {host} broke before the reply finished. The partial reply was not saved."
            )
        return ProviderUnreachable(
            f"Can't connect to {host}. Check that it is running and reachable."
        )
    if isinstance(exc, httpx2.HTTPError):
        return ResponseInterrupted(
            f"The reply from {host} was cut off. The partial reply was not saved."
        )
    if isinstance(exc, json.JSONDecodeError):
        return ResponseInterrupted(f"{host} sent a reply that couldn't be read.")
    if isinstance(exc, ModelBehaviorError):
        return ResponseInterrupted(
            f"The reply from {host} ended before it finished. The partial reply was not saved."
        )
    if isinstance(exc, UserError):
        # Nothing was sent: the app (or the SDK under it) couldn't put the request together.
        return ProviderError(
            f"The app couldn't build the request for {host}: "
            f"{scrubbed(str(exc), cfg.api_key) or type(exc).__name__}."
        )
    if isinstance(exc, AgentsException):
        return ResponseInterrupted(
            f"The answer from {host} couldn't be read: "
            f"{scrubbed(str(exc), cfg.api_key) or type(exc).__name__}."
        )
    return None
