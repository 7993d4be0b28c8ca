"""Importing this app's JSON export (see export_json.py) into a data dir.

Everything is checked before anything is written, then written in one transaction: a malformed
file gets one error naming what is wrong and changes nothing. Chats already here (same id) are
left alone, so importing the same file twice adds nothing the second time.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatkit.types import Attachment, ThreadItem, ThreadMetadata
from pydantic import ValidationError

from desktop.errors import StoreError
from desktop.fileio import owner_only
from desktop.store import attachment_rules as rules
from desktop.store.assistants import AssistantDraft
from desktop.store.connections import Database
from desktop.store.database import connect, prepare_database
from desktop.store.export_json import FORMAT, VERSION
from desktop.store.records import attachment_adapter, item_adapter, metadata_only, stored_json

FEEDBACK_KINDS = ("positive", "negative")


@dataclass
class ParsedThread:
    thread: ThreadMetadata
    # Each item checked, with its JSON kept exactly as exported (so a round trip changes nothing).
    items: list[tuple[ThreadItem, str]]
    feedback: dict[str, str]
    attachments: list[tuple[Attachment, bytes | None]] = field(default_factory=list)


@dataclass(frozen=True)
class ImportResult:
    added: int
    skipped: int


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
    # The user's own assistants (checked like the Settings form does).
    assistants: list[tuple[str, AssistantDraft]]
    # How far through the source reading has got, from 0 to 1 (for a progress bar).
    position: Callable[[], float] = lambda: 0.0


def parse_export(source: Path) -> ParsedExport:
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise StoreError(f"There is no file at {source}.") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise StoreError(f"Can't read {source}: {exc}.") from exc
    except json.JSONDecodeError as exc:
        raise StoreError(
            f"{source.name} is not valid JSON (line {exc.lineno}, column {exc.colno}); "
            "it may be cut short."
        ) from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise StoreError(f"{source.name} is not a ChatKit Desktop export.")
    if document.get("version") != VERSION:
        raise StoreError(
            f"{source.name} is export version {document.get('version')!r}; this app reads "
            f"version {VERSION}. Update the app to import it."
        )
    threads = document.get("threads")
    if not isinstance(threads, list):
        raise StoreError(f"{source.name} has no list of threads.")
    parsed = [_thread(n, entry) for n, entry in enumerate(threads, 1)]
    done = [0]

    def counted() -> Iterator[ParsedThread]:
        for entry in parsed:
            yield entry
            done[0] += 1

    assistants = []
    for n, raw in enumerate(document.get("assistants") or [], 1):
        if not isinstance(raw, dict) or raw.get("builtin"):
            continue  # the built-in assistant is this app's own
        try:
            fields = {k: raw.get(k) for k in ("name", "model", "tools")}
            fields["instructions"] = raw.get("instructions") or ""
            assistants.append((str(raw["id"])[:64], AssistantDraft.model_validate(fields)))
        except (KeyError, ValidationError) as exc:
            raise _problem(f"assistant {n}", exc) from exc
    return ParsedExport(counted(), assistants, lambda: done[0] / max(1, len(parsed)))


def _thread(n: int, entry: Any) -> ParsedThread:
    where = f"chat {n}"
    try:
        thread = metadata_only(ThreadMetadata.model_validate(entry["thread"]))
        where = f"chat {n} ({thread.id})"
        items = [(item_adapter().validate_python(i), _compact(i)) for i in entry.get("items", [])]
        feedback = dict(entry.get("feedback") or {})
        if any(k not in FEEDBACK_KINDS for k in feedback.values()):
            raise ValueError("feedback must be positive or negative")
        parsed = ParsedThread(thread, items, {str(k): str(v) for k, v in feedback.items()})
        for a in entry.get("attachments", []):
            attachment = attachment_adapter().validate_python(a["attachment"])
            rules.checked_id(attachment.id)
            content = a.get("content_base64")
            data = base64.b64decode(content, validate=True) if content is not None else None
            parsed.attachments.append((attachment, data))
    except (KeyError, TypeError, AttributeError) as exc:
        raise StoreError(f"{where}: a required part is missing ({exc}).") from exc
    except (ValidationError, ValueError, binascii.Error) as exc:
        raise _problem(where, exc) from exc
    for item, _ in items:
        if item.thread_id != thread.id:
            raise StoreError(f"{where}: item {item.id} belongs to another chat.")
    return parsed


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
    added = skipped = 0
    try:
        for assistant_id, draft in parsed.assistants:
            db.execute(
                "INSERT INTO assistants (id, name, instructions, model, tools, builtin, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?) ON CONFLICT (id) DO NOTHING",
                (
                    assistant_id,
                    draft.name,
                    draft.instructions,
                    draft.model,
                    json.dumps(draft.tools),
                    time.time(),
                    time.time(),
                ),
            )
        for entry in parsed.threads:
            if db.execute("SELECT 1 FROM threads WHERE id = ?", (entry.thread.id,)).fetchone():
                skipped += 1
            else:
                _write_thread(db, entry, files, written)
                added += 1
            progress(added, skipped)
    except BaseException as exc:
        for path in written:
            with contextlib.suppress(OSError):
                path.unlink()
        if isinstance(exc, sqlite3.Error):
            raise StoreError(f"The import failed and nothing was added: {exc}.") from exc
        raise
    return ImportResult(added, skipped)


def _write_thread(
    db: sqlite3.Connection, entry: ParsedThread, files: Path, written: list[Path]
) -> None:
    thread = entry.thread
    seq = Database.next_seq(db)
    db.execute(
        "INSERT INTO threads (id, created_at, seq, active_seq, data) VALUES (?, ?, ?, ?, ?)",
        (thread.id, thread.created_at.isoformat(), seq, seq, thread.model_dump_json()),
    )
    for item, data in entry.items:
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
