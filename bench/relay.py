"""Streaming relay, memory and concurrency, against a zero-latency fake provider on 127.0.0.1.

Every figure is measured next to its baseline in the same run:
- time to first token through POST /chatkit vs the raw `openai` client streaming the same reply;
- per-token relay cost and throughput over long replies vs the raw client;
- RSS of the app process idle and after N streamed turns;
- 10 conversations streaming at once while the history is listed: list latency vs idle, errors.

    python bench/relay.py            # full scale (500 turns for memory)
    python bench/relay.py --small    # CI scale
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import openai

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.fake_provider import FakeProvider  # noqa: E402
from tests.support.headless import start_headless  # noqa: E402

NO_DELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
TOKEN = "bench-relay-token-0123456789abcdefghijkl"


def user_input(text: str) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
    }


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, int(len(ordered) * q) - 1)]


class App:
    def __init__(self, data: Path, provider: FakeProvider) -> None:
        (data / "settings.json").write_text(
            json.dumps({"max_retries": 0, "generate_titles": False})
        )
        self.proc, port = start_headless(
            data,
            {
                "CHATKIT_DESKTOP_TOKEN": TOKEN,
                "OPENAI_API_KEY": "sk-bench-000000000",
                "OPENAI_BASE_URL": provider.base_url,
                "CHATKIT_DESKTOP_MODEL": "fake-model",
            },
            stderr=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{port}"

    def client(self) -> httpx.AsyncClient:
        # Like the page's browser, the client sends without Nagle's delay; otherwise each POST's
        # body waits ~40 ms for the server's delayed ACK and that is all the figure shows.
        return httpx.AsyncClient(
            base_url=self.url,
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=120,
            transport=httpx.AsyncHTTPTransport(socket_options=NO_DELAY),
        )

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)


async def app_turn(
    client: httpx.AsyncClient, thread_id: str | None, text: str
) -> tuple[float, float, int, str]:
    """(time to first text delta, total time, deltas, thread id) for one streamed turn."""
    if thread_id:
        body = {
            "type": "threads.add_user_message",
            "params": {"thread_id": thread_id, "input": user_input(text)},
        }
    else:
        body = {"type": "threads.create", "params": {"input": user_input(text)}}
    t0 = time.perf_counter()
    first = None
    deltas = 0
    async with client.stream("POST", "/chatkit", content=json.dumps(body)) as response:
        async for line in response.aiter_lines():
            if not line.startswith("data: "):
                continue
            event = json.loads(line[6:])
            if event["type"] == "thread.created":
                thread_id = event["thread"]["id"]
            elif event["type"] == "thread.item.updated" and event["update"]["type"].endswith(
                "text_delta"
            ):
                deltas += 1
                first = first or time.perf_counter() - t0
            elif event["type"] == "error":
                raise RuntimeError(event.get("message"))
    assert thread_id is not None and first is not None
    return first, time.perf_counter() - t0, deltas, thread_id


async def raw_turn(client: openai.AsyncOpenAI, text: str) -> tuple[float, float, int]:
    t0 = time.perf_counter()
    first = None
    deltas = 0
    stream = await client.responses.create(model="fake-model", input=text, stream=True)
    async for event in stream:
        if event.type == "response.output_text.delta":
            deltas += 1
            first = first or time.perf_counter() - t0
    assert first is not None
    return first, time.perf_counter() - t0, deltas


async def measure(app: App, provider: FakeProvider, args: argparse.Namespace) -> dict[str, Any]:
    raw = openai.AsyncOpenAI(base_url=provider.base_url, api_key="sk-bench", max_retries=0)
    out: dict[str, Any] = {}
    idle_rss = rss_mb(app.proc.pid)  # started, chat engine loaded, nothing done yet
    async with app.client() as client:
        # Time to first token: a short reply, raw and through the app, interleaved.
        thread = None
        app_first, raw_first = [], []
        for i in range(args.ttft_samples):
            provider.reply("short answer here")
            first, _, _, thread = await app_turn(client, thread, f"q{i}")
            app_first.append(first)
            provider.reply("short answer here")
            r_first, _, _ = await raw_turn(raw, f"q{i}")
            raw_first.append(r_first)
        out["ttft_ms"] = {
            "app_median": statistics.median(app_first) * 1000,
            "raw_median": statistics.median(raw_first) * 1000,
            "added_median": (statistics.median(app_first) - statistics.median(raw_first)) * 1000,
            "app_p95": pct(app_first, 0.95) * 1000,
            "n": len(app_first),
        }
        # Long replies: per-token cost and throughput.
        long_reply = " ".join(f"tok{i}" for i in range(args.tokens))
        app_total, raw_total = [], []
        long_thread = None
        for _ in range(args.long_samples):
            provider.reply(long_reply)
            _, total, deltas, long_thread = await app_turn(client, long_thread, "long one")
            assert deltas == args.tokens
            app_total.append(total)
            provider.reply(long_reply)
            _, r_total, r_deltas = await raw_turn(raw, "long one")
            assert r_deltas == args.tokens
            raw_total.append(r_total)
        app_s, raw_s = statistics.median(app_total), statistics.median(raw_total)
        out["relay"] = {
            "tokens": args.tokens,
            "app_s": app_s,
            "raw_s": raw_s,
            "per_token_us": (app_s - raw_s) / args.tokens * 1e6,
            "app_tokens_per_s": args.tokens / app_s,
            "raw_tokens_per_s": args.tokens / raw_s,
            "throughput_ratio": raw_s / app_s,
        }

        # Concurrency: 10 streams at once while the history is listed.
        async def list_latency(n: int) -> list[float]:
            samples = []
            for _ in range(n):
                t0 = time.perf_counter()
                response = await client.post(
                    "/chatkit", content=b'{"type":"threads.list","params":{"limit":20}}'
                )
                assert response.status_code == 200
                samples.append(time.perf_counter() - t0)
            return samples

        idle = await list_latency(50)
        provider.token_delay_s = 0.002
        provider.reply(*[" ".join(f"c{i}" for i in range(300))] * 10)
        errors = 0

        async def one(i: int) -> None:
            nonlocal errors
            try:
                await app_turn(client, None, f"concurrent {i}")
            except Exception:
                errors += 1

        busy_task = asyncio.gather(*(one(i) for i in range(10)))
        await asyncio.sleep(0.05)
        busy = await list_latency(50)
        await busy_task
        provider.token_delay_s = 0
        out["concurrency"] = {
            "streams": 10,
            "errors": errors,
            "list_idle_p95_ms": pct(idle, 0.95) * 1000,
            "list_busy_p95_ms": pct(busy, 0.95) * 1000,
            "added_p95_ms": (pct(busy, 0.95) - pct(idle, 0.95)) * 1000,
        }
        # Memory: after N more streamed turns (in threads of 10 turns each) vs idle at start.
        warm_rss = rss_mb(app.proc.pid)
        thread = None
        for i in range(args.turns):
            provider.reply("a reply of a few words to keep the history realistic")
            _, _, _, thread = await app_turn(client, None if i % 10 == 0 else thread, f"turn {i}")
        after = rss_mb(app.proc.pid)
        # Growth counts from the warmed-up process, so that one-time caches filled by the first
        # turns (lazy imports, pydantic schemas, SQLite pages) don't count as a leak.
        out["memory_mb"] = {
            "idle": idle_rss,
            "warm": warm_rss,
            "after_turns": after,
            "turns": args.turns,
            "growth": after - warm_rss,
        }
    await raw.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--json", type=Path, default=ROOT / "bench-results" / "relay.json")
    args = parser.parse_args()
    args.ttft_samples = 30 if args.small else 100
    args.long_samples = 2 if args.small else 5
    args.tokens = 2000
    args.turns = 100 if args.small else 500
    provider = FakeProvider().start()
    with tempfile.TemporaryDirectory() as tmp:
        app = App(Path(tmp), provider)
        try:
            time.sleep(2)  # let the chat engine finish loading in the background
            result = asyncio.run(measure(app, provider, args))
        finally:
            app.stop()
            provider.stop()
    t, r, c, m = result["ttft_ms"], result["relay"], result["concurrency"], result["memory_mb"]
    print("Relay, memory and concurrency (fake provider on 127.0.0.1, zero latency)")
    print(f"{'figure':46} {'measured':>14} {'target':>14}")
    rows = [
        ("time to first token, added (median)", f"{t['added_median']:.1f} ms", "< 10 ms"),
        (
            "  app / raw client TTFT (median)",
            f"{t['app_median']:.1f} / {t['raw_median']:.1f} ms",
            "",
        ),
        (f"per-token relay cost ({r['tokens']} tokens)", f"{r['per_token_us']:.0f} µs", "< 100 µs"),
        ("relay throughput vs raw client", f"{r['throughput_ratio']:.2f}x", ">= 0.5x"),
        (
            "  app / raw tokens per second",
            f"{r['app_tokens_per_s']:.0f} / {r['raw_tokens_per_s']:.0f}",
            "",
        ),
        ("RSS idle", f"{m['idle']:.0f} MB", "<= 150 MB"),
        (f"RSS growth after {m['turns']} turns", f"{m['growth']:.1f} MB", "<= 20 MB"),
        ("10 streams + listing: added p95 latency", f"{c['added_p95_ms']:.1f} ms", "reported"),
        ("10 streams + listing: errors", f"{c['errors']}", "0"),
    ]
    for name, value, target in rows:
        print(f"{name:46} {value:>14} {target:>14}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
