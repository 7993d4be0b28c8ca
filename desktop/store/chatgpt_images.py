"""The images of a ChatGPT export's zip, read under limits: a small zip must not become gigabytes
of attachments or of memory (a zip bomb).

Each entry's declared size is checked against the attachment cap, and its compression ratio
against what real images have, before a byte is inflated; the real bytes are counted as they are
read and reading stops at the cap, whatever the entry declared. An image used by many messages
is read once per conversation (its chats share the bytes) and stored once per chat. The import's
images as a whole are capped too. An image refused on any count becomes a placeholder that says
why (in the message, where `message_text` puts each image), and the import goes on.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass, field, replace
from typing import Any

from desktop.store.attachment_rules import DEFAULT_MAX_BYTES, clean_name
from desktop.store.chatgpt_archive import UNREADABLE_ZIP, ChatGptArchive

MB = 1024 * 1024
_CHUNK = MB
_NOT_INCLUDED = "[An image from ChatGPT that the export didn't include]"


@dataclass(frozen=True)
class ImageLimits:
    # One image: the same cap as an upload.
    entry_bytes: int = DEFAULT_MAX_BYTES
    # Real images are compressed already and barely shrink in a zip; zeros shrink 1000-fold.
    max_ratio: float = 100.0
    # Below this a high ratio costs little (icons, blank images), so it is let through.
    ratio_from_bytes: int = MB
    # All of one import's stored images. None: four times the archive's own size, and at least
    # 256 MB: real images don't shrink in a zip, so a real archive's images add up to about its
    # size, with room for the same image in several branches of a chat.
    total_bytes: int | None = None
    total_floor: int = 256 * MB


@dataclass(frozen=True)
class Image:
    name: str
    data: bytes
    digest: str


@dataclass(frozen=True)
class Refused:
    name: str
    reason: str

    def placeholder(self) -> str:
        return f"[An image from ChatGPT that wasn't imported: {self.name} ({self.reason})]"

    def note(self, chat: str) -> str:
        return f"{chat[:60]}: an image wasn't imported: {self.name} ({self.reason})."


def _mb(size: float) -> str:
    return f"{size / MB:,.1f} MB"


@dataclass
class ArchiveImages:
    """Looks images up by their asset pointer, reads them under `limits`, and counts what was
    refused (`refused`: the distinct images that became placeholders)."""

    archive: ChatGptArchive
    limits: ImageLimits = field(default_factory=ImageLimits)
    stored_bytes: int = 0
    refused: set[str] = field(default_factory=set)
    # What the chat being read lost (`start_chat` clears it), for the import's notes.
    chat_refused: dict[str, Refused] = field(default_factory=dict)
    # One conversation's images (its branches repeat its messages): cleared between them, so
    # memory holds one conversation's images at most.
    _cache: dict[str, Image | Refused] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.limits.total_bytes is None:
            size = self.archive.size()
            total = max(4 * size, self.limits.total_floor)
            self.limits = replace(self.limits, total_bytes=total)

    def next_conversation(self) -> None:
        self._cache.clear()

    def start_chat(self) -> None:
        self.chat_refused.clear()

    def _refuse(self, refused: Refused) -> Refused:
        self.refused.add(refused.name)
        self.chat_refused.setdefault(refused.name, refused)
        return refused

    def find(self, pointer: str) -> Image | Refused | None:
        """The image an asset pointer names (None if the zip doesn't have it)."""
        info = self.archive.entry(pointer)
        if info is None:
            return None
        found = self._cache.get(info.filename)
        if found is None:
            found = self._read(info)
            self._cache[info.filename] = found
        if isinstance(found, Refused):
            return self._refuse(found)
        return found

    def store(self, image: Image) -> Image | Refused:
        """Count one more stored copy of `image` against the import's total."""
        total = self.limits.total_bytes or 0
        if self.stored_bytes + len(image.data) > total:
            return self._refuse(Refused(image.name, f"the import's images passed {_mb(total)}"))
        self.stored_bytes += len(image.data)
        return image

    def _read(self, info: zipfile.ZipInfo) -> Image | Refused:
        name = clean_name(info.filename)
        cap = self.limits.entry_bytes
        if info.file_size > cap:
            return Refused(name, f"{_mb(info.file_size)}; the limit is {_mb(cap)}")
        ratio = info.file_size / max(1, info.compress_size)
        if info.file_size > self.limits.ratio_from_bytes and ratio > self.limits.max_ratio:
            return Refused(
                name, f"it expands {ratio:,.0f}-fold, which no real image does; a zip bomb?"
            )
        chunks: list[bytes] = []
        real = 0
        try:
            with self.archive.open_entry(info) as entry:
                while chunk := entry.read(_CHUNK):
                    real += len(chunk)
                    # Never trust the declared size alone: stop at the cap.
                    if real > cap:
                        return Refused(name, f"more than {_mb(cap)}; the limit is {_mb(cap)}")
                    chunks.append(chunk)
        except UNREADABLE_ZIP as exc:
            return Refused(name, f"it is damaged in the zip: {str(exc)[:80]}")
        data = b"".join(chunks)
        return Image(name, data, hashlib.sha256(data).hexdigest())


def message_text(
    message: dict[str, Any], source: ArchiveImages, images: list[Image], *, read: bool
) -> tuple[str, int]:
    """The message's text, and how many images the zip has for it. Those images go to
    `images` when `read` (an assistant's images are only counted: they are never stored)."""
    content = message.get("content") or {}
    kind = content.get("content_type")
    if kind == "code":
        language = content.get("language") or ""
        language = "" if language == "unknown" else language
        return f"```{language}\n{content.get('text', '')}\n```", 0
    if kind == "execution_output":
        return f"Output:\n```\n{content.get('text', '')}\n```", 0
    parts = content.get("parts")
    if not isinstance(parts, list):
        text = content.get("text")
        return (text if isinstance(text, str) else ""), 0
    out = []
    named = 0
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, dict) and "asset_pointer" in part:
            pointer = str(part["asset_pointer"])
            if not read:
                named += source.archive.entry(pointer) is not None
                continue
            found = source.find(pointer)
            if found is None:
                out.append(_NOT_INCLUDED)
            elif isinstance(found, Refused):
                out.append(found.placeholder())
            else:
                images.append(found)
                named += 1
    return "\n".join(p for p in out if p).strip(), named
