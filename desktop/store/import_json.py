"""Importing this app's JSON export (see export_json.py) into a data dir.

The file is read in one pass (json_walk), each chat checked as it is read and its attachments
decoded to files as they are met, then staged and written in one transaction (import_staging): a
malformed file gets one error naming what is wrong and changes nothing. Chats already here (same
id) are left alone, so importing the same file twice adds nothing the second time. What is
imported is content, never permission (import_content.py).
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from chatkit.types import ThreadMetadata
from pydantic import ValidationError

from desktop.errors import StoreError
from desktop.store import json_stream, json_walk
from desktop.store.assistants import AssistantDraft
from desktop.store.export_json import FORMAT, VERSION
from desktop.store.import_content import AttachmentCheck, Spilled, SpillFolder
from desktop.store.import_staging import (
    ImportResult,
    ParsedExport,
    ParsedThread,
    apply_import,
    write_import,
)
from desktop.store.records import attachment_adapter, item_adapter, metadata_only

__all__ = [
    "CHAT_MAX_BYTES",
    "ImportResult",
    "ParsedExport",
    "ParsedThread",
    "apply_import",
    "import_export",
    "parse_export",
    "write_import",
]

FEEDBACK_KINDS = ("positive", "negative")
# One chat is read whole, but not its attachments' content: that goes to files as it is read
# (json_walk's spill), so this caps a chat's messages and records only.
CHAT_MAX_BYTES = 256 * 1024 * 1024
CONTENT = "threads.item.attachments.item.content_base64"
NOT_AN_EXPORT = "{name} is JSON, but not a ChatKit Desktop export or a ChatGPT export."


def _problem(where: str, exc: Exception) -> StoreError:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        place = ".".join(str(p) for p in first["loc"])
        return StoreError(f"{where}: {place}: {first['msg']}.")
    return StoreError(f"{where}: {exc}.")


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
    except json_stream.WrongShape as exc:
        raise StoreError(NOT_AN_EXPORT.format(name=name) + " Nothing was imported.") from exc
    except json.JSONDecodeError as exc:
        raise StoreError(f"{name} is not valid JSON: {exc}. Nothing was imported.") from exc


def parse_export(
    source: Path, scratch: Path | None = None, *, chat_max_bytes: int = CHAT_MAX_BYTES
) -> ParsedExport:
    """The export's chats, read as they are staged. Attachments are decoded to files in a
    folder under `scratch` (best in the data dir, so staging renames them)."""
    fields = {
        "threads": json_walk.Field("chat", chat_max_bytes),
        "assistants": json_walk.Field("assistant"),
    }
    with _reading(source) as handle:
        header = json_walk.outline(handle, ("format", "version", "threads"), fields)
    if header.get("format") != FORMAT:
        raise StoreError(NOT_AN_EXPORT.format(name=source.name))
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
        # One pass: the assistants come after the chats, and are collected as they are met.
        with (
            _reading(source) as handle,
            tempfile.TemporaryDirectory(prefix="spill-", dir=scratch) as spill,
        ):
            found = json_walk.walk(handle, fields, spill={CONTENT: SpillFolder(Path(spill))})
            chats = brought = 0
            for name, value in found:
                at[0] = handle.tell()
                if name == "threads":
                    chats += 1
                    yield _thread(chats, value)
                else:
                    brought += 1
                    assistants.extend(_assistants(brought, value))
        at[0] = size

    return ParsedExport(threads(), assistants, lambda: min(1.0, at[0] / size))


def _assistants(n: int, raw: Any) -> Iterable[tuple[str, AssistantDraft]]:
    if not isinstance(raw, dict) or raw.get("builtin"):
        return ()  # the built-in assistant is this app's own
    try:
        fields = {k: raw.get(k) for k in ("name", "model", "tools")}
        fields["instructions"] = raw.get("instructions") or ""
        return ((str(raw["id"])[:64], AssistantDraft.model_validate(fields)),)
    except (KeyError, ValidationError) as exc:
        raise _problem(f"assistant {n}", exc) from exc


def _thread(n: int, entry: Any) -> ParsedThread:
    where = f"chat {n}"
    try:
        thread = metadata_only(ThreadMetadata.model_validate(entry["thread"]))
        where = f"chat {n} ({thread.id})"
        # Notes reach a terminal: a title's control characters (escapes) stay out of them.
        label = "".join(c for c in (thread.title or thread.id)[:60] if c.isprintable())
        files = AttachmentCheck(f"Chat {n} ({label})")
        for a in entry.get("attachments", []):
            attachment = attachment_adapter().validate_python(a["attachment"])
            content = a.get("content_base64")
            if content is not None and not isinstance(content, Spilled):
                raise ValueError("content_base64 must be text")
            files.add(attachment, content)
        items = []
        for raw in entry.get("items", []):
            item = item_adapter().validate_python(raw)
            items.append(files.in_item(item, _compact(raw)))
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
    return ParsedThread(thread, items, feedback, list(files.kept), list(files.notes.values()))


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def import_export(data_dir: Path, source: Path) -> ImportResult:
    """Import `source` into `data_dir`. The app must not be running on it."""
    scratch = data_dir / "imports"
    scratch.mkdir(parents=True, exist_ok=True)
    return write_import(data_dir, parse_export(source, scratch))
