"""What a backup must look like before it is restored: exactly the schema this app's migrations
make, and nothing but plain files and folders.

A backup folder can come from anywhere (`restore PATH`), so its history and files are checked as
untrusted input. Its `chats.db` could carry a trigger that writes into every new chat, and its
attachments could be links to files or folders outside it; either is refused before anything
changes. (Its settings and MCP servers are dealt with in side_files.py: from outside the app's
backups folder they come back unable to act.)
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

from desktop.errors import BackupRefused, StoreError
from desktop.store.migrations import MIGRATIONS, Migration, check_not_newer, migrate

DB_NAME = "chats.db"
# Files of the data dir a backup holds beside the database (never the API key).
SIDE_FILES = ("settings.json", "mcp.json")
# Settings and MCP servers are small JSON files; anything larger is not one of ours.
MAX_SIDE_FILE_BYTES = 4 * 1024 * 1024
# How deep folders may be nested among a backup's attachments (the app makes none).
MAX_DEPTH = 16
# Windows junctions and other reparse points redirect like links do.
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BINARY = getattr(os, "O_BINARY", 0)

# name -> (type, tbl_name, what must match). For a trigger, view, index or virtual table: its
# SQL, whitespace collapsed; they are the app's own text, and the ones that can act. For an
# ordinary table: its columns and foreign keys, not its SQL, since SQLite's FTS5 writes the
# text of its shadow tables itself, differently from one SQLite version (machine) to the next.
Schema = dict[str, tuple[str, str, object]]


def _sql(sql: object) -> str | None:
    return " ".join(str(sql).split()) if sql is not None else None


def _table(db: sqlite3.Connection, name: str) -> object:
    # (name, type, notnull, dflt_value, pk, hidden: generated or not) of each column (a type's
    # case means nothing to SQLite), and where its foreign keys point and what they do on a
    # change (ON DELETE CASCADE acts).
    columns = db.execute(
        'SELECT name, upper(type), "notnull", dflt_value, pk, hidden FROM pragma_table_xinfo(?)',
        (name,),
    ).fetchall()
    keys = db.execute(
        'SELECT id, seq, "table", "from", "to", on_update, on_delete, "match" '
        "FROM pragma_foreign_key_list(?)",
        (name,),
    ).fetchall()
    return (tuple(columns), tuple(keys))


def schema_of(db: sqlite3.Connection) -> Schema:
    rows = db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    schema: Schema = {}
    for kind, name, table, sql in rows:
        ordinary = kind == "table" and not str(sql or "").upper().startswith("CREATE VIRTUAL")
        what = _table(db, str(name)) if ordinary else _sql(sql)
        schema[str(name)] = (str(kind), str(table), what)
    return schema


def expected_schema(count: int, migrations: Sequence[Migration] = MIGRATIONS) -> Schema:
    """The schema the first `count` migrations make, by running them: no hand-kept copy of it
    can drift from what the app really creates."""
    db = sqlite3.connect(":memory:", isolation_level=None)
    try:
        if count:
            migrate(db, migrations[:count])
        return schema_of(db)
    finally:
        db.close()


def _applied(db: sqlite3.Connection, actual: Schema) -> list[str]:
    # Read only from a real table: a view of that name would be the backup's own query.
    if actual.get("_migrations", ("",))[0] != "table":
        return []
    return [str(r[0]) for r in db.execute("SELECT name FROM _migrations ORDER BY rowid")]


def check_schema(
    db: sqlite3.Connection, label: str, migrations: Sequence[Migration] = MIGRATIONS
) -> None:
    """Refuse a database whose schema isn't exactly the one the migrations it records make."""
    check_not_newer(db, migrations)
    actual = schema_of(db)
    applied = _applied(db, actual)
    names = [m.__name__ for m in migrations]
    if applied != names[: len(applied)]:
        raise BackupRefused(
            f"{label} can't be restored: its record of schema steps ({', '.join(applied)}) is "
            "not one this app wrote. Nothing was changed."
        )
    expected = expected_schema(len(applied), migrations)
    extra = sorted(set(actual) - set(expected))
    missing = sorted(set(expected) - set(actual))
    changed = sorted(n for n in set(actual) & set(expected) if actual[n] != expected[n])
    problems = [f"{actual[n][0]} {n!r} this app never creates" for n in extra[:3]]
    problems += [f"{actual[n][0]} {n!r} differs from this app's" for n in changed[:3]]
    problems += [f"{expected[n][0]} {n!r} is missing" for n in missing[:3]]
    if problems:
        raise BackupRefused(
            f"{label} can't be restored: its chat history was changed outside the app "
            f"({'; '.join(problems)}). Nothing was changed."
        )


def check_database(path: Path, label: str, migrations: Sequence[Migration] = MIGRATIONS) -> None:
    """Open a backup's history read-only and check its schema (not its pages: the copy is
    checked whole when it is made)."""
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BackupRefused(f"{path} is damaged ({exc}); nothing was changed.") from exc
    try:
        check_schema(db, label, migrations)
    except sqlite3.DatabaseError as exc:
        raise BackupRefused(f"{path} is damaged ({exc}); nothing was changed.") from exc
    finally:
        db.close()


def _refuse(label: str, path: Path, what: str) -> BackupRefused:
    return BackupRefused(
        f"{label} can't be restored: {path} is {what}, and a backup holds only plain files and "
        "folders. Nothing was changed."
    )


def _kind(info: os.stat_result) -> str:
    mode = info.st_mode
    if getattr(info, "st_reparse_tag", 0) or stat.S_ISLNK(mode):
        return "a link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISREG(mode):
        return "a file"
    return "a special file (a device, pipe or socket)"


def _walk(root: Path, label: str) -> Iterator[tuple[Path, str]]:
    """Every entry below `root` as (path, kind), never through a link (a stack, not recursion:
    a backup's folders can be nested as deep as its maker liked)."""
    stack = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                path = Path(entry.path)
                kind = _kind(entry.stat(follow_symlinks=False))
                if kind not in ("a file", "a folder"):
                    raise _refuse(label, path, kind)
                if kind == "a folder":
                    # The app keeps attachments in one flat folder; nesting past this would
                    # reach the recursion limit of what copies and removes folders later
                    # (shutil's copytree and rmtree), and a path's length limit.
                    if depth >= MAX_DEPTH:
                        raise BackupRefused(
                            f"{label} can't be restored: its {root.name} are nested more than "
                            f"{MAX_DEPTH} folders deep, which this app never does. "
                            "Nothing was changed."
                        )
                    stack.append((path, depth + 1))
                yield path, kind


def check_backup_files(folder: Path, label: str) -> None:
    """Refuse a backup holding a link or a special file where the restore would read."""
    try:
        for name in (DB_NAME, *SIDE_FILES, "attachments"):
            path = folder / name
            try:
                info = path.lstat()
            except FileNotFoundError:
                continue
            kind = _kind(info)
            if kind != ("a folder" if name == "attachments" else "a file"):
                raise _refuse(label, path, kind)
            if name in SIDE_FILES and info.st_size > MAX_SIDE_FILE_BYTES:
                raise _refuse(label, path, "far larger than a settings file")
        if (folder / "attachments").is_dir():
            for _ in _walk(folder / "attachments", label):
                pass
    except OSError as exc:
        raise StoreError(f"{label} can't be read ({exc}); nothing was changed.") from exc


def _open_regular(path: Path, label: str) -> int:
    # O_NOFOLLOW closes the gap between the check above and this open; O_NONBLOCK keeps a pipe
    # put in a file's place from hanging the open.
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _BINARY | getattr(os, "O_NONBLOCK", 0))
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise _refuse(label, path, _kind(info))
    return fd


def copy_file(source: Path, target: Path, label: str) -> None:
    """Copy a regular file's bytes into a new owner-only file, never through a link."""
    try:
        fd = _open_regular(source, label)
    except OSError as exc:
        if exc.errno == getattr(os, "ELOOP", -1):
            raise _refuse(label, source, "a link") from exc
        raise
    with os.fdopen(fd, "rb") as reader:
        out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY, 0o600)
        with os.fdopen(out, "wb") as writer:
            shutil.copyfileobj(reader, writer, 1024 * 1024)
        info = os.fstat(reader.fileno())
    os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns))


def copy_tree(source: Path, target: Path, label: str) -> None:
    """Copy plain files and folders; a link or special file anywhere refuses the whole copy."""
    target.mkdir(mode=0o700)
    for path, kind in _walk(source, label):
        there = target / path.relative_to(source)
        if kind == "a folder":
            there.mkdir(mode=0o700)
        else:
            copy_file(path, there, label)


def read_side_file(source: Path, label: str) -> bytes | None:
    """A settings or MCP server file's bytes (None if the backup has none), never through a
    link and never more than a settings file could hold."""
    try:
        fd = _open_regular(source, label)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == getattr(os, "ELOOP", -1):
            raise _refuse(label, source, "a link") from exc
        raise
    with os.fdopen(fd, "rb") as reader:
        data = reader.read(MAX_SIDE_FILE_BYTES + 1)
    if len(data) > MAX_SIDE_FILE_BYTES:
        raise _refuse(label, source, "far larger than a settings file")
    return data
