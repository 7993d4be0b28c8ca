"""The app's OpenAI client sends the Agents SDK's request body as it is, skipping the stock
client's params walk: the provider must receive exactly what the stock client sends, for both
API flavours, streamed and not, with history, an image, a tool call and its output."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import openai
from agents import Agent, ModelSettings, OpenAIProvider, RunConfig, Runner, function_tool

from desktop.chat.lean_client import LeanAsyncOpenAI
from tests.support.fake_provider import FakeProvider, Recorded

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 64).decode()

HISTORY: list[Any] = [
    {
        "type": "message",
        "role": "user",
        "content": [
            {"type": "input_text", "text": "What is in this picture?"},
            {"type": "input_image", "detail": "auto", "image_url": f"data:image/png;base64,{PNG}"},
        ],
    },
    {"type": "message", "role": "assistant", "content": "A small black square."},
    {"type": "message", "role": "user", "content": "[Earlier in this chat, tools were used: x.]"},
    {"type": "message", "role": "user", "content": "And the weather in Oslo?"},
]


@function_tool
def weather(city: str, days: int = 1) -> str:
    """The forecast for a city.

    Args:
        city: Where.
        days: How many days ahead.
    """
    return f"{city}: sunny for {days} day(s)"


def _agent() -> Agent[Any]:
    return Agent(
        name="Assistant",
        instructions="Answer briefly.",
        tools=[weather],
        model="fake-model",
        model_settings=ModelSettings(
            temperature=0.3, max_tokens=500, extra_headers={"X-Desktop-Test": "1"}
        ),
    )


async def _bodies(
    provider: FakeProvider, client: openai.AsyncOpenAI, api: str, stream: bool
) -> list[Recorded]:
    start = len(provider.requests)
    if stream:  # the fake provider streams its tool calls; a title is asked for unstreamed
        provider.call_tools(("weather", {"city": "Oslo", "days": 2}))
    provider.reply("Sunny, two days.")
    config = RunConfig(
        model_provider=OpenAIProvider(openai_client=client, use_responses=api == "responses"),
        tracing_disabled=True,
    )
    if stream:
        result = Runner.run_streamed(_agent(), list(HISTORY), run_config=config)
        async for _ in result.stream_events():
            pass
    else:
        result = await Runner.run(_agent(), list(HISTORY), run_config=config)  # type: ignore[assignment]
    assert result.final_output == "Sunny, two days."
    return provider.requests[start:]


def _comparable(recorded: list[Recorded]) -> list[tuple[str, Any, dict[str, str]]]:
    # The stock streaming call marks itself in a header of the client's own
    # (x-stainless-raw-response); the fake provider numbers its tool calls across runs.
    skip = {"x-stainless-raw-response"}
    return [
        (
            r.path,
            json.loads(re.sub(r'"((?:call|fc|msg|resp)_)\d+"', r'"\1N"', json.dumps(r.body))),
            {k: v for k, v in r.headers.items() if k not in skip},
        )
        for r in recorded
    ]


async def test_the_provider_receives_what_the_stock_client_sends(
    provider: FakeProvider, api: str
) -> None:
    def client(cls: type[openai.AsyncOpenAI]) -> openai.AsyncOpenAI:
        return cls(api_key="sk-test-lean-0000", base_url=provider.base_url, max_retries=0)

    for stream in (True, False):
        stock = await _bodies(provider, client(openai.AsyncOpenAI), api, stream)
        lean = await _bodies(provider, client(LeanAsyncOpenAI), api, stream)
        assert len(stock) == (2 if stream else 1)  # a tool call, then the answer with its output
        assert _comparable(lean) == _comparable(stock)
        first = stock[0]
        assert first.headers["authorization"] == "Bearer sk-test-lean-0000"
        assert first.headers["x-desktop-test"] == "1"
        sent = first.body["input"] if api == "responses" else first.body["messages"]
        assert PNG in str(sent)


async def test_a_provider_error_is_the_stock_clients_error(provider: FakeProvider) -> None:
    from tests.support.fake_provider import Fault

    provider.fail(Fault(kind="status", status=401))
    client = LeanAsyncOpenAI(api_key="sk-test-lean-0000", base_url=provider.base_url, max_retries=0)
    try:
        await client.responses.create(model="fake-model", input="hi", stream=True)
    except openai.AuthenticationError as exc:
        assert exc.status_code == 401
    else:
        raise AssertionError("a 401 must raise the client's AuthenticationError")
