"""Every import is read whole into a staging folder first, then written in one transaction.

Reading (parsing, checking, decoding attachments) takes as long as the file is large; writing the
staged rows takes a fraction of that. Only the writing holds the history's writer, so a chat turn
sent meanwhile waits for the insert, not for the parse. The staging folder (an SQLite file and the
attachments' files) lives in the data dir, so the writer moves files into place by renaming them,
and is removed afterwards whatever happened: a failed or cancelled import leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from chatkit.types import Attachment, ThreadItem, ThreadMetadata

from desktop.errors import StoreError
from desktop.fileio import make_private, owner_only
from desktop.store.assistants import AssistantDraft
from desktop.store.connections import Database
from desktop.store.database import connect, prepare_database
from desktop.store.import_content import assistant_as_content, item_as_content, thread_as_content
from desktop.store.records import stored_json

_SCHEMA = """
CREATE TABLE threads (n INTEGER PRIMARY KEY, id TEXT, created_at TEXT, data TEXT, notes TEXT);
CREATE TABLE items (thread_n INTEGER, id TEXT, type TEXT, created_at TEXT, data TEXT);
CREATE INDEX items_by_thread ON items (thread_n);
CREATE TABLE feedback (thread_n INTEGER, item_id TEXT, kind TEXT);
CREATE INDEX feedback_by_thread ON feedback (thread_n);
CREATE TABLE attachments (thread_n INTEGER, id TEXT, mime_type TEXT, size INTEGER,
                          record TEXT, file TEXT);
CREATE INDEX attachments_by_thread ON attachments (thread_n);
CREATE TABLE assistants (id TEXT, name TEXT, instructions TEXT, model TEXT, tools TEXT);
"""


@dataclass
class ParsedThread:
    thread: ThreadMetadata
    # Each item checked, with its JSON kept exactly as exported (so a round trip changes nothing).
    items: list[tuple[ThreadItem, str]]
    feedback: dict[str, str]
    # Content in memory, or a file the reader wrote that staging may move (valid until the
    # next chat is read), or None for an attachment without content.
    attachments: Sequence[tuple[Attachment, bytes | Path | None]] = field(default_factory=list)
    # What was left out of this chat, a sentence each (files that break the attachment rules).
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ParsedExport:
    # Checked chats, possibly produced as they are read (a failure then comes while staging).
    threads: Iterable[ParsedThread]
    # The user's own assistants (checked like the Settings form does). It may be filled as
    # `threads` is read: it is complete once `threads` is exhausted.
    assistants: list[tuple[str, AssistantDraft]]
    # How far through the source reading has got, from 0 to 1 (for a progress bar).
    position: Callable[[], float] = lambda: 0.0


@dataclass(frozen=True)
class ImportResult:
    added: int
    skipped: int
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Staged:
    """An import read and checked, waiting for the writer."""

    folder: Path
    chats: int

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


@contextlib.contextmanager
def staged(
    parsed: ParsedExport, scratch: Path, read: Callable[[int], None] = lambda chats: None
) -> Iterator[Staged]:
    """`parsed` staged in a folder under `scratch` (removed on leaving); `read` hears the count
    of chats read, and may raise to cancel."""
    done = stage(parsed, scratch, read)
    try:
        yield done
    finally:
        done.remove()


def stage(
    parsed: ParsedExport, scratch: Path, read: Callable[[int], None] = lambda chats: None
) -> Staged:
    """Read `parsed` whole into a new folder under `scratch` (the caller removes it)."""
    scratch.mkdir(parents=True, exist_ok=True)
    make_private(scratch)
    folder = Path(tempfile.mkdtemp(prefix="staged-", dir=scratch))
    (folder / "files").mkdir()
    db = sqlite3.connect(folder / "staged.db")
    chats = 0
    try:
        db.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;" + _SCHEMA)
        for chats, entry in enumerate(parsed.threads, 1):
            _stage_thread(db, folder, chats, entry)
            read(chats)
        # Here, the one step both importers' output passes through, and outside the writer:
        # nothing imported may grant anything (import_content.py).
        db.executemany(
            "INSERT INTO assistants VALUES (?, ?, ?, ?, ?)",
            [
                (key, d.name, d.instructions, d.model, json.dumps(d.tools))
                for key, d in ((k, assistant_as_content(a)) for k, a in parsed.assistants)
            ],
        )
        db.commit()
    except BaseException:
        db.close()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        close = getattr(parsed.threads, "close", None)
        if close is not None:
            close()
    db.close()
    return Staged(folder, chats)


def _stage_thread(db: sqlite3.Connection, folder: Path, n: int, entry: ParsedThread) -> None:
    thread = thread_as_content(entry.thread)
    db.execute(
        "INSERT INTO threads VALUES (?, ?, ?, ?, ?)",
        (
            n,
            thread.id,
            thread.created_at.isoformat(),
            thread.model_dump_json(),
            json.dumps(entry.notes),
        ),
    )
    for parsed_item, parsed_data in entry.items:
        item, data = item_as_content(parsed_item, parsed_data)
        db.execute(
            "INSERT INTO items VALUES (?, ?, ?, ?, ?)",
            (n, item.id, item.type, item.created_at.isoformat(), data),
        )
    db.executemany(
        "INSERT INTO feedback VALUES (?, ?, ?)", [(n, k, v) for k, v in entry.feedback.items()]
    )
    for k, (attachment, content) in enumerate(entry.attachments):
        name = size = None
        if content is not None:
            name = f"{n}-{k}"
            target = folder / "files" / name
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                shutil.move(content, target)  # a rename when the reader wrote it nearby
            owner_only(target)
            size = target.stat().st_size
        db.execute(
            "INSERT INTO attachments VALUES (?, ?, ?, ?, ?, ?)",
            (n, attachment.id, attachment.mime_type, size, stored_json(attachment), name),
        )


def write_import(
    data_dir: Path,
    parsed: ParsedExport,
    progress: Callable[[int, int], None] = lambda added, skipped: None,
    read: Callable[[int], None] = lambda chats: None,
) -> ImportResult:
    """Add `parsed` to `data_dir` in one transaction (chats already there are skipped). The
    app must not be running on it. `read` hears the chats read, `progress` the counts after
    each chat written; an exception there (or a Ctrl+C) cancels, leaving nothing behind."""
    database = data_dir / "chats.db"
    files = data_dir / "attachments"
    prepare_database(database, files)
    with staged(parsed, data_dir / "imports", read) as ready:
        db = connect(database, read_only=False)
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                result = apply_import(db, files, ready, progress)
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"The import failed and nothing was added: {exc}.") from exc
        finally:
            db.close()
    return result


def apply_import(
    db: sqlite3.Connection,
    files: Path,
    ready: Staged,
    progress: Callable[[int, int], None] = lambda added, skipped: None,
) -> ImportResult:
    """Write `ready` within the caller's transaction. If it fails, the attachment files it
    moved in are removed again; the caller rolls the transaction back."""
    moved: list[Path] = []
    notes: list[str] = []
    added = skipped = 0
    source = sqlite3.connect(f"{(ready.folder / 'staged.db').resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = source.execute("SELECT n, id, created_at, data, notes FROM threads ORDER BY n")
        for n, thread_id, created_at, data, chat_notes in rows:
            if db.execute("SELECT 1 FROM threads WHERE id = ?", (thread_id,)).fetchone():
                skipped += 1
            else:
                _write_thread(db, source, n, (thread_id, created_at, data), files, ready, moved)
                notes += json.loads(chat_notes)
                added += 1
            progress(added, skipped)
        now = time.time()
        for row in source.execute("SELECT id, name, instructions, model, tools FROM assistants"):
            db.execute(
                "INSERT INTO assistants (id, name, instructions, model, tools, builtin, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?) "
                "ON CONFLICT (id) DO NOTHING",
                (*row, now, now),
            )
    except BaseException as exc:
        for path in moved:
            with contextlib.suppress(OSError):
                path.unlink()
        if isinstance(exc, sqlite3.Error):
            raise StoreError(f"The import failed and nothing was added: {exc}.") from exc
        raise
    finally:
        source.close()
    return ImportResult(added, skipped, tuple(notes))


def _write_thread(
    db: sqlite3.Connection,
    source: sqlite3.Connection,
    n: int,
    thread: tuple[str, str, str],
    files: Path,
    ready: Staged,
    moved: list[Path],
) -> None:
    thread_id = thread[0]
    seq = Database.next_seq(db)
    db.execute(
        "INSERT INTO threads (id, created_at, seq, active_seq, data) VALUES (?, ?, ?, ?, ?)",
        (*thread[:2], seq, seq, thread[2]),
    )
    items = source.execute(
        "SELECT id, type, created_at, data FROM items WHERE thread_n = ? ORDER BY rowid", (n,)
    )
    for item_id, kind, created_at, data in items:
        seq = Database.next_seq(db)
        db.execute(
            "INSERT INTO items (thread_id, id, seq, type, created_at, data) VALUES (?, ?, ?, ?, ?, ?)",
            (thread_id, item_id, seq, kind, created_at, data),
        )
    db.execute("UPDATE threads SET active_seq = ? WHERE id = ?", (seq, thread_id))
    feedback = source.execute("SELECT item_id, kind FROM feedback WHERE thread_n = ?", (n,))
    db.executemany(
        "INSERT INTO feedback (thread_id, item_id, kind, created_at) VALUES (?, ?, ?, ?)",
        [(thread_id, item_id, kind, time.time()) for item_id, kind in feedback],
    )
    attachments = source.execute(
        "SELECT id, mime_type, size, record, file FROM attachments WHERE thread_n = ?", (n,)
    )
    for attachment_id, mime_type, size, record, name in attachments:
        if db.execute("SELECT 1 FROM attachments WHERE id = ?", (attachment_id,)).fetchone():
            continue
        db.execute(
            "INSERT INTO attachments (id, thread_id, mime_type, declared_size, stored_size, "
            "created_at, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (attachment_id, thread_id, mime_type, size or 0, size, time.time(), record),
        )
        if name is not None:
            path = files / attachment_id
            shutil.move(ready.folder / "files" / name, path)  # a rename: both in the data dir
            moved.append(path)
