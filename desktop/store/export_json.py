"""This app's JSON export: lossless and versioned, re-importable with nothing changed.

Read through a read-only connection, so it can run while the app has the history open (it
writes nothing there). The format (version 1):

    {"format": "chatkit-desktop-export", "version": 1, "exported_at": ISO time,
     "app_version": "...",
     "threads": [{"thread": <the thread as stored: ChatKit ThreadMetadata JSON>,
                  "items": [<each item as stored: ChatKit ThreadItem JSON>, oldest first],
                  "feedback": {"<item id>": "positive" | "negative"},
                  "attachments": [{"attachment": <ChatKit Attachment JSON>,
                                   "content_base64": "..." | null}]}],
     "assistants": [{"id", "name", "instructions", "model", "tools", "builtin"}]}
"""

from __future__ import annotations

import base64
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from desktop import __version__
from desktop.errors import NotFound, StoreError
from desktop.fileio import atomic_write

FORMAT = "chatkit-desktop-export"
VERSION = 1


def _read_only(database: Path) -> sqlite3.Connection:
    if not database.is_file():
        raise StoreError(f"There is no chat history at {database}.")
    return sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)


def _thread(db: sqlite3.Connection, thread_id: str, data: str, files: Path) -> dict[str, Any]:
    items = [
        json.loads(r[0])
        for r in db.execute("SELECT data FROM items WHERE thread_id = ? ORDER BY seq", (thread_id,))
    ]
    feedback = dict(
        db.execute(
            "SELECT item_id, kind FROM feedback WHERE thread_id = ?", (thread_id,)
        ).fetchall()
    )
    attachments = []
    for attachment_id, record in db.execute(
        "SELECT id, data FROM attachments WHERE thread_id = ? AND stored_size IS NOT NULL ORDER BY created_at",
        (thread_id,),
    ):
        path = files / attachment_id
        content = base64.b64encode(path.read_bytes()).decode() if path.is_file() else None
        attachments.append({"attachment": json.loads(record), "content_base64": content})
    return {
        "thread": json.loads(data),
        "items": items,
        "feedback": feedback,
        "attachments": attachments,
    }


def export_document(data_dir: Path, thread_id: str | None = None) -> dict[str, Any]:
    db = _read_only(data_dir / "chats.db")
    try:
        if thread_id is None:
            rows = db.execute("SELECT id, data FROM threads ORDER BY seq").fetchall()
        else:
            rows = db.execute("SELECT id, data FROM threads WHERE id = ?", (thread_id,)).fetchall()
            if not rows:
                raise NotFound(f"There is no chat {thread_id[:80]}.")
        files = data_dir / "attachments"
        threads = [_thread(db, tid, data, files) for tid, data in rows]
        assistants = [
            {
                "id": r[0],
                "name": r[1],
                "instructions": r[2],
                "model": r[3],
                "tools": json.loads(r[4]),
                "builtin": bool(r[5]),
            }
            for r in db.execute(
                "SELECT id, name, instructions, model, tools, builtin FROM assistants ORDER BY created_at"
            )
        ]
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"Can't read the chat history: {exc}.") from exc
    finally:
        db.close()
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": datetime.now(UTC).isoformat(),
        "app_version": __version__,
        "threads": threads,
        "assistants": assistants,
    }


def export_json(data_dir: Path, out: Path, thread_id: str | None = None) -> int:
    """Write the export to `out`; returns how many chats it holds."""
    document = export_document(data_dir, thread_id)
    try:
        atomic_write(out, json.dumps(document, ensure_ascii=False))
    except OSError as exc:
        raise StoreError(f"Can't write {out}: {exc.strerror or exc}.") from exc
    return len(document["threads"])
