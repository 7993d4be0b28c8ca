"""A reply without end: N two-character pieces streamed by a fake provider in another process,
through the real app (POST /chatkit). Prints the app's CPU time, wall time and peak RSS, and what
the chat kept. Before the reply cap, the cost grew with N (about 0.4 ms of CPU per piece); now it
stops near the cap whatever N is.

    python bench/reply_bomb.py                       # 4,500,000 pieces (9 MB), both API flavours
    python bench/reply_bomb.py --pieces 200000 --api chat_completions
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.fake_provider import FakeProvider  # noqa: E402
from tests.support.live import API_KEY, live_server, user_input  # noqa: E402


def _provide(pieces: int, conn: Connection) -> None:
    fake = FakeProvider()
    fake.reply("warm")
    fake.reply("x" + " x" * (pieces - 1))
    fake.start()
    conn.send(fake.base_url)
    conn.recv()


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(pieces: int, api: str) -> dict[str, object]:
    parent, child = multiprocessing.Pipe()
    # The provider in its own process: the figures are the app's alone.
    provider = multiprocessing.get_context("fork").Process(target=_provide, args=(pieces, child))
    provider.start()
    try:
        base_url = parent.recv()
        data = Path(tempfile.mkdtemp()) / "data"
        data.mkdir()
        (data / "settings.json").write_text(
            json.dumps({"max_retries": 0, "request_timeout_s": 900})
        )
        env = {
            "OPENAI_API_KEY": API_KEY,
            "OPENAI_BASE_URL": base_url,
            "CHATKIT_DESKTOP_MODEL": "fake-model",
            "CHATKIT_DESKTOP_API": api,
        }
        with live_server(data, env) as live:
            thread_id, _ = live.create_thread("warm up")
            cpu, started = _cpu(), time.monotonic()
            events = live.stream(
                "threads.add_user_message", thread_id=thread_id, input=user_input("go")
            )
            wall, cpu = time.monotonic() - started, _cpu() - cpu
        done = [
            e["item"]
            for e in events
            if e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message"
        ]
        kept = done[-1]["content"][-1]["text"] if done else ""
        return {
            "api": api,
            "pieces": pieces,
            "mb": round((2 * pieces - 1) / 1e6, 1),
            "wall_s": round(wall, 1),
            "app_cpu_s": round(cpu, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "kept_chars": len(kept),
            "cut": "The reply was cut here" in kept,
            "errors": [e.get("message") for e in events if e["type"] == "error"],
        }
    finally:
        parent.send("stop")
        provider.join(timeout=30)
        provider.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pieces", type=int, default=4_500_000)
    parser.add_argument("--api", choices=["responses", "chat_completions"], action="append")
    args = parser.parse_args()
    for api in args.api or ["responses", "chat_completions"]:
        print(json.dumps(measure(args.pieces, api)), flush=True)


if __name__ == "__main__":
    main()
