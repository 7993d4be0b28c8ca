"""An OpenAI client whose model calls send the Agents SDK's request body as it is.

The stock `responses.create` and `chat.completions.create` first walk every value of the body
against the request's TypedDicts (`async_maybe_transform`), trying each member of every union
on every history item. That walk only renames aliased keys and formats dates and files, and
neither params type has any; the Agents SDK hands over plain JSON already. For a chat with a
hundred turns it was over half of the app's time to first token (profiled with py-spy on the
headless app during `bench/relay.py`). Here the same body goes through the client's public
`post`, with the same options, so retries, auth, errors and streaming stay the client's own.

The SDK takes a client whose `responses` has only `create` (it then streams without the
request id), and `tests/test_lean_client.py` checks that the provider receives the same body
from both clients."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

import openai
from openai import AsyncStream
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseStreamEvent

_OPTION_NAMES = ("extra_headers", "extra_query", "extra_body")


def _given(value: Any) -> bool:
    return not isinstance(value, openai.NotGiven | openai.Omit)


def _plain(value: Any) -> Any:
    """`value` with omitted entries dropped and other iterables made lists, as the transform
    leaves them; everything else is passed through untouched."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items() if _given(v)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _split(params: dict[str, Any]) -> tuple[dict[str, Any], Any, bool]:
    """(body, request options, streaming) from `create`'s keyword arguments."""
    extra_headers, extra_query, extra_body = (params.pop(n, None) for n in _OPTION_NAMES)
    timeout = params.pop("timeout", openai.NOT_GIVEN)  # None is a timeout too: none at all
    options: dict[str, Any] = {"security": {"bearer_auth": True}}
    if extra_headers is not None:
        options["headers"] = extra_headers
    if extra_query is not None:
        options["params"] = extra_query
    if extra_body is not None:
        options["extra_json"] = extra_body
    if _given(timeout):
        options["timeout"] = timeout
    body = _plain({k: v for k, v in params.items() if _given(v)})
    return body, options, body.get("stream") is True


class _Create:
    """One model-call resource (`responses` or `chat.completions`), offering only `create`."""

    def __init__(
        self, client: openai.AsyncOpenAI, path: str, cast_to: type[Any], stream_cls: type[Any]
    ) -> None:
        self._client = client
        self._path = path
        self._cast_to = cast_to
        self._stream_cls = stream_cls

    async def create(self, **params: Any) -> Any:
        body, options, stream = _split(params)
        return await self._client.post(
            self._path,
            body=body,
            options=options,
            cast_to=self._cast_to,
            stream=stream,
            stream_cls=self._stream_cls,
        )


class _Chat:
    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.completions = _Create(
            client, "/chat/completions", ChatCompletion, AsyncStream[ChatCompletionChunk]
        )


class LeanAsyncOpenAI(openai.AsyncOpenAI):
    """`openai.AsyncOpenAI`, but `responses.create` and `chat.completions.create` (the calls the
    Agents SDK makes for a turn) skip the params walk. Nothing else of those resources is
    offered: the app's own calls (models, titles) use the other resources or these two."""

    @property
    def user_agent(self) -> str:
        # The stock client's, not this class's name: providers see the same client.
        return f"AsyncOpenAI/Python {openai.__version__}"

    @cached_property
    def responses(self) -> Any:
        return _Create(self, "/responses", Response, AsyncStream[ResponseStreamEvent])

    @cached_property
    def chat(self) -> Any:
        return _Chat(self)
