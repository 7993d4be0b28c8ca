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


@migration
def m002_assistants(db: sqlite3.Connection) -> None:
    # `instructions` NULL on the built-in assistant means "not yet taken from the settings file's
    # system prompt": the app copies it over once (the schema step can't read settings).
    db.execute(
        """
        CREATE TABLE assistants (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            instructions TEXT,
            model TEXT,
            tools TEXT NOT NULL DEFAULT '[]',
            builtin INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )
        """
    )
    db.execute(
        "INSERT INTO assistants (id, name, instructions, model, tools, builtin, created_at, "
        "updated_at) VALUES ('default', 'Assistant', NULL, NULL, '[\"search_chats\", "
        "\"current_time\"]', 1, strftime('%s', 'now'), strftime('%s', 'now'))"
    )


# The text of a stored item that search finds: message text, tag names and attachment names.
# Written in SQL so that the triggers, not every code path that saves an item, keep it current.
_ITEM_TEXT = """
    coalesce((SELECT group_concat(json_extract(c.value, '$.text'), ' ')
              FROM json_each({row}.data, '$.content') AS c), '')
    || ' ' ||
    coalesce((SELECT group_concat(json_extract(a.value, '$.name'), ' ')
              FROM json_each({row}.data, '$.attachments') AS a), '')
"""
_SEARCHED_TYPES = "('user_message', 'assistant_message')"


@migration
def m003_search_index(db: sqlite3.Connection) -> None:
    # Plain FTS5 tables keyed by the rowid of the item or thread they index: deleting by rowid
    # is a direct lookup, and `ORDER BY rowid DESC` walks the newest matches first.
    db.execute(
        "CREATE VIRTUAL TABLE item_search USING fts5(text, tokenize = 'unicode61 remove_diacritics 2')"
    )
    db.execute(
        "CREATE VIRTUAL TABLE title_search USING fts5(title, tokenize = 'unicode61 remove_diacritics 2')"
    )
    new_text = _ITEM_TEXT.format(row="NEW")
    db.execute(
        f"""
        CREATE TRIGGER items_search_insert AFTER INSERT ON items
        WHEN NEW.type IN {_SEARCHED_TYPES}
        BEGIN
            INSERT INTO item_search (rowid, text) VALUES (NEW.rowid, {new_text});
        END
        """  # noqa: S608 (constant SQL fragments, no user input)
    )
    db.execute(
        f"""
        CREATE TRIGGER items_search_update AFTER UPDATE OF data ON items
        BEGIN
            DELETE FROM item_search WHERE rowid = OLD.rowid;
            INSERT INTO item_search (rowid, text)
                SELECT NEW.rowid, {new_text} WHERE NEW.type IN {_SEARCHED_TYPES};
        END
        """  # noqa: S608 (constant SQL fragments, no user input)
    )
    db.execute(
        """
        CREATE TRIGGER items_search_delete AFTER DELETE ON items
        BEGIN
            DELETE FROM item_search WHERE rowid = OLD.rowid;
        END
        """
    )
    db.execute(
        """
        CREATE TRIGGER threads_search_insert AFTER INSERT ON threads
        BEGIN
            INSERT INTO title_search (rowid, title)
                VALUES (NEW.rowid, coalesce(json_extract(NEW.data, '$.title'), ''));
        END
        """
    )
    db.execute(
        """
        CREATE TRIGGER threads_search_update AFTER UPDATE OF data ON threads
        WHEN json_extract(OLD.data, '$.title') IS NOT json_extract(NEW.data, '$.title')
        BEGIN
            DELETE FROM title_search WHERE rowid = OLD.rowid;
            INSERT INTO title_search (rowid, title)
                VALUES (NEW.rowid, coalesce(json_extract(NEW.data, '$.title'), ''));
        END
        """
    )
    db.execute(
        """
        CREATE TRIGGER threads_search_delete AFTER DELETE ON threads
        BEGIN
            DELETE FROM title_search WHERE rowid = OLD.rowid;
        END
        """
    )
    # Index what is already there.
    db.execute(
        f"INSERT INTO item_search (rowid, text) SELECT rowid, {_ITEM_TEXT.format(row='items')} "  # noqa: S608
        f"FROM items WHERE type IN {_SEARCHED_TYPES}"
    )
    db.execute(
        "INSERT INTO title_search (rowid, title) "
        "SELECT rowid, coalesce(json_extract(data, '$.title'), '') FROM threads"
    )


@migration
def m004_tool_approvals(db: sqlite3.Connection) -> None:
    # A run paused for the user's approval, kept apart from the thread (its state holds the
    # turn's whole input, attachments included, and is read only when a card is answered).
    # Answered and expired runs stay (without their state) so a late click can be told why.
    db.execute(
        """
        CREATE TABLE pending_runs (
            id TEXT PRIMARY KEY,
            thread_id TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
            state TEXT NOT NULL,
            assistant_id TEXT,
            model TEXT,
            created_at REAL NOT NULL,
            -- 'waiting', then 'resumed' (claimed once) or 'expired'; the state is cleared then.
            status TEXT NOT NULL DEFAULT 'waiting'
        )
        """
    )
    db.execute("CREATE INDEX pending_runs_by_thread ON pending_runs (thread_id)")
    # One row per tool call waiting in such a run. A decision is taken by the first writer
    # (`decision IS NULL` in the update), so a double click or a second window decides nothing.
    db.execute(
        """
        CREATE TABLE tool_approvals (
            card_id TEXT PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES pending_runs (id) ON DELETE CASCADE,
            call_id TEXT NOT NULL,
            tool_key TEXT NOT NULL,
            decision TEXT,
            decided_at REAL
        )
        """
    )
    db.execute("CREATE INDEX tool_approvals_by_run ON tool_approvals (run_id)")
    # MCP servers are offered to the built-in assistant (each call still asks first).
    db.execute(
        "UPDATE assistants SET tools = json_insert(tools, '$[#]', 'mcp:*') "
        "WHERE id = 'default' AND NOT EXISTS "
        "(SELECT 1 FROM json_each(assistants.tools) WHERE value = 'mcp:*')"
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
