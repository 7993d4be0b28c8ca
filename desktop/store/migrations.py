"""Named, append-only schema migrations, recorded in the `_migrations` table.

Rules: never edit or reorder a migration once it has shipped; add a new one instead. Each
migration runs inside the single transaction that `migrate()` opens, so a failure leaves the file
exactly as it was.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from desktop.errors import StoreError

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[Migration] = []
migration = MIGRATIONS.append


@migration
def m001_initial(db: sqlite3.Connection) -> None:
    # `seq` values come from one counter shared by threads and items: a thread's `active_seq` is
    # the seq of its newest item, which gives "most recently active first" a strict total order
    # with no ties, whatever the wall clock says.
    db.execute(
        "CREATE TABLE sequence (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL)"
    )
    db.execute("INSERT INTO sequence (id, value) VALUES (1, 0)")
    db.execute(
        """
        CREATE TABLE threads (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            seq INTEGER NOT NULL,
            active_seq INTEGER NOT NULL,
            data TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX threads_by_activity ON threads (active_seq)")
    db.execute(
        """
        CREATE TABLE items (
            thread_id TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
            id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            type TEXT NOT NULL,
            created_at TEXT NOT NULL,
            data TEXT NOT NULL,
            PRIMARY KEY (thread_id, id)
        )
        """
    )
    db.execute("CREATE UNIQUE INDEX items_by_thread_seq ON items (thread_id, seq)")
    db.execute(
        """
        CREATE TABLE attachments (
            id TEXT PRIMARY KEY,
            thread_id TEXT,
            mime_type TEXT NOT NULL,
            declared_size INTEGER NOT NULL,
            stored_size INTEGER,
            created_at REAL NOT NULL,
            data TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX attachments_by_thread ON attachments (thread_id)")
    db.execute(
        """
        CREATE TABLE feedback (
            thread_id TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
            item_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (thread_id, item_id)
        )
        """
    )


def _applied(db: sqlite3.Connection) -> list[str]:
    exists = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'"
    ).fetchone()
    if not exists:
        return []
    return [row[0] for row in db.execute("SELECT name FROM _migrations ORDER BY rowid")]


def check_not_newer(db: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> None:
    """Refuse a file written by a newer app version, before anything touches it."""
    known = {m.__name__ for m in migrations}
    unknown = [name for name in _applied(db) if name not in known]
    if unknown:
        raise StoreError(
            "This chat history was written by a newer version of ChatKit Desktop "
            f"(schema step '{unknown[-1]}'). Update the app to open it; the file was left untouched."
        )


def pending(
    db: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS
) -> list[Migration]:
    done = set(_applied(db))
    return [m for m in migrations if m.__name__ not in done]


def migrate(db: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> list[str]:
    """Apply every pending migration in one transaction. Returns the names applied."""
    check_not_newer(db, migrations)
    todo = pending(db, migrations)
    if not todo:
        return []
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(
            "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        for step in todo:
            step(db)
            db.execute(
                "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                (step.__name__, datetime.now(UTC).isoformat()),
            )
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return [m.__name__ for m in todo]
