"""The images of a ChatGPT export's zip, read under limits: a small zip must not become gigabytes
of attachments or of memory (a zip bomb).

Before a byte is inflated, each entry's declared size is checked against the attachment cap and
against what is left of the budgets below, and its compression ratio against what real images
have (zipfile never inflates more than an entry declares). The real bytes are counted as they are
read, against the same limits, and reading stops at the first one passed. Every byte inflated
counts against the import's total, whether it is kept or not.

A conversation's images stay in memory while its chats are built (a chat is written from
memory), so what one conversation may hold is capped, in bytes and in distinct entries, and equal
images share one bytes object. The import's stored copies are capped too. An image refused on any
count becomes a placeholder that says why (in the message, where `message_text` puts each image),
and the import goes on.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass, field, replace
from typing import Any

from desktop.attachment_rules import DEFAULT_MAX_BYTES, clean_name
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
    # Below this a high ratio costs little (icons, blank images), so it is let through; the
    # distinct-entry cap below bounds how many such small images one conversation can add up.
    ratio_from_bytes: int = 64 * 1024
    # All of one import's images, inflated and stored. None: four times the archive's own size,
    # and at least 256 MB: real images don't shrink in a zip, so a real archive's images add up
    # to about its size, with room for the same image in several branches of a chat.
    total_bytes: int | None = None
    total_floor: int = 256 * MB
    # What one conversation's images may hold in memory while its chats are built (distinct
    # images: the same bytes used again cost nothing), and how many entries it may read.
    conversation_bytes: int = 128 * MB
    conversation_images: int = 256


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
    # Copies stored (once per chat that uses an image) and bytes inflated, import-wide.
    stored_bytes: int = 0
    inflated_bytes: int = 0
    refused: set[str] = field(default_factory=set)
    # What the chat being read lost (`start_chat` clears it), for the import's notes.
    chat_refused: dict[str, Refused] = field(default_factory=dict)
    # One conversation's images (its branches repeat its messages), cleared between them: by
    # entry name, and each distinct content once (`_held` bytes of it).
    _cache: dict[str, Image | Refused] = field(default_factory=dict)
    _contents: dict[str, bytes] = field(default_factory=dict)
    _held: int = 0

    def __post_init__(self) -> None:
        if self.limits.total_bytes is None:
            size = self.archive.size()
            total = max(4 * size, self.limits.total_floor)
            self.limits = replace(self.limits, total_bytes=total)

    def next_conversation(self) -> None:
        self._cache.clear()
        self._contents.clear()
        self._held = 0

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
        if self.stored_bytes + len(image.data) > self._total:
            return self._refuse(Refused(image.name, self._past_total))
        self.stored_bytes += len(image.data)
        return image

    @property
    def _total(self) -> int:
        return self.limits.total_bytes or 0

    @property
    def _past_total(self) -> str:
        return f"the import's images passed {_mb(self._total)}"

    def _over(self, size: int) -> str | None:
        """Why `size` more bytes can't be inflated and kept now (None: they can)."""
        cap = self.limits.entry_bytes
        if size > cap:
            return f"{_mb(size)}; the limit is {_mb(cap)}"
        if self._held + size > self.limits.conversation_bytes:
            return f"this chat's images passed {_mb(self.limits.conversation_bytes)}"
        if self.inflated_bytes + size > self._total:
            return self._past_total
        return None

    def _read(self, info: zipfile.ZipInfo) -> Image | Refused:
        name = clean_name(info.filename)
        limits = self.limits
        # Every entry this conversation looked at counts, refused or not: each costs a look-up,
        # a placeholder and maybe a read.
        if len(self._cache) >= limits.conversation_images:
            return Refused(name, f"this chat has more than {limits.conversation_images} images")
        # The declared size bounds what zipfile inflates, so these checks cost no inflating.
        why = self._over(info.file_size)
        if why is not None:
            return Refused(name, why)
        ratio = info.file_size / max(1, info.compress_size)
        if info.file_size >= limits.ratio_from_bytes and ratio > limits.max_ratio:
            return Refused(
                name, f"it expands {ratio:,.0f}-fold, which no real image does; a zip bomb?"
            )
        chunks: list[bytes] = []
        real = 0
        try:
            with self.archive.open_entry(info) as entry:
                while chunk := entry.read(_CHUNK):
                    real += len(chunk)
                    # The real bytes against the same limits, whatever the entry declared.
                    why = self._over(real)
                    if why is not None:
                        return Refused(name, why)
                    chunks.append(chunk)
        except UNREADABLE_ZIP as exc:
            return Refused(name, f"it is damaged in the zip: {str(exc)[:80]}")
        finally:
            # Every byte inflated counts against the import's total, kept or not.
            self.inflated_bytes += real
        data = b"".join(chunks)
        del chunks
        digest = hashlib.sha256(data).hexdigest()
        # Equal images share one bytes object: a copy costs memory only until it is dropped here.
        kept = self._contents.setdefault(digest, data)
        if kept is data:
            self._held += len(data)
        return Image(name, kept, digest)


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
