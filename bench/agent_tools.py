"""Agent figures: search across chats at scale, and what a tool round-trip costs in the app.

- search: `ChatSearch.search` (what search_chats and the sidebar call) on N threads x 20 items,
  for a rare word, a word in every chat, two words, and a prefix; median and p95.
- tool round-trip: a turn through POST /chatkit in which the model calls `current_time` and then
  answers, minus the same turn without the tool call, minus what the extra model request costs
  the raw `openai` client, minus calling the tool directly. What is left is the app's own cost
  for the round-trip (steps, hooks, history, storing the workflow item).

    python bench/agent_tools.py            # 10,000 threads x 20 items
    python bench/agent_tools.py --small    # CI scale: 1,000 threads
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import openai
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    InferenceOptions,
    ThreadItem,
    ThreadMetadata,
    UserMessageItem,
    UserMessageTextContent,
)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from desktop.chat.tools.current_time import current_time  # noqa: E402
from desktop.store import SQLiteStore  # noqa: E402
from tests.support.fake_provider import FakeProvider, ToolCalls  # noqa: E402
from tests.support.headless import start_headless  # noqa: E402

ITEMS = 20
SEARCHES = (
    "tool: rare word",
    "tool: word in every chat",
    "tool: two words",
    "sidebar: word in every chat",
    "sidebar: prefix as you type",
)
TOKEN = "bench-agents-token-0123456789abcdefghijk"
COMMON = [
    "the",
    "and",
    "project",
    "meeting",
    "plan",
    "idea",
    "question",
    "answer",
    "code",
    "python",
    "travel",
    "budget",
]


def vocabulary(size: int, rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(5, 9))) for _ in range(size)]


def thread_rows(
    threads: int, rng: random.Random
) -> tuple[list[tuple[ThreadMetadata, list[ThreadItem]]], list[str]]:
    """Threads whose messages mix common words with words from a large vocabulary, so that some
    words are rare (a few chats) and some are everywhere."""
    words = vocabulary(20_000, rng)
    start = datetime(2025, 1, 1)
    rows = []
    for t in range(threads):
        tid = f"thr_{t:06d}"
        created = start + timedelta(minutes=t)
        items: list[ThreadItem] = []
        for i in range(ITEMS):
            text = " ".join(
                rng.choice(COMMON) if rng.random() < 0.4 else rng.choice(words) for _ in range(40)
            )
            if i % 2 == 0:
                items.append(
                    UserMessageItem(
                        id=f"msg_{t}_{i}",
                        thread_id=tid,
                        created_at=created + timedelta(seconds=i),
                        content=[UserMessageTextContent(text=text)],
                        inference_options=InferenceOptions(),
                    )
                )
            else:
                items.append(
                    AssistantMessageItem(
                        id=f"msg_{t}_{i}",
                        thread_id=tid,
                        created_at=created + timedelta(seconds=i),
                        content=[AssistantMessageContent(text=text * 3)],
                    )
                )
        rows.append((ThreadMetadata(id=tid, created_at=created, title=f"Chat {t}"), items))
    return rows, words


def stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": statistics.median(ordered) * 1000,
        "p95_ms": ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000,
    }


async def measure_search(root: Path, threads: int, repeat: int) -> dict[str, Any]:
    rng = random.Random(7)
    rows, words = thread_rows(threads, rng)
    store = SQLiteStore(root / "chats.db")
    t0 = time.perf_counter()
    for i in range(0, len(rows), 500):
        await store.import_threads(rows[i : i + 500])
    fill_s = time.perf_counter() - t0
    rare = next(w for w in words[::-1] if len(w) > 6)
    # (query, prefix): search_chats matches whole words; the sidebar's box matches as you type.
    queries = {
        "tool: rare word": (rare, False),
        "tool: word in every chat": ("project", False),
        "tool: two words": ("meeting budget", False),
        "sidebar: word in every chat": ("project", True),
        "sidebar: prefix as you type": ("pyth", True),
    }
    results: dict[str, Any] = {
        "threads": threads,
        "items": threads * ITEMS,
        "fill_s": fill_s,
        "queries": list(SEARCHES),
    }
    for name, (query, prefix) in queries.items():
        await store.search.search(query, 10, prefix=prefix)  # warm
        samples = []
        found = 0
        for _ in range(repeat):
            s = time.perf_counter()
            found = len(await store.search.search(query, 10, prefix=prefix))
            samples.append(time.perf_counter() - s)
        results[name] = {**stats(samples), "query": query, "chats": found}
    store.close()
    return results


def turn_body(text: str) -> bytes:
    params = {
        "input": {
            "content": [{"type": "input_text", "text": text}],
            "attachments": [],
            "inference_options": {},
        }
    }
    return json.dumps({"type": "threads.create", "params": params}).encode()


async def timed_turn(client: httpx.AsyncClient, text: str) -> float:
    t0 = time.perf_counter()
    async with client.stream("POST", "/chatkit", content=turn_body(text)) as response:
        async for _ in response.aiter_bytes():
            pass
    return time.perf_counter() - t0


async def raw_tool_request(client: openai.AsyncOpenAI, api: str) -> float:
    """What one extra model request costs without the app: a streamed tool call."""
    t0 = time.perf_counter()
    if api == "responses":
        stream = await client.responses.create(model="fake-model", input="x", stream=True)
    else:
        stream = await client.chat.completions.create(  # type: ignore[assignment]
            model="fake-model", messages=[{"role": "user", "content": "x"}], stream=True
        )
    async for _ in stream:
        pass
    return time.perf_counter() - t0


async def measure_tool_round_trip(
    provider: FakeProvider, url: str, api: str, repeat: int
) -> dict[str, float]:
    raw = openai.AsyncOpenAI(base_url=provider.base_url, api_key="sk-bench", max_retries=0)
    call = ToolCalls([("current_time", {})])
    plain, tooled, extra, direct = [], [], [], []
    async with httpx.AsyncClient(
        base_url=url,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=60,
        # as a browser does: no Nagle delay on the POST body
        transport=httpx.AsyncHTTPTransport(
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
        ),
    ) as client:
        for i in range(repeat + 3):
            provider.reply("Fine.")
            p = await timed_turn(client, f"plain {i}")
            provider.reply(call, "It is morning.")
            t = await timed_turn(client, f"tool {i}")
            provider.reply(call)
            e = await raw_tool_request(raw, api)
            s = time.perf_counter()
            await current_time()
            d = time.perf_counter() - s
            if i >= 3:  # warm-up turns are dropped
                plain.append(p)
                tooled.append(t)
                extra.append(e)
                direct.append(d)
    await raw.close()
    med = statistics.median
    added = med(tooled) - med(plain) - med(extra) - med(direct)
    return {
        "turn_with_tool_ms": med(tooled) * 1000,
        "turn_without_ms": med(plain) * 1000,
        "extra_model_request_ms": med(extra) * 1000,
        "tool_direct_ms": med(direct) * 1000,
        "added_ms": added * 1000,
    }


def start_app(data: Path, provider: FakeProvider, api: str) -> tuple[subprocess.Popen[str], str]:
    data.mkdir(parents=True, exist_ok=True)
    (data / "settings.json").write_text(json.dumps({"max_retries": 0, "generate_titles": False}))
    proc, port = start_headless(
        data,
        {
            "CHATKIT_DESKTOP_TOKEN": TOKEN,
            "OPENAI_API_KEY": "sk-bench-000000000",
            "OPENAI_BASE_URL": provider.base_url,
            "CHATKIT_DESKTOP_MODEL": "fake-model",
            "CHATKIT_DESKTOP_API": api,
        },
        stderr=subprocess.DEVNULL,
    )
    return proc, f"http://127.0.0.1:{port}"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--small", action="store_true", help="CI scale")
    parser.add_argument("--json", type=Path, default=ROOT / "bench-results" / "agent_tools.json")
    args = parser.parse_args()
    threads = 1_000 if args.small else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        search = asyncio.run(measure_search(Path(tmp), threads, 50 if args.small else 100))
    provider = FakeProvider().start()
    tools: dict[str, dict[str, float]] = {}
    try:
        for api in ("chat_completions", "responses"):
            with tempfile.TemporaryDirectory() as tmp:
                proc, url = start_app(Path(tmp) / "data", provider, api)
                try:
                    time.sleep(2)  # the chat engine loads in the background
                    tools[api] = asyncio.run(
                        measure_tool_round_trip(provider, url, api, 20 if args.small else 50)
                    )
                finally:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(timeout=30)
    finally:
        provider.stop()
    print(
        f"Search across chats: {search['threads']:,} threads x {ITEMS} items "
        f"(index built in {search['fill_s']:.1f} s)"
    )
    print(f"{'query':30} {'chats':>6} {'median':>10} {'p95':>10}  target")
    for name in SEARCHES:
        f = search[name]
        print(f"{name:28} {f['chats']:>6} {f['median_ms']:>8.2f}ms {f['p95_ms']:>8.2f}ms  < 50 ms")
    print("\nTool round-trip through the app (fake provider on 127.0.0.1)")
    for api, f in tools.items():
        print(
            f"{api:17} added {f['added_ms']:6.1f} ms (target < 20 ms): turn with tool "
            f"{f['turn_with_tool_ms']:.1f} ms, without {f['turn_without_ms']:.1f} ms, extra "
            f"model request {f['extra_model_request_ms']:.1f} ms, tool itself "
            f"{f['tool_direct_ms'] * 1000:.0f} µs"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"search": search, "tool_round_trip": tools}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
