"""threads.list paging: most recently active first, and stable while threads move.

A thread that gets a new item moves to the top. Paging must still neither skip nor repeat a
thread, so every page after the first is read against the snapshot the first page saw.
"""

from __future__ import annotations

import sqlite3

from chatkit.store import NotFoundError
from chatkit.types import Page, ThreadMetadata

from desktop.store.connections import Database
from desktop.store.records import read_order
from desktop.store.thread_cursors import ThreadCursors


class ThreadPages:
    def __init__(self, database: Database, cursors: ThreadCursors | None = None) -> None:
        self.database = database
        self.cursors = cursors or ThreadCursors()

    async def load(self, limit: int, after: str | None, order: str) -> Page[ThreadMetadata]:
        """Most recently active first (desc) or last (asc).

        A thread that gets a new item moves to the top. Paging must still neither skip nor repeat
        a thread, so every page after the first is read against the snapshot the first page saw:
        each thread sits where it was at that snapshot, which its items' seqs let us rebuild.
        """
        direction = read_order(order)
        limit = max(1, min(limit, 500))
        remembered = None if after is None else self.cursors.get(direction, after)

        def q(db: sqlite3.Connection) -> tuple[list[tuple[str, str, int]], int]:
            if remembered is not None:
                snap, pos = remembered
            else:
                snap = int(db.execute("SELECT value FROM sequence").fetchone()[0])
                pos = None
                if after is not None:
                    row = db.execute(
                        "SELECT active_seq FROM threads WHERE id = ?", (after,)
                    ).fetchone()
                    if row is None:
                        raise NotFoundError(f"Thread {after} not found")
                    pos = int(row[0])
            # One bound per side, so SQLite scans only the index range it returns. (With two
            # upper bounds it may seek on the looser one and filter thousands of rows.)
            if direction == "desc":
                hi = snap if pos is None else min(snap, pos - 1)
                sql = "WHERE active_seq <= :hi ORDER BY active_seq DESC"
                params = {"hi": hi, "n": limit + 1}
            else:
                sql = "WHERE active_seq > :lo AND active_seq <= :hi ORDER BY active_seq ASC"
                params = {"lo": pos or 0, "hi": snap, "n": limit + 1}
            rows: list[tuple[str, str, int]] = db.execute(
                f"SELECT id, data, active_seq FROM threads {sql} LIMIT :n",  # noqa: S608
                params,
            ).fetchall()
            # Threads active since the snapshot: put them back where the snapshot had them.
            moved = db.execute(
                "SELECT t.id, t.data, max(t.seq, coalesce((SELECT max(i.seq) FROM items i "
                "WHERE i.thread_id = t.id AND i.seq <= :snap), 0)) "
                "FROM threads t WHERE t.active_seq > :snap AND t.seq <= :snap",
                {"snap": snap},
            ).fetchall()
            for row in moved:
                p = int(row[2])
                if pos is None or (p < pos if direction == "desc" else p > pos):
                    rows.append((row[0], row[1], p))
            rows.sort(key=lambda r: r[2], reverse=direction == "desc")
            return rows[: limit + 1], snap

        rows, snap = await self.database.read(q)
        has_more = len(rows) > limit
        rows = rows[:limit]
        # chatkit's contract: `after` names the last row only while there is more to read.
        last = rows[-1][0] if rows and has_more else None
        if last is not None:
            self.cursors.remember(direction, last, snap, rows[-1][2])
        return Page(
            data=[ThreadMetadata.model_validate_json(r[1]) for r in rows],
            has_more=has_more,
            after=last,
        )
