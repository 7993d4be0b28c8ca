"""SIGKILL the app at random moments during streaming turns, again and again, on one data dir.

After every restart: the file passes PRAGMA integrity_check, every user message the server had
acknowledged is there, every thread loads, no item is duplicated, and no assistant message cut
by the kill is shown as complete.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.support.fake_provider import FakeProvider
from tests.support.headless import start_headless

pytestmark = pytest.mark.slow

TOKEN = "crash-test-token-abcdefghijklmnopqrstuvwxyz"
KILLS = int(os.environ.get("CHATKIT_CRASH_KILLS", "50"))
REPLIES = [" ".join(f"r{n}w{i}" for i in range(40)) for n in range(5)]


def start(data: Path, provider: FakeProvider) -> tuple[subprocess.Popen[str], httpx.Client]:
    proc, port = start_headless(
        data,
        {
            "CHATKIT_DESKTOP_TOKEN": TOKEN,
            "OPENAI_API_KEY": "sk-crash-test-000000",
            "OPENAI_BASE_URL": provider.base_url,
            "CHATKIT_DESKTOP_MODEL": "fake-model",
        },
        stderr=subprocess.DEVNULL,
    )
    return proc, httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=30,
    )


class Progress:
    """How far a turn's stream has got, so that a kill is timed by the turn, not by the clock (a
    busy machine can take longer to start the chat engine than any fixed delay allows)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.acknowledged = False
        self.deltas = 0
        self.ended = False

    def note(self, *, acknowledged: bool = False, delta: bool = False, ended: bool = False) -> None:
        with self._changed:
            self.acknowledged |= acknowledged
            self.deltas += int(delta)
            self.ended |= ended
            self._changed.notify_all()

    def wait_for(self, reached: Callable[[Progress], bool]) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: reached(self), timeout=60), "the turn stalled"


def stream_turn(
    client: httpx.Client,
    payload: dict[str, object],
    acknowledged: list[str],
    text: str,
    progress: Progress,
) -> None:
    """Send one turn; record the message as acknowledged once the server confirms it was saved."""
    try:
        with client.stream("POST", "/chatkit", content=json.dumps(payload)) as response:
            for line in response.iter_lines():
                if not line.startswith("data: "):
                    continue
                event = json.loads(line[6:])
                if event["type"] == "thread.item.done" and event["item"]["type"] == "user_message":
                    acknowledged.append(text)
                    progress.note(acknowledged=True)
                elif event["type"] == "thread.item.updated":
                    progress.note(delta=True)
    except (httpx.HTTPError, json.JSONDecodeError):
        pass  # the process was killed mid-stream
    finally:
        progress.note(ended=True)


def check(data: Path, client: httpx.Client, acknowledged: list[str]) -> None:
    db = sqlite3.connect(data / "chats.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()
    threads = client.post(
        "/chatkit", json={"type": "threads.list", "params": {"limit": 500}}
    ).json()["data"]
    seen_users: list[str] = []
    for thread in threads:
        got = client.post(
            "/chatkit", json={"type": "threads.get_by_id", "params": {"thread_id": thread["id"]}}
        )
        assert got.status_code == 200
        items = client.post(
            "/chatkit",
            json={
                "type": "items.list",
                "params": {"thread_id": thread["id"], "limit": 500, "order": "asc"},
            },
        ).json()["data"]
        ids = [i["id"] for i in items]
        assert len(ids) == len(set(ids)), f"duplicated items in {thread['id']}"
        for item in items:
            if item["type"] == "user_message":
                seen_users.append(item["content"][0]["text"])
            elif item["type"] == "assistant_message":
                text = "".join(part["text"] for part in item["content"])
                assert text in REPLIES, f"a cut reply is stored as complete: {text[:60]}…"
    assert len(seen_users) == len(set(seen_users)), "a user message was stored twice"
    missing = set(acknowledged) - set(seen_users)
    assert not missing, f"acknowledged user messages lost: {sorted(missing)[:5]}"


def test_random_sigkills_during_streaming_lose_nothing(tmp_path: Path) -> None:
    rng = random.Random(20261122)
    provider = FakeProvider().start()
    provider.token_delay_s = 0.01
    data = tmp_path / "data"
    acknowledged: list[str] = []
    thread_ids: list[str] = []
    try:
        for kill in range(KILLS):
            proc, client = start(data, provider)
            check(data, client, acknowledged)
            threads = client.post(
                "/chatkit", json={"type": "threads.list", "params": {"limit": 500}}
            ).json()["data"]
            thread_ids = [t["id"] for t in threads]
            provider.replies.clear()
            provider.reply(*(rng.choice(REPLIES) for _ in range(4)))
            text = f"message {kill}"
            if thread_ids and rng.random() < 0.6:
                payload = {
                    "type": "threads.add_user_message",
                    "params": {
                        "thread_id": rng.choice(thread_ids),
                        "input": {
                            "content": [{"type": "input_text", "text": text}],
                            "attachments": [],
                            "inference_options": {},
                        },
                    },
                }
            else:
                payload = {
                    "type": "threads.create",
                    "params": {
                        "input": {
                            "content": [{"type": "input_text", "text": text}],
                            "attachments": [],
                            "inference_options": {},
                        }
                    },
                }
            progress = Progress()
            turn = threading.Thread(
                target=stream_turn, args=(client, payload, acknowledged, text, progress)
            )
            turn.start()
            # Somewhere in the turn: at once (the message may not have arrived), during the
            # reply (after a random number of its updates), or after it.
            moment = rng.random()
            if moment >= 0.15:
                updates = rng.randrange(0, 40) if moment < 0.85 else 10**6

                def reached(p: Progress, n: int = updates) -> bool:
                    return p.ended or (p.acknowledged and p.deltas >= n)

                progress.wait_for(reached)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            turn.join(timeout=10)
            client.close()
        proc, client = start(data, provider)
        check(data, client, acknowledged)
        assert len(acknowledged) >= KILLS // 3  # most kills landed mid-turn, not before the message
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        assert proc.returncode == 0
    finally:
        provider.stop()
