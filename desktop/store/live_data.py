"""Replacing the history of a running app in place: restoring a backup, and deleting everything.

The app's connections stay open. The new contents are copied into the writer's connection with
SQLite's backup API, so every reader sees them at its next query, and nothing can write in
between: the writer is held for the whole swap, attachments included. Each step that can fail
comes before anything is replaced, so a failure changes nothing. The history is checked as it
is loaded (restore_checks.py): its schema must be exactly what the migrations it records make.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import tempfile
from collections.abc import Sequence
from pathlib import Path

from desktop.errors import BackupRefused
from desktop.fileio import remove_tree
from desktop.store.backups import BackupInfo, backups_dir, stage_attachments, swap_folder
from desktop.store.connections import Database
from desktop.store.database import prepare_database
from desktop.store.migrations import MIGRATIONS, Migration, migrate
from desktop.store.restore_checks import DB_NAME, check_schema
from desktop.store.side_files import put_side_files, stage_side_files


def _load_into(
    db: sqlite3.Connection, source: Path, migrations: Sequence[Migration] = MIGRATIONS
) -> None:
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    try:
        ok = src.execute("PRAGMA quick_check").fetchone()
        if not ok or ok[0] != "ok":
            raise BackupRefused(
                f"{source} is damaged ({ok[0] if ok else 'no answer'}); nothing was changed."
            )
        # One read transaction: the schema checked is the one copied, even if the file changes.
        src.execute("BEGIN")
        check_schema(src, source.parent.name, migrations)
        src.backup(db)
    except sqlite3.DatabaseError as exc:
        raise BackupRefused(f"{source} is damaged ({exc}); nothing was changed.") from exc
    finally:
        src.close()
    # An older backup is brought up to this version's schema, as a launch would.
    migrate(db, migrations)
    # The old pages leave the write-ahead log as well as the file.
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


async def restore_into(database: Database, data_dir: Path, backup: BackupInfo) -> None:
    """Make the running app's history, attachments, settings and MCP servers exactly those of
    `backup`. (The caller backs up the current state first.)"""
    staged = stage_attachments(backup, data_dir)
    try:
        side = stage_side_files(backup.path, backup.name, outside=backup.outside)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise

    def swap(db: sqlite3.Connection) -> None:
        try:
            _load_into(db, backup.path / DB_NAME)
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise
        swap_folder(database.attachments_dir, staged)

    await database.exclusive(swap)
    put_side_files(side, data_dir)


async def erase_into(database: Database, data_dir: Path) -> None:
    """Empty the running app's history and attachments, and remove every backup."""
    with tempfile.TemporaryDirectory(prefix=".erase-", dir=data_dir) as tmp:
        empty = Path(tmp) / DB_NAME
        prepare_database(empty, Path(tmp) / "attachments")
        staged = data_dir / ".erased-attachments"
        shutil.rmtree(staged, ignore_errors=True)
        staged.mkdir(mode=0o700)

        def swap(db: sqlite3.Connection) -> None:
            with contextlib.suppress(sqlite3.Error):
                # Deleted pages are overwritten, not just marked free.
                db.execute("PRAGMA secure_delete = ON")
            _load_into(db, empty)
            swap_folder(database.attachments_dir, staged)

        await database.exclusive(swap)
    remove_tree(backups_dir(data_dir))
