"""Opening the chat history file: checks, WAL, migrations, permissions. No chatkit here.

Kept apart from the Store so that a launch can open (and refuse) the file before the heavy chatkit
imports: the first page must not wait for them.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Sequence
from pathlib import Path

from desktop.errors import StoreError
from desktop.fileio import owner_only
from desktop.store.backups import create_backup
from desktop.store.migrations import MIGRATIONS, Migration, check_not_newer, migrate, pending


def connect(path: Path, *, read_only: bool) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
    db.execute("PRAGMA busy_timeout = 10000")
    db.execute("PRAGMA foreign_keys = ON")
    # FULL: a message the user sent must survive a crash or power loss right after it.
    db.execute("PRAGMA synchronous = FULL")
    # A larger page cache and memory-mapped reads keep deep pages of a big history as cheap
    # as the first page.
    db.execute("PRAGMA cache_size = -16384")
    db.execute("PRAGMA mmap_size = 268435456")
    if read_only:
        db.execute("PRAGMA query_only = ON")
    return db


def prepare_database(
    path: Path, attachments_dir: Path, migrations: Sequence[Migration] = MIGRATIONS
) -> None:
    """Create or migrate the file, or refuse it with a sentence for the user (StoreError)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        attachments_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"Can't create the data folder {path.parent}: {exc.strerror}.") from exc
    existed = path.exists()
    if existed:
        _check_readable(path, migrations)
    _check_writable(path)
    db = connect(path, read_only=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        if existed:
            _backup_before_migrating(db, path, migrations)
        migrate(db, migrations)
    except sqlite3.DatabaseError as exc:
        raise StoreError(describe_error(path, exc)) from exc
    finally:
        db.close()
    # Created before the app restricted new files, or by another tool: owner-only.
    for each in (path.parent, attachments_dir, path):
        owner_only(each)


def _backup_before_migrating(
    db: sqlite3.Connection, path: Path, migrations: Sequence[Migration]
) -> None:
    """An update that changes the schema first backs up the history as it was (a failed
    backup stops the update: the file is left as it is)."""
    todo = pending(db, migrations)
    has_data = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'threads'").fetchone()
    if todo and has_data:
        create_backup(path.parent, f"before-{todo[0].__name__}", database=path)


def _check_readable(path: Path, migrations: Sequence[Migration]) -> None:
    # Look before touching: a newer or foreign file must be left byte-for-byte as it was.
    # immutable=1 makes this connection write nothing at all, not even WAL recovery.
    uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
    try:
        probe = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise StoreError(describe_error(path, exc)) from exc
    try:
        tables = {
            r[0] for r in probe.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        if tables and "_migrations" not in tables:
            raise StoreError(
                f"{path} is another program's database, not a ChatKit Desktop chat "
                "history. It was left untouched; move it aside to start a new history."
            )
        check_not_newer(probe, migrations)
    except sqlite3.DatabaseError as exc:
        raise StoreError(describe_error(path, exc)) from exc
    finally:
        probe.close()


def _check_writable(path: Path) -> None:
    # SQLite opens a read-only file without complaint and fails every write later: say so now.
    # It also needs to create its journal files beside the file. A file its owner marked
    # read-only counts as read-only even for an administrator, who could write it anyway.
    for each in (path, path.parent):
        if each.exists() and (
            not os.access(each, os.W_OK) or not each.stat().st_mode & stat.S_IWUSR
        ):
            what = "file" if each == path else "folder"
            raise StoreError(
                f"The chat history {what} {each} is read-only, so nothing could be saved. "
                "Make it writable, then start the app again."
            )


def describe_error(path: Path, exc: sqlite3.Error) -> str:
    text = str(exc)
    if "not a database" in text or "malformed" in text:
        return (
            f"The chat history file {path} is damaged or is not a ChatKit Desktop "
            "database. It was left untouched; move it aside to start a new history."
        )
    if "readonly" in text or "unable to open" in text:
        return f"Can't write the chat history file {path}: check its permissions."
    return f"The chat history file {path} can't be used: {text}."
