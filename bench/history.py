"""History scale: threads.list and items.list latency at 100 threads vs 10,000 threads x 20 items.

Measures the real request path, `DesktopChatServer.process()` with request JSON (parse, store
read, serialize), and the same over HTTP to a uvicorn server on 127.0.0.1. Prints a table and
writes JSON. Usage:

    python bench/history.py            # full scale: 100 and 10,000 threads x 20 items
    python bench/history.py --small    # CI scale: 100 and 1,000 threads
"""

from __future__ import annotations

import argparse
import asyncio
import json
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

from desktop.app import create_app
from desktop.chat_server import DesktopChatServer
from desktop.config import Settings, provider_config
from desktop.context import RequestContext
from desktop.serving import bind_loopback, make_server
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
        "p95_ms": ordered[int(len(ordered) * 0.95) - 1] * 1000,
        "n": len(ordered),
    }


async def timed(fn: Callable[[], Awaitable[Any]], repeat: int) -> dict[str, float]:
    for _ in range(10):
        await fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - t0)
    return stats(samples)


def request(kind: str, **params: Any) -> bytes:
    return json.dumps({"type": kind, "params": params}).encode()


async def measure_process(server: DesktopChatServer, threads: int, repeat: int) -> dict[str, Any]:
    deep_thread = f"thr_{threads // 10:06d}"  # the list is newest first: this one is 90% down
    mid_thread = f"thr_{threads // 2:06d}"

    async def call(body: bytes) -> None:
        result = await server.process(body, CTX)
        assert isinstance(result, NonStreamingResult) and result.json

    first_list = request("threads.list", limit=20, order="desc")
    deep_list = request("threads.list", limit=20, order="desc", after=deep_thread)
    first_items = request("items.list", thread_id=mid_thread, limit=20, order="asc")
    deep_items = request(
        "items.list",
        thread_id=mid_thread,
        limit=5,
        order="asc",
        after=f"msg_{mid_thread}_{ITEMS_PER_THREAD // 2}",
    )
    return {
        "threads.list first page": await timed(lambda: call(first_list), repeat),
        "threads.list deep page": await timed(lambda: call(deep_list), repeat),
        "items.list first page": await timed(lambda: call(first_items), repeat),
        "items.list deep page": await timed(lambda: call(deep_items), repeat),
    }


def measure_http(data_dir: Path, threads: int, repeat: int) -> dict[str, Any]:
    sock = bind_loopback(0)
    port = sock.getsockname()[1]
    app = create_app(data_dir=data_dir, token=TOKEN, port=port, env={})
    server = make_server(app)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    deep_thread = f"thr_{threads // 10:06d}"
    bodies = {
        "threads.list first page (HTTP)": request("threads.list", limit=20, order="desc"),
        "threads.list deep page (HTTP)": request(
            "threads.list", limit=20, order="desc", after=deep_thread
        ),
    }
    out = {}
    try:
        for name, body in bodies.items():
            for _ in range(10):
                client.post("/chatkit", content=body)
            samples = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                response = client.post("/chatkit", content=body)
                samples.append(time.perf_counter() - t0)
                assert response.status_code == 200
            out[name] = stats(samples)
    finally:
        client.close()
        server.should_exit = True
        thread.join()
        sock.close()
    return out


async def cold_start(path: Path) -> dict[str, float]:
    t0 = time.perf_counter()
    store = SQLiteStore(path)
    await asyncio.to_thread(store.open)
    page = await store.load_threads(20, None, "desc", CTX)
    elapsed = time.perf_counter() - t0
    store.close()
    assert len(page.data) == 20
    return {"median_ms": elapsed * 1000, "p95_ms": elapsed * 1000, "n": 1}


async def run_scale(root: Path, threads: int, repeat: int) -> dict[str, Any]:
    data = root / f"threads-{threads}"
    data.mkdir()
    store = SQLiteStore(data / "chats.db", attachments_dir=data / "attachments")
    t0 = time.perf_counter()
    await populate(store, threads)
    build_s = time.perf_counter() - t0
    check = await store.load_thread_items(f"thr_{threads - 1:06d}", None, 100, "asc", CTX)
    assert len(check.data) == ITEMS_PER_THREAD
    config = provider_config(Settings(), None)
    server = DesktopChatServer(store, lambda: config)
    results = await measure_process(server, threads, repeat)
    store.close()
    results.update(await asyncio.to_thread(measure_http, data, threads, repeat))
    results["cold start: open + first page"] = await cold_start(data / "chats.db")
    size_mb = (data / "chats.db").stat().st_size / 1e6
    return {
        "threads": threads,
        "items": threads * ITEMS_PER_THREAD,
        "build_s": build_s,
        "db_mb": size_mb,
        "results": results,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--small", action="store_true", help="CI scale: 1,000 threads instead of 10,000"
    )
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--json", type=Path, default=Path("bench-results/history.json"))
    args = parser.parse_args()
    large = 1_000 if args.small else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        small_run = asyncio.run(run_scale(Path(tmp), 100, args.repeat))
        large_run = asyncio.run(run_scale(Path(tmp), large, args.repeat))
    print(
        f"History scale (median / p95 ms over {args.repeat} calls; ratio = {large} vs 100 threads, medians)"
    )
    print(f"{'figure':38} {'100 threads':>18} {f'{large} threads':>18} {'ratio':>7}")
    for name, small_stats in small_run["results"].items():
        big = large_run["results"][name]
        ratio = big["median_ms"] / small_stats["median_ms"]
        print(
            f"{name:38} {small_stats['median_ms']:8.3f} / {small_stats['p95_ms']:7.3f} "
            f"{big['median_ms']:8.3f} / {big['p95_ms']:7.3f} {ratio:7.2f}"
        )
    print(
        f"db size: {small_run['db_mb']:.1f} MB / {large_run['db_mb']:.1f} MB; "
        f"build time {small_run['build_s']:.1f} s / {large_run['build_s']:.1f} s"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"small": small_run, "large": large_run}, indent=2))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
