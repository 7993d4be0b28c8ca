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
import contextlib
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from desktop import __version__
from desktop.errors import NotFound, StoreError
from desktop.fileio import owner_only

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


def _assistants(db: sqlite3.Connection) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT id, name, instructions, model, tools, builtin FROM assistants ORDER BY created_at"
    )
    return [
        {
            "id": r[0],
            "name": r[1],
            "instructions": r[2],
            "model": r[3],
            "tools": json.loads(r[4]),
            "builtin": bool(r[5]),
        }
        for r in rows
    ]


def _header() -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": datetime.now(UTC).isoformat(),
        "app_version": __version__,
    }


def iter_threads(data_dir: Path, thread_id: str | None = None) -> Iterator[dict[str, Any]]:
    """The chats one at a time, oldest first (or the one chat asked for)."""
    db = _read_only(data_dir / "chats.db")
    try:
        if thread_id is None:
            rows = db.execute("SELECT id, data FROM threads ORDER BY seq")
        else:
            rows = db.execute("SELECT id, data FROM threads WHERE id = ?", (thread_id,))
        files = data_dir / "attachments"
        found = False
        for tid, data in rows.fetchall() if thread_id else rows:
            found = True
            yield _thread(db, tid, data, files)
        if thread_id is not None and not found:
            raise NotFound(f"There is no chat {thread_id[:80]}.")
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"Can't read the chat history: {exc}.") from exc
    finally:
        db.close()


def export_document(data_dir: Path, thread_id: str | None = None) -> dict[str, Any]:
    """The whole export in memory (tests, small histories); export_json streams it."""
    threads = list(iter_threads(data_dir, thread_id))
    db = _read_only(data_dir / "chats.db")
    try:
        assistants = _assistants(db)
    finally:
        db.close()
    return _header() | {"threads": threads, "assistants": assistants}


def export_json(data_dir: Path, out: Path, thread_id: str | None = None) -> int:
    """Write the export to `out`, a chat at a time; returns how many chats it holds."""
    db = _read_only(data_dir / "chats.db")
    try:
        assistants = _assistants(db)
    finally:
        db.close()
    tmp = out.with_name(f".{out.name}.partial")
    count = 0
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            owner_only(tmp)
            handle.write(json.dumps(_header(), ensure_ascii=False)[:-1] + ', "threads": [')
            for n, entry in enumerate(iter_threads(data_dir, thread_id)):
                handle.write(("," if n else "") + json.dumps(entry, ensure_ascii=False))
                count += 1
            handle.write('], "assistants": ' + json.dumps(assistants, ensure_ascii=False) + "}")
        tmp.replace(out)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise StoreError(f"Can't write {out}: {exc.strerror or exc}.") from exc
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return count
