"""The history's first page, read straight from the file, for the launch's first stage: the window
lists the chats before chatkit is imported. Its JSON is what chatkit's threads.list answers for the
same page (tests hold the two equal), so the page can't tell which of them answered.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from desktop.store.thread_cursors import ThreadCursors

PAGE_LIMITS = (1, 500)


def first_page(db_path: Path, limit: int, cursors: ThreadCursors) -> bytes:
    """The most recently active threads, newest first, as chatkit's `Page[Thread]` JSON."""
    limit = max(PAGE_LIMITS[0], min(limit, PAGE_LIMITS[1]))
    db = sqlite3.connect(db_path, timeout=10, isolation_level=None)
    try:
        # One read transaction: the snapshot and the rows agree.
        db.execute("BEGIN")
        snapshot = int(db.execute("SELECT value FROM sequence").fetchone()[0])
        rows: list[tuple[str, str, int]] = db.execute(
            "SELECT id, data, active_seq FROM threads WHERE active_seq <= ? "
            "ORDER BY active_seq DESC LIMIT ?",
            (snapshot, limit + 1),
        ).fetchall()
        db.execute("COMMIT")
    finally:
        db.close()
    has_more = len(rows) > limit
    rows = rows[:limit]
    page: dict[str, Any] = {"data": [thread_json(r[1]) for r in rows], "has_more": has_more}
    if rows and has_more:
        # chatkit's contract: `after` names the last row only while there is more to read.
        page["after"] = rows[-1][0]
        cursors.remember("desc", rows[-1][0], snapshot, rows[-1][2])
    return json.dumps(page, ensure_ascii=False, separators=(",", ":")).encode()


def thread_json(data: str) -> dict[str, Any]:
    """A stored thread as chatkit answers it in a list: no None fields, no items."""
    stored = json.loads(data)
    out: dict[str, Any] = {}
    if stored.get("title") is not None:
        out["title"] = stored["title"]
    out["id"] = stored["id"]
    created = str(stored["created_at"])
    out["created_at"] = created[:-6] + "Z" if created.endswith("+00:00") else created
    status = stored.get("status") or {"type": "active"}
    out["status"] = {k: v for k, v in status.items() if v is not None}
    if stored.get("allowed_image_domains") is not None:
        out["allowed_image_domains"] = stored["allowed_image_domains"]
    # chatkit's answer never carries a thread's own metadata, only an empty one.
    out["metadata"] = {}
    out["items"] = {"data": [], "has_more": False}
    return out
