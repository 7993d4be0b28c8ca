"""Importing this app's JSON export (see export_json.py) into a data dir.

The file is read a chat at a time (json_stream), each chat checked as it is read, and written in
one transaction: a malformed file gets one error naming what is wrong and changes nothing. Chats
already here (same id) are left alone, so importing the same file twice adds nothing the second
time. What is imported is content, never permission (import_content.py).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from chatkit.types import Attachment, ThreadItem, ThreadMetadata
from pydantic import ValidationError

from desktop.errors import StoreError
from desktop.fileio import owner_only
from desktop.store import json_stream
from desktop.store.assistants import AssistantDraft
from desktop.store.connections import Database
from desktop.store.database import connect, prepare_database
from desktop.store.export_json import FORMAT, VERSION
from desktop.store.import_content import (
    AttachmentCheck,
    assistant_as_content,
    item_as_content,
    thread_as_content,
)
from desktop.store.records import attachment_adapter, item_adapter, metadata_only, stored_json

FEEDBACK_KINDS = ("positive", "negative")
# One chat is read whole, with its attachments (20 MB each, a third more in base64).
CHAT_MAX_BYTES = 256 * 1024 * 1024


@dataclass
class ParsedThread:
    thread: ThreadMetadata
    # Each item checked, with its JSON kept exactly as exported (so a round trip changes nothing).
    items: list[tuple[ThreadItem, str]]
    feedback: dict[str, str]
    attachments: list[tuple[Attachment, bytes | None]] = field(default_factory=list)
    # What was left out of this chat, a sentence each (files that break the attachment rules).
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ImportResult:
    added: int
    skipped: int
    notes: tuple[str, ...] = ()


def _problem(where: str, exc: Exception) -> StoreError:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        place = ".".join(str(p) for p in first["loc"])
        return StoreError(f"{where}: {place}: {first['msg']}.")
    return StoreError(f"{where}: {exc}.")


@dataclass(frozen=True)
class ParsedExport:
    # Checked chats, possibly produced as they are read (a failure then comes mid-import, and
    # the transaction it runs in is rolled back).
    threads: Iterable[ParsedThread]
    # The user's own assistants (checked like the Settings form does). It may be filled as
    # `threads` is read: it is complete once `threads` is exhausted.
    assistants: list[tuple[str, AssistantDraft]]
    # How far through the source reading has got, from 0 to 1 (for a progress bar).
    position: Callable[[], float] = lambda: 0.0


@contextlib.contextmanager
def _reading(source: Path) -> Iterator[IO[bytes]]:
    """The file, with every way reading it can fail turned into one sentence."""
    name = source.name
    try:
        with open(source, "rb") as handle:
            yield handle
    except FileNotFoundError as exc:
        raise StoreError(f"There is no file at {source}.") from exc
    except OSError as exc:
        raise StoreError(f"Can't read {source}: {exc.strerror or exc}.") from exc
    except json_stream.Truncated as exc:
        raise StoreError(f"{name} is cut short: {exc}. Nothing was imported.") from exc
    except json.JSONDecodeError as exc:
        raise StoreError(f"{name} is not valid JSON: {exc}. Nothing was imported.") from exc


def parse_export(source: Path) -> ParsedExport:
    with _reading(source) as handle:
        header = json_stream.outline(handle, ("format", "version", "threads"))
    if header.get("format") != FORMAT:
        raise StoreError(f"{source.name} is not a ChatKit Desktop export.")
    if header.get("version") != VERSION:
        raise StoreError(
            f"{source.name} is export version {header.get('version')!r}; this app reads "
            f"version {VERSION}. Update the app to import it."
        )
    if header.get("threads") is not list:
        raise StoreError(f"{source.name} has no list of threads.")
    size = max(1, source.stat().st_size)
    at = [0]
    assistants: list[tuple[str, AssistantDraft]] = []

    def threads() -> Iterator[ParsedThread]:
        with _reading(source) as handle:
            chats = json_stream.iter_items(
                handle, "threads.item", what="chat", max_bytes=CHAT_MAX_BYTES, top=dict
            )
            for n, entry in enumerate(chats, 1):
                at[0] = handle.tell()
                yield _thread(n, entry)
        with _reading(source) as handle:
            found = json_stream.iter_items(handle, "assistants.item", what="assistant", top=dict)
            assistants.extend(_assistants(found))
        at[0] = size

    return ParsedExport(threads(), assistants, lambda: min(1.0, at[0] / size))


def _assistants(found: Iterable[Any]) -> Iterator[tuple[str, AssistantDraft]]:
    for n, raw in enumerate(found, 1):
        if not isinstance(raw, dict) or raw.get("builtin"):
            continue  # the built-in assistant is this app's own
        try:
            fields = {k: raw.get(k) for k in ("name", "model", "tools")}
            fields["instructions"] = raw.get("instructions") or ""
            draft = AssistantDraft.model_validate(fields)
            yield str(raw["id"])[:64], assistant_as_content(draft)
        except (KeyError, ValidationError) as exc:
            raise _problem(f"assistant {n}", exc) from exc


def _thread(n: int, entry: Any) -> ParsedThread:
    where = f"chat {n}"
    try:
        thread = thread_as_content(metadata_only(ThreadMetadata.model_validate(entry["thread"])))
        where = f"chat {n} ({thread.id})"
        # Notes reach a terminal: a title's control characters (escapes) stay out of them.
        label = "".join(c for c in (thread.title or thread.id)[:60] if c.isprintable())
        files = AttachmentCheck(f"Chat {n} ({label})")
        for a in entry.get("attachments", []):
            attachment = attachment_adapter().validate_python(a["attachment"])
            content = a.get("content_base64")
            if content is not None and not isinstance(content, str):
                raise ValueError("content_base64 must be text")
            files.add(attachment, content)
        items = []
        for raw in entry.get("items", []):
            item, data = item_as_content(item_adapter().validate_python(raw), _compact(raw))
            items.append(files.in_item(item, data))
        feedback = dict(entry.get("feedback") or {})
        if any(k not in FEEDBACK_KINDS for k in feedback.values()):
            raise ValueError("feedback must be positive or negative")
    except (KeyError, TypeError, AttributeError) as exc:
        raise StoreError(f"{where}: a required part is missing ({exc}).") from exc
    except (ValidationError, ValueError) as exc:
        raise _problem(where, exc) from exc
    for item, _ in items:
        if item.thread_id != thread.id:
            raise StoreError(f"{where}: item {item.id} belongs to another chat.")
    feedback = {str(k): str(v) for k, v in feedback.items()}
    return ParsedThread(thread, items, feedback, files.kept, list(files.notes.values()))


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def import_export(data_dir: Path, source: Path) -> ImportResult:
    """Import `source` into `data_dir`. The app must not be running on it."""
    return write_import(data_dir, parse_export(source))


def write_import(
    data_dir: Path,
    parsed: ParsedExport,
    progress: Callable[[int, int], None] = lambda added, skipped: None,
) -> ImportResult:
    """Add `parsed` to `data_dir` in one transaction (chats already there are skipped). The
    app must not be running on it. `progress` hears the counts after each chat; an exception
    there (or a Ctrl+C) cancels the import, leaving nothing behind."""
    database = data_dir / "chats.db"
    files = data_dir / "attachments"
    prepare_database(database, files)
    db = connect(database, read_only=False)
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            result = apply_import(db, files, parsed, progress)
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
    parsed: ParsedExport,
    progress: Callable[[int, int], None] = lambda added, skipped: None,
) -> ImportResult:
    """Write `parsed` within the caller's transaction. If it fails, the attachment files it
    wrote are removed again; the caller rolls the transaction back."""
    written: list[Path] = []
    notes: list[str] = []
    added = skipped = 0
    try:
        for entry in parsed.threads:
            if db.execute("SELECT 1 FROM threads WHERE id = ?", (entry.thread.id,)).fetchone():
                skipped += 1
            else:
                _write_thread(db, entry, files, written)
                notes += entry.notes
                added += 1
            progress(added, skipped)
        # After the chats: a streamed export gives its assistants once its chats are read.
        for assistant_id, draft in parsed.assistants:
            _write_assistant(db, assistant_id, assistant_as_content(draft))
    except BaseException as exc:
        for path in written:
            with contextlib.suppress(OSError):
                path.unlink()
        if isinstance(exc, sqlite3.Error):
            raise StoreError(f"The import failed and nothing was added: {exc}.") from exc
        raise
    return ImportResult(added, skipped, tuple(notes))


def _write_assistant(db: sqlite3.Connection, assistant_id: str, draft: AssistantDraft) -> None:
    now = time.time()
    db.execute(
        "INSERT INTO assistants (id, name, instructions, model, tools, builtin, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?) ON CONFLICT (id) DO NOTHING",
        (
            assistant_id,
            draft.name,
            draft.instructions,
            draft.model,
            json.dumps(draft.tools),
            now,
            now,
        ),
    )


def _write_thread(
    db: sqlite3.Connection, entry: ParsedThread, files: Path, written: list[Path]
) -> None:
    # Again here, whichever importer parsed it: nothing imported may grant anything.
    thread = thread_as_content(entry.thread)
    seq = Database.next_seq(db)
    db.execute(
        "INSERT INTO threads (id, created_at, seq, active_seq, data) VALUES (?, ?, ?, ?, ?)",
        (thread.id, thread.created_at.isoformat(), seq, seq, thread.model_dump_json()),
    )
    for parsed_item, parsed_data in entry.items:
        item, data = item_as_content(parsed_item, parsed_data)
        seq = Database.next_seq(db)
        db.execute(
            "INSERT INTO items (thread_id, id, seq, type, created_at, data) VALUES (?, ?, ?, ?, ?, ?)",
            (thread.id, item.id, seq, item.type, item.created_at.isoformat(), data),
        )
    db.execute("UPDATE threads SET active_seq = ? WHERE id = ?", (seq, thread.id))
    db.executemany(
        "INSERT INTO feedback (thread_id, item_id, kind, created_at) VALUES (?, ?, ?, ?)",
        [(thread.id, item_id, kind, time.time()) for item_id, kind in entry.feedback.items()],
    )
    for attachment, content in entry.attachments:
        if db.execute("SELECT 1 FROM attachments WHERE id = ?", (attachment.id,)).fetchone():
            continue
        size = len(content) if content is not None else None
        db.execute(
            "INSERT INTO attachments (id, thread_id, mime_type, declared_size, stored_size, "
            "created_at, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                attachment.id,
                thread.id,
                attachment.mime_type,
                size or 0,
                size,
                time.time(),
                stored_json(attachment),
            ),
        )
        if content is not None:
            path = files / attachment.id
            path.write_bytes(content)
            owner_only(path)
            written.append(path)
