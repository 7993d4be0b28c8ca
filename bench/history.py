"""History scale: threads.list and items.list latency at 100 threads vs 10,000 threads x 20 items.

Measures the real request path, `DesktopChatServer.process()` with request JSON (parse, store
read, serialize), and the same over HTTP to a uvicorn server on 127.0.0.1. Samples of the two
scales are interleaved, so that machine noise and drift hit both alike. Prints a table and writes
JSON. Usage:

    python bench/history.py            # full scale: 100 and 10,000 threads x 20 items
    python bench/history.py --small    # CI scale: 100 and 1,000 threads
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from chatkit.server import NonStreamingResult
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    InferenceOptions,
    ThreadItem,
    ThreadMetadata,
    UserMessageItem,
    UserMessageTextContent,
)

from desktop.api.app import create_app
from desktop.api.serving import bind_loopback, make_server
from desktop.chat.server import DesktopChatServer
from desktop.context import RequestContext
from desktop.settings.config import Settings, provider_config
from desktop.store import SQLiteStore

CTX = RequestContext()
ITEMS_PER_THREAD = 20
TOKEN = "bench-token-0123456789abcdefghijklmnop"


def make_items(thread_id: str, start: datetime) -> list[ThreadItem]:
    items: list[ThreadItem] = []
    for i in range(ITEMS_PER_THREAD):
        created = start + timedelta(seconds=i)
        if i % 2 == 0:
            items.append(
                UserMessageItem(
                    id=f"msg_{thread_id}_{i}",
                    thread_id=thread_id,
                    created_at=created,
                    content=[
                        UserMessageTextContent(
                            text=f"Question {i} about something worth asking " * 3
                        )
                    ],
                    inference_options=InferenceOptions(),
                )
            )
        else:
            items.append(
                AssistantMessageItem(
                    id=f"msg_{thread_id}_{i}",
                    thread_id=thread_id,
                    created_at=created,
                    content=[
                        AssistantMessageContent(text="An answer of a realistic length. " * 20)
                    ],
                )
            )
    return items


async def populate(store: SQLiteStore, threads: int) -> None:
    """Fill the store through its own write path, one transaction per batch of threads."""
    start = datetime(2026, 1, 1)
    batch = 200
    for first in range(0, threads, batch):
        rows = []
        for n in range(first, min(first + batch, threads)):
            thread_id = f"thr_{n:06d}"
            meta = ThreadMetadata(id=thread_id, created_at=start, title=f"Conversation {n}")
            rows.append((meta, make_items(thread_id, start)))
        await store.import_threads(rows)


def stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": statistics.median(ordered) * 1000,
        "p95_ms": ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000,
        "n": len(ordered),
    }


def request(kind: str, **params: Any) -> bytes:
    return json.dumps({"type": kind, "params": params}).encode()


def requests_for(threads: int) -> dict[str, bytes]:
    # The list is newest first: this thread sits about 80% down, with a full page after it.
    deep_thread = f"thr_{max(21, threads // 5):06d}"
    mid_thread = f"thr_{threads // 2:06d}"
    return {
        "threads.list first page": request("threads.list", limit=20, order="desc"),
        "threads.list deep page": request(
            "threads.list", limit=20, order="desc", after=deep_thread
        ),
        "items.list first page": request("items.list", thread_id=mid_thread, limit=20, order="asc"),
        "items.list deep page": request(
            "items.list",
            thread_id=mid_thread,
            limit=5,
            order="asc",
            after=f"msg_{mid_thread}_{ITEMS_PER_THREAD // 2}",
        ),
    }


async def interleaved(
    calls: list[Callable[[], Awaitable[Any]]], repeat: int
) -> list[dict[str, float]]:
    """Time each call `repeat` times, alternating between them, after a warm-up."""
    samples: list[list[float]] = [[] for _ in calls]
    for _ in range(10):
        for call in calls:
            await call()
    for r in range(repeat):
        order = range(len(calls)) if r % 2 == 0 else reversed(range(len(calls)))
        for i in order:
            t0 = time.perf_counter()
            await calls[i]()
            samples[i].append(time.perf_counter() - t0)
    return [stats(s) for s in samples]


async def build(root: Path, threads: int) -> dict[str, Any]:
    data = root / f"threads-{threads}"
    data.mkdir()
    store = SQLiteStore(data / "chats.db", attachments_dir=data / "attachments")
    t0 = time.perf_counter()
    await populate(store, threads)
    build_s = time.perf_counter() - t0
    check = await store.load_thread_items(f"thr_{threads - 1:06d}", None, 100, "asc", CTX)
    assert len(check.data) == ITEMS_PER_THREAD
    store.close()
    size_mb = (data / "chats.db").stat().st_size / 1e6
    return {
        "threads": threads,
        "items": threads * ITEMS_PER_THREAD,
        "build_s": build_s,
        "db_mb": size_mb,
        "dir": data,
    }


async def measure_process(
    scales: list[dict[str, Any]], repeat: int
) -> dict[str, list[dict[str, float]]]:
    config = provider_config(Settings(), None)
    stores = [SQLiteStore(s["dir"] / "chats.db") for s in scales]
    servers = [DesktopChatServer(store, lambda: config) for store in stores]

    def caller(server: DesktopChatServer, body: bytes) -> Callable[[], Awaitable[None]]:
        async def call() -> None:
            result = await server.process(body, CTX)
            assert isinstance(result, NonStreamingResult) and result.json

        return call

    out = {}
    try:
        for name in requests_for(100):
            calls = [
                caller(srv, requests_for(s["threads"])[name])
                for srv, s in zip(servers, scales, strict=True)
            ]
            out[name] = await interleaved(calls, repeat)
    finally:
        for store in stores:
            store.close()
    return out


def measure_http(scales: list[dict[str, Any]], repeat: int) -> dict[str, list[dict[str, float]]]:
    running = []
    for scale in scales:
        sock = bind_loopback(0)
        port = sock.getsockname()[1]
        server = make_server(create_app(data_dir=scale["dir"], token=TOKEN, port=port, env={}))
        thread = threading.Thread(
            target=lambda s=server, k=sock: asyncio.run(s.serve(sockets=[k])), daemon=True
        )
        thread.start()
        while not server.started:
            time.sleep(0.01)
        # TCP_NODELAY: httpx writes headers and body separately; Nagle plus delayed ACKs would
        # add 40 ms to each request, measuring the client rather than the app.
        transport = httpx.AsyncHTTPTransport(
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
        )
        client = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {TOKEN}"},
            transport=transport,
        )
        running.append((server, thread, sock, client, scale))

    def caller(client: httpx.AsyncClient, body: bytes) -> Callable[[], Awaitable[None]]:
        async def call() -> None:
            response = await client.post("/chatkit", content=body)
            assert response.status_code == 200

        return call

    async def run() -> dict[str, list[dict[str, float]]]:
        out = {}
        for name in ("threads.list first page", "threads.list deep page"):
            calls = [
                caller(client, requests_for(scale["threads"])[name])
                for _, _, _, client, scale in running
            ]
            out[f"{name} (HTTP)"] = await interleaved(calls, repeat)
        for *_, client, _ in running:
            await client.aclose()
        return out

    try:
        return asyncio.run(run())
    finally:
        for server, thread, sock, _, _ in running:
            server.should_exit = True
            thread.join()
            sock.close()


async def cold_start(scales: list[dict[str, Any]], rounds: int = 7) -> list[dict[str, float]]:
    samples: list[list[float]] = [[] for _ in scales]
    for _ in range(rounds):
        for i, scale in enumerate(scales):
            t0 = time.perf_counter()
            store = SQLiteStore(scale["dir"] / "chats.db")
            await asyncio.to_thread(store.open)
            page = await store.load_threads(20, None, "desc", CTX)
            samples[i].append(time.perf_counter() - t0)
            store.close()
            assert len(page.data) == 20
    return [stats(s) for s in samples]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--small", action="store_true", help="CI scale: 1,000 threads instead of 10,000"
    )
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--json", type=Path, default=Path("bench-results/history.json"))
    args = parser.parse_args()
    large = 1_000 if args.small else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        scales = [asyncio.run(build(Path(tmp), 100)), asyncio.run(build(Path(tmp), large))]
        results = asyncio.run(measure_process(scales, args.repeat))
        results.update(measure_http(scales, args.repeat))
        results["cold start: open + first page"] = asyncio.run(cold_start(scales))
    print(
        f"History scale: median / p95 in ms over {args.repeat} interleaved calls "
        f"(cold start: 7 rounds); ratio = {large} vs 100 threads, medians"
    )
    print(f"{'figure':38} {'100 threads':>18} {f'{large} threads':>18} {'ratio':>7}")
    table = {}
    for name, (small, big) in results.items():
        ratio = big["median_ms"] / small["median_ms"]
        table[name] = {"100": small, str(large): big, "ratio": ratio}
        print(
            f"{name:38} {small['median_ms']:8.3f} / {small['p95_ms']:7.3f} "
            f"{big['median_ms']:8.3f} / {big['p95_ms']:7.3f} {ratio:7.2f}"
        )
    print(
        "db size: "
        + " / ".join(f"{s['db_mb']:.1f} MB" for s in scales)
        + "; build: "
        + " / ".join(f"{s['build_s']:.1f} s" for s in scales)
    )
    for scale in scales:
        del scale["dir"]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"scales": scales, "figures": table}, indent=2))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
