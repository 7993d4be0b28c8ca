"""Backing up (and restoring) a large history while the app runs, and whether the app stays
responsive meanwhile.

The real app runs on a history of the given size (1 GB; 100 MB with --small): a thousand chats
with searchable messages, the rest of the size in widget items (stored like any other item, but
not in the search index, which would take minutes to fill). Then, through the app's API, as
Settings → Your data does:

- POST /api/backups, timed, while another client asks GET /api/health and lists the chats
  (POST /chatkit threads.list, what the window's sidebar does) every 50 ms;
- POST /api/backups/restore of that backup, timed the same way.

The window's page is served by this same server, so its answers during the backup are what a
person would feel. Reported: each operation's time, and the answer times (median, p95, max)
while it ran, against the same while idle.

    python bench/backup_live.py            # 1 GB
    python bench/backup_live.py --small    # CI scale: 100 MB
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from data_portability import WORDS  # noqa: E402

from tests.support.headless import start_headless  # noqa: E402

TOKEN = "bench-token-backup"
CHATS = 1_000
MESSAGES = 10
WIDGET_KB = 64


def fill(data: Path, target_mb: int) -> float:
    """A history of about `target_mb`; returns its size in MB."""
    from chatkit.types import (
        AssistantMessageContent,
        AssistantMessageItem,
        InferenceOptions,
        UserMessageItem,
        UserMessageTextContent,
        WidgetItem,
    )

    from desktop.store.connections import Database
    from desktop.store.database import connect, prepare_database

    database = data / "chats.db"
    prepare_database(database, data / "attachments")
    db = connect(database, read_only=False)
    now = datetime.now()
    words = WORDS
    filler = " ".join(words[i % len(words)] for i in range(WIDGET_KB * 1024 // 6))
    widget_json = WidgetItem.model_validate(
        {
            "id": "w",
            "thread_id": "t",
            "created_at": now,
            "widget": {"type": "Card", "children": [{"type": "Text", "value": filler}]},
        }
    ).model_dump_json()
    db.execute("BEGIN")
    for n in range(CHATS):
        tid = f"thr_bench_{n:05d}"
        seq = Database.next_seq(db)
        db.execute(
            "INSERT INTO threads (id, created_at, seq, active_seq, data) VALUES (?, ?, ?, ?, ?)",
            (
                tid,
                now.isoformat(),
                seq,
                seq,
                json.dumps(
                    {
                        "id": tid,
                        "title": f"Chat {n}",
                        "created_at": now.isoformat(),
                        "status": {"type": "active"},
                        "metadata": {},
                    }
                ),
            ),
        )
        for i in range(MESSAGES):
            text = f"{n}-{i} " + " ".join(words[(n + i + k) % len(words)] for k in range(60))
            item: Any = (
                UserMessageItem(
                    id=f"msg_{n}_{i}",
                    thread_id=tid,
                    created_at=now,
                    content=[UserMessageTextContent(text=text)],
                    inference_options=InferenceOptions(),
                )
                if i % 2 == 0
                else AssistantMessageItem(
                    id=f"msg_{n}_{i}",
                    thread_id=tid,
                    created_at=now,
                    content=[AssistantMessageContent(text=text)],
                )
            )
            db.execute(
                "INSERT INTO items (thread_id, id, seq, type, created_at, data) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    tid,
                    item.id,
                    Database.next_seq(db),
                    item.type,
                    now.isoformat(),
                    item.model_dump_json(),
                ),
            )
    db.execute("COMMIT")
    n = 0
    while database.stat().st_size < target_mb * 1_000_000:
        db.execute("BEGIN")
        for _ in range(500):
            tid = f"thr_bench_{n % CHATS:05d}"
            wid = f"wid_{n}"
            db.execute(
                "INSERT INTO items (thread_id, id, seq, type, created_at, data) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    tid,
                    wid,
                    Database.next_seq(db),
                    "widget",
                    now.isoformat(),
                    widget_json.replace('"id":"w"', f'"id":"{wid}"', 1),
                ),
            )
            n += 1
        db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return database.stat().st_size / 1e6


class Prober(threading.Thread):
    """Asks the app what the window asks, every 50 ms, and records how long each answer took."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.client = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
        )
        self.samples: list[float] = []
        self.errors = 0
        self.stop = threading.Event()

    def run(self) -> None:
        body = json.dumps({"type": "threads.list", "params": {"limit": 30, "order": "desc"}})
        while not self.stop.is_set():
            for path in ("/api/health", "/chatkit"):
                t0 = time.perf_counter()
                try:
                    if path == "/chatkit":
                        answer = self.client.post(path, content=body)
                    else:
                        answer = self.client.get(path)
                    ok = answer.status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.samples.append((time.perf_counter() - t0) * 1000)
                self.errors += not ok
            self.stop.wait(0.05)


def latency(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": statistics.median(ordered),
        "p95_ms": ordered[int(len(ordered) * 0.95) - 1] if len(ordered) > 1 else ordered[0],
        "max_ms": ordered[-1],
        "answers": len(ordered),
    }


def during(url: str, action: Any) -> tuple[float, dict[str, float], int, Any]:
    prober = Prober(url)
    prober.start()
    time.sleep(0.3)
    t0 = time.perf_counter()
    result = action()
    seconds = time.perf_counter() - t0
    prober.stop.set()
    prober.join()
    return seconds, latency(prober.samples), prober.errors, result


def first_page(api: httpx.Client) -> list[str]:
    body = {"type": "threads.list", "params": {"limit": 100, "order": "desc"}}
    return [t["id"] for t in api.post("/chatkit", content=json.dumps(body)).json()["data"]]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--small", action="store_true", help="CI scale")
    parser.add_argument("--json", type=Path, default=ROOT / "bench-results" / "backup_live.json")
    args = parser.parse_args()
    target = 100 if args.small else 1000
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        t0 = time.perf_counter()
        size_mb = fill(data, target)
        fill_s = time.perf_counter() - t0
        proc, port = start_headless(data, {"CHATKIT_DESKTOP_TOKEN": TOKEN})
        url = f"http://127.0.0.1:{port}"
        api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=600)
        try:
            api.post(
                "/chatkit", content=json.dumps({"type": "threads.list", "params": {"limit": 5}})
            )
            before = first_page(api)
            _, idle, idle_errors, _ = during(url, lambda: time.sleep(3))
            backup_s, busy, errors, made = during(url, lambda: api.post("/api/backups"))
            if made.status_code != 200:
                raise SystemExit(f"the backup failed: {made.text}")
            name = made.json()["name"]
            restore_s, restoring, restore_errors, done = during(
                url, lambda: api.post("/api/backups/restore", json={"name": name})
            )
            if done.status_code != 200:
                raise SystemExit(f"the restore failed: {done.text}")
            after = first_page(api)
            if after != before:
                raise SystemExit("after the restore, the chat list differs from the backup's")
        finally:
            api.close()
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    results = {
        "database_mb": size_mb,
        "fill_s": fill_s,
        "backup_s": backup_s,
        "restore_s": restore_s,
        "idle": idle,
        "during_backup": busy,
        "during_restore": restoring,
        "errors": idle_errors + errors + restore_errors,
    }
    print(f"History: {size_mb:.0f} MB ({CHATS:,} chats, filled in {fill_s:.0f} s)")
    print(f"backup through the running app   {backup_s:6.1f} s")
    print(f"restore through the running app  {restore_s:6.1f} s (backs up the current state first)")
    print(
        f"{'app answers (health, chat list)':34} {'median':>9} {'p95':>9} {'max':>9} {'answers':>8}"
    )
    for label, f in (
        ("idle", idle),
        ("during the backup", busy),
        ("during the restore", restoring),
    ):
        print(
            f"{label:34} {f['median_ms']:7.1f}ms {f['p95_ms']:7.1f}ms {f['max_ms']:7.1f}ms {f['answers']:>8}"
        )
    print(f"errors: {results['errors']}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
