"""Rules for attachment files: which ids, names and types are accepted, and content sniffing."""

from __future__ import annotations

import re
import unicodedata

from desktop.errors import NotFound, UnsupportedMediaType

DEFAULT_MAX_BYTES = 20 * 1024 * 1024

# Ids become file names, so only this alphabet is ever turned into a path.
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")

IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
_TEXT_LIKE = {
    "application/json",
    "application/xml",
    "application/x-yaml",
    "application/yaml",
    "application/toml",
    "application/javascript",
    "application/x-sh",
    "application/sql",
}
PDF = "application/pdf"
# How many files one message may carry (the page enforces it; the server takes what arrives).
MAX_PER_MESSAGE = 5
# What the page offers in its file picker, as ChatKit's `accept` map (MIME type -> extensions).
ACCEPT: dict[str, list[str]] = {
    "image/*": [".png", ".jpg", ".jpeg", ".gif", ".webp"],
    "application/pdf": [".pdf"],
    "text/*": [".txt", ".md", ".csv", ".json", ".py", ".ts", ".js", ".html", ".css"],
}


def page_limits(max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, object]:
    """The attachment rules the page needs, so it never keeps a second copy of them."""
    return {"max_bytes": max_bytes, "max_count": MAX_PER_MESSAGE, "accept": ACCEPT}


def checked_id(attachment_id: str) -> str:
    if not _SAFE_ID.match(attachment_id):
        raise NotFound(f"No attachment with id {attachment_id[:80]!r}.")
    return attachment_id


def normalize_mime(mime_type: str) -> str:
    return mime_type.split(";", 1)[0].strip().lower()


def is_text(mime_type: str) -> bool:
    return mime_type.startswith("text/") or mime_type in _TEXT_LIKE


def check_mime(mime_type: str) -> str:
    mime = normalize_mime(mime_type)
    if mime in IMAGE_TYPES or mime == PDF or is_text(mime):
        return mime
    raise UnsupportedMediaType(
        f"Files of type {mime_type[:80]!r} can't be attached. "
        "Attach an image (PNG, JPEG, GIF, WebP), a PDF or a text file."
    )


def clean_name(name: str) -> str:
    """A display name with no path parts or control characters; never used as a path."""
    base = re.split(r"[\\/]", name)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    return base[:255] or "attachment"


_MAGIC: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    PDF: (b"%PDF-",),
}


def content_matches(mime_type: str, head: bytes) -> bool:
    """Whether the first bytes of a file agree with its declared type."""
    if mime_type == "image/webp":
        return head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    if mime_type in _MAGIC:
        return head.startswith(_MAGIC[mime_type])
    if is_text(mime_type):
        if b"\x00" in head:
            return False
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            # A multi-byte character cut at the end of the sample is still text.
            return exc.start >= len(head) - 3
        return True
    return False
