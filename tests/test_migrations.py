"""Schema migrations: from a blank file, from every shipped schema, and the failure cases."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from desktop.context import RequestContext
from desktop.errors import StoreError
from desktop.store import SQLiteStore
from desktop.store.migrations import MIGRATIONS, migrate

SCHEMAS = Path(__file__).parent / "schemas"
CTX = RequestContext()


def schema_of(db: sqlite3.Connection) -> set[str]:
    rows = db.execute(
        "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"
    ).fetchall()
    return {" ".join(r[0].split()) for r in rows}


def fixture_schema(path: Path) -> set[str]:
    db = sqlite3.connect(":memory:")
    db.executescript(path.read_text())
    return schema_of(db)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_migration_has_a_frozen_schema_file() -> None:
    names = [m.__name__ for m in MIGRATIONS]
    assert sorted(p.stem for p in SCHEMAS.glob("*.sql")) == names


@pytest.mark.parametrize("count", range(1, len(MIGRATIONS) + 1))
def test_shipped_migrations_are_unchanged(count: int) -> None:
    """Applying the first N migrations still yields exactly the schema that shipped."""
    db = sqlite3.connect(":memory:", isolation_level=None)
    migrate(db, MIGRATIONS[:count])
    assert schema_of(db) == fixture_schema(SCHEMAS / f"{MIGRATIONS[count - 1].__name__}.sql")


async def test_blank_file_is_created_and_usable(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "chats.db")
    try:
        page = await store.load_threads(10, None, "desc", CTX)
        assert page.data == []
    finally:
        store.close()
    db = sqlite3.connect(tmp_path / "chats.db")
    applied = [r[0] for r in db.execute("SELECT name FROM _migrations ORDER BY rowid")]
    assert applied == [m.__name__ for m in MIGRATIONS]


@pytest.mark.parametrize("schema", sorted(SCHEMAS.glob("*.sql")), ids=lambda p: p.stem)
async def test_upgrade_from_each_shipped_schema_keeps_data(tmp_path: Path, schema: Path) -> None:
    path = tmp_path / "chats.db"
    db = sqlite3.connect(path)
    db.executescript(schema.read_text())
    db.close()
    store = SQLiteStore(path)
    try:
        old = await store.load_thread("thr_old", CTX)
        assert old.title == "From version 0.1"
        items = await store.load_thread_items("thr_old", None, 10, "asc", CTX)
        assert [i.id for i in items.data] == ["msg_old"]
        page = await store.load_threads(10, None, "desc", CTX)
        assert [t.id for t in page.data] == ["thr_old"]
    finally:
        store.close()


def test_newer_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "chats.db"
    SQLiteStore(path).open()
    db = sqlite3.connect(path)
    db.execute("INSERT INTO _migrations (name, applied_at) VALUES ('m999_from_the_future', 'x')")
    db.commit()
    db.close()
    before = digest(path)
    with pytest.raises(StoreError, match="newer version"):
        SQLiteStore(path).open()
    assert digest(path) == before


def test_failed_migration_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "chats.db"
    SQLiteStore(path).open()
    before = digest(path)

    def m002_adds_then_fails(db: sqlite3.Connection) -> None:
        db.execute("ALTER TABLE threads ADD COLUMN pinned INTEGER")
        db.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        SQLiteStore(path, migrations=[*MIGRATIONS, m002_adds_then_fails]).open()
    assert digest(path) == before
    db = sqlite3.connect(path)
    try:
        columns = [r[1] for r in db.execute("PRAGMA table_info(threads)")]
        assert "pinned" not in columns
        assert (
            db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'half_done'").fetchone()[0]
            == 0
        )
        assert [r[0] for r in db.execute("SELECT name FROM _migrations")] == [
            m.__name__ for m in MIGRATIONS
        ]
    finally:
        db.close()
    SQLiteStore(path).open()  # and the app still opens it


def test_corrupt_file_gets_a_clear_error_and_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "chats.db"
    path.write_bytes(b"this is not a database, just some bytes that are long enough" * 100)
    before = digest(path)
    with pytest.raises(StoreError, match="damaged or is not a ChatKit Desktop database"):
        SQLiteStore(path).open()
    assert digest(path) == before
