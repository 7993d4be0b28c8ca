"""What `@` can mention: past chats (found by the search index) and uploaded files, as ChatKit
`Entity` objects (`{id, title, icon, group, interactive, data}`), and a short preview of one."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from desktop.store.connections import Database
from desktop.store.search import ChatSearch

CHAT_PREFIX = "chat:"
FILE_PREFIX = "file:"
MAX_ENTITIES = 20


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class Entities:
    def __init__(self, database: Database, search: ChatSearch) -> None:
        self._db = database
        self._search = search

    async def find(self, text: str, limit: int = 10) -> list[dict[str, Any]]:
        """Chats whose words match (the most recently active first, or the newest chats when
        nothing is typed yet), then files whose names contain the text."""
        limit = max(1, min(limit, MAX_ENTITIES))
        text = text.strip()[:200]
        chats: list[dict[str, Any]] = []
        if text:
            for hit in await self._search.search(text, limit):
                chats.append(self._chat(hit.thread_id, hit.title, hit.created_at[:10]))
        else:
            for thread_id, title, created in await self._db.read(_recent_chats(limit)):
                chats.append(self._chat(thread_id, title, created[:10]))
        files = await self._db.read(_files(text, limit))
        return [*chats, *(self._file(*f) for f in files)][:limit]

    @staticmethod
    def _chat(thread_id: str, title: str | None, day: str) -> dict[str, Any]:
        return {
            "id": f"{CHAT_PREFIX}{thread_id}",
            "title": title or "New chat",
            "icon": "book-open",
            "group": "Chats",
            "interactive": True,
            "data": {"type": "chat", "thread_id": thread_id, "date": day},
        }

    @staticmethod
    def _file(attachment_id: str, name: str, mime: str) -> dict[str, Any]:
        return {
            "id": f"{FILE_PREFIX}{attachment_id}",
            "title": name,
            "icon": "document",
            "group": "Files",
            "interactive": True,
            "data": {"type": "file", "attachment_id": attachment_id, "mime_type": mime},
        }

    async def chat_text(self, thread_id: str, max_chars: int) -> tuple[str | None, str] | None:
        """A chat's title and its newest messages as text (oldest first), within `max_chars`."""
        return await self._db.read(_chat_text(thread_id, max_chars))


def _recent_chats(limit: int) -> Any:
    def q(db: sqlite3.Connection) -> list[tuple[str, str | None, str]]:
        return db.execute(
            "SELECT id, json_extract(data, '$.title'), created_at FROM threads "
            "ORDER BY active_seq DESC LIMIT ?",
            (limit,),
        ).fetchall()

    return q


def _files(text: str, limit: int) -> Any:
    def q(db: sqlite3.Connection) -> list[tuple[str, str, str]]:
        # Uploaded and sent files only (a pending upload has no thread yet).
        return db.execute(
            "SELECT id, json_extract(data, '$.name'), mime_type FROM attachments "
            "WHERE stored_size IS NOT NULL AND thread_id IS NOT NULL "
            "AND json_extract(data, '$.name') LIKE ? ESCAPE '\\' "
            "ORDER BY created_at DESC LIMIT ?",
            (_like(text), limit),
        ).fetchall()

    return q


def _chat_text(thread_id: str, max_chars: int) -> Any:
    def q(db: sqlite3.Connection) -> tuple[str | None, str] | None:
        row = db.execute(
            "SELECT json_extract(data, '$.title') FROM threads WHERE id = ?", (thread_id,)
        ).fetchone()
        if row is None:
            return None
        lines: list[str] = []
        used = 0
        for kind, data in db.execute(
            "SELECT type, data FROM items WHERE thread_id = ? AND type IN "
            "('user_message', 'assistant_message') ORDER BY seq DESC",
            (thread_id,),
        ):
            content = json.loads(data).get("content") or []
            text = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            line = f"{'User' if kind == 'user_message' else 'Assistant'}: {text.strip()}"
            if used + len(line) > max_chars:
                if not lines:
                    lines.append(line[:max_chars])
                break
            lines.append(line)
            used += len(line) + 1
        return row[0], "\n".join(reversed(lines))

    return q
