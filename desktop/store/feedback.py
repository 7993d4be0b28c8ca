"""Feedback on replies (thumbs up or down): saved through the protocol's `items.feedback`, and
read back and taken back through the app's own routes."""

from __future__ import annotations

import sqlite3
import time

from chatkit.store import NotFoundError

from desktop.store.connections import Database


class Feedback:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def save(self, thread_id: str, item_ids: list[str], kind: str) -> None:
        def w(db: sqlite3.Connection) -> None:
            if db.execute("SELECT 1 FROM threads WHERE id = ?", (thread_id,)).fetchone() is None:
                raise NotFoundError(f"Thread {thread_id} not found")
            now = time.time()
            db.executemany(
                "INSERT INTO feedback (thread_id, item_id, kind, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (thread_id, item_id) DO UPDATE SET kind = excluded.kind, "
                "created_at = excluded.created_at",
                [(thread_id, item_id, kind, now) for item_id in item_ids],
            )

        await self._db.write(w)

    async def clear(self, thread_id: str, item_id: str) -> None:
        def w(db: sqlite3.Connection) -> None:
            db.execute(
                "DELETE FROM feedback WHERE thread_id = ? AND item_id = ?", (thread_id, item_id)
            )

        await self._db.write(w)

    async def load(self, thread_id: str) -> dict[str, str]:
        def q(db: sqlite3.Connection) -> dict[str, str]:
            rows = db.execute(
                "SELECT item_id, kind FROM feedback WHERE thread_id = ?", (thread_id,)
            )
            return {r[0]: r[1] for r in rows}

        return await self._db.read(q)
