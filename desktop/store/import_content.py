"""Imported data is content, never permission.

A chat file can be made by anyone, so an import keeps what a chat says and nothing that decides
what the app may do: no per-chat tool approvals ("always allow"), no assistant or model choice
(the chat uses the built-in assistant until the user picks one), no page-tool call waiting to run,
no image domains the page would load from; imported assistants come with no tools (the user turns
them on in Settings → Assistants). Attachments pass the rules uploads pass: type, size, content,
name. A backup restore is the user's own data and is not read through here.

The *_as_content functions run in one place, import_staging.stage, which every import (this app's
format and ChatGPT's) passes through on its way to the writer.
"""

from __future__ import annotations

import base64
import binascii
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from chatkit.types import (
    Attachment,
    ClientToolCallItem,
    ImageAttachment,
    InferenceOptions,
    ThreadItem,
    ThreadMetadata,
    UserMessageItem,
)
from pydantic import AnyUrl

from desktop import attachment_rules as rules
from desktop.errors import DesktopError
from desktop.fileio import owner_only
from desktop.store.assistants import AssistantDraft

# The thread metadata an import keeps: markers the importers themselves write. Every other key
# (allowed_tools, assistant_id, model, page_call, and whatever a later version adds) is the
# server's own state about what the chat may do, so an allow-list keeps new keys out by default.
KEPT_METADATA = frozenset({"imported_from", "branch_of"})

NOT_RUN = "Not run: this call came with an imported chat; the app runs only calls it made itself."


def thread_as_content(thread: ThreadMetadata) -> ThreadMetadata:
    kept = {k: v for k, v in thread.metadata.items() if k in KEPT_METADATA and isinstance(v, str)}
    return thread.model_copy(update={"metadata": kept, "allowed_image_domains": None})


def item_as_content(item: ThreadItem, data: str) -> tuple[ThreadItem, str]:
    """The item as stored by an import (its JSON unchanged unless something had to go)."""
    changed: dict[str, Any] = {}
    if isinstance(item, ClientToolCallItem) and item.status == "pending":
        changed = {"status": "completed", "output": NOT_RUN}
    elif isinstance(item, UserMessageItem) and item.inference_options != InferenceOptions():
        # A retry replays these picks, which would bind the chat to an assistant unasked.
        changed = {"inference_options": InferenceOptions()}
    if not changed:
        return item, data
    done = item.model_copy(update=changed)
    return done, done.model_dump_json()


def assistant_as_content(draft: AssistantDraft) -> AssistantDraft:
    return draft.model_copy(update={"tools": []})


@dataclass(frozen=True)
class Spilled:
    """An attachment's base64 content, decoded to a file as the reader met it (so a chat's
    attachments never sit in memory together); `path` is None if it wasn't written."""

    path: Path | None
    size: int
    head: bytes = b""
    problem: str | None = None


@dataclass
class SpillFolder:
    """Spill: base64 text in, a Spilled file out, numbered in `folder`."""

    folder: Path
    max_bytes: int = rules.DEFAULT_MAX_BYTES
    _names: itertools.count[int] = field(default_factory=itertools.count)

    def __call__(self, content_base64: str) -> Spilled:
        # Measured before decoding: a huge attachment is refused without a copy in memory.
        estimate = len(content_base64) * 3 // 4 - 2
        if estimate > self.max_bytes:
            return Spilled(None, estimate)
        try:
            content = base64.b64decode(content_base64, validate=True)
        except (binascii.Error, ValueError):
            return Spilled(None, 0, problem="its content isn't valid base64")
        path = self.folder / str(next(self._names))
        path.write_bytes(content)
        owner_only(path)
        return Spilled(path, len(content), content[:512])


@dataclass
class AttachmentCheck:
    """The attachments of one imported chat, checked: what is kept, and a note for each file
    left out (keyed by id, so a file listed twice gets one note)."""

    where: str
    max_bytes: int = rules.DEFAULT_MAX_BYTES
    kept: list[tuple[Attachment, Path | None]] = field(default_factory=list)
    cleaned: dict[str, Attachment] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def add(self, attachment: Attachment, spilled: Spilled | None) -> None:
        clean = self._record(attachment)
        if clean is None:
            return
        content = None
        if spilled is not None:
            content = self._content(clean, spilled)
            if content is None:
                return
        self.cleaned[clean.id] = clean
        self.kept.append((clean, content))

    def in_item(self, item: ThreadItem, data: str) -> tuple[ThreadItem, str]:
        """A user message's attachments as kept: cleaned, and without those left out."""
        if not isinstance(item, UserMessageItem) or not item.attachments:
            return item, data
        attachments = []
        for attachment in item.attachments:
            clean = self.cleaned.get(attachment.id) or self._record(attachment)
            if clean is not None and attachment.id not in self.notes:
                attachments.append(clean)
        if attachments == item.attachments:
            return item, data
        done = item.model_copy(update={"attachments": attachments})
        return done, done.model_dump_json()

    def _leave_out(self, attachment: Attachment, reason: str) -> None:
        name = rules.clean_name(attachment.name)
        self.notes.setdefault(attachment.id, f"{self.where}: {name} was left out: {reason}.")

    def _record(self, attachment: Attachment) -> Attachment | None:
        try:
            rules.checked_id(attachment.id)
        except DesktopError:
            self._leave_out(attachment, "its id isn't one this app makes (ids name files)")
            return None
        try:
            mime = rules.check_mime(attachment.mime_type)
        except DesktopError as exc:
            self._leave_out(attachment, exc.message.rstrip("."))
            return None
        if isinstance(attachment, ImageAttachment) and mime not in rules.IMAGE_TYPES:
            self._leave_out(attachment, f"it is marked as an image but is {mime}")
            return None
        update: dict[str, Any] = {
            "name": rules.clean_name(attachment.name),
            "mime_type": mime,
            "upload_descriptor": None,
        }
        if isinstance(attachment, ImageAttachment) and not _local_preview(attachment):
            # The page would load it: only this app's own address, never one the file names.
            local = f"http://localhost/api/attachments/{attachment.id}/content"
            update["preview_url"] = AnyUrl(local)
        return attachment.model_copy(update=update)

    def _content(self, attachment: Attachment, spilled: Spilled) -> Path | None:
        if spilled.size > self.max_bytes:
            self._leave_out(attachment, self._too_large())
        elif spilled.problem is not None or spilled.path is None:
            self._leave_out(attachment, spilled.problem or "its content couldn't be read")
        elif not rules.content_matches(attachment.mime_type, spilled.head):
            self._leave_out(attachment, f"its content isn't {attachment.mime_type}")
        else:
            return spilled.path
        return None

    def _too_large(self) -> str:
        return f"it is larger than the {self.max_bytes / 2**20:g} MB limit for attachments"


def _local_preview(attachment: ImageAttachment) -> bool:
    url = urlsplit(str(attachment.preview_url))
    return (
        url.scheme == "http"
        and url.hostname in ("127.0.0.1", "localhost")
        and url.path == f"/api/attachments/{attachment.id}/content"
        and not url.query
    )
