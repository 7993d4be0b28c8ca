"""Hostile ChatGPT data exports (zips), built the way an attacker would build them; the import
tests and the fuzz suite share them through `ZIP_BUILDERS`."""

from __future__ import annotations

import json
import random
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

MB = 1024 * 1024


def chatgpt_conversation(key: str, pointers: list[str], title: str = "Bomb") -> dict[str, Any]:
    """One conversation: a user message per asset pointer, each answered."""
    mapping: dict[str, Any] = {
        "root": {"id": "root", "parent": None, "children": [], "message": None}
    }
    parent = "root"
    for n, pointer in enumerate(pointers):
        for role, node_id in (("user", f"u{n}"), ("assistant", f"a{n}")):
            parts: list[Any] = [f"message {n}"]
            if role == "user":
                parts.append({"content_type": "image_asset_pointer", "asset_pointer": pointer})
            mapping[parent]["children"].append(node_id)
            mapping[node_id] = {
                "id": node_id,
                "parent": parent,
                "children": [],
                "message": {
                    "id": node_id,
                    "author": {"role": role},
                    "create_time": 1_700_000_000 + n,
                    "content": {"content_type": "multimodal_text", "parts": parts},
                    "metadata": {},
                },
            }
            parent = node_id
    return {
        "title": title,
        "conversation_id": key,
        "create_time": 1_700_000_000,
        "current_node": parent,
        "mapping": mapping,
    }


def _zero_entry(archive: zipfile.ZipFile, name: str, size: int, head: bytes = b"") -> None:
    # Written in chunks: the entry is never whole in memory, and zip64 allows any size.
    chunk = bytes(MB)
    with archive.open(name, "w", force_zip64=size >= 2**31) as entry:
        entry.write(head)
        left = size - len(head)
        while left > 0:
            entry.write(chunk[: min(left, MB)])
            left -= MB


REAL_PHOTO = "file-real-photo.png"


def photo_bytes(size: int = 64 * 1024, seed: int = 0) -> bytes:
    """Stands in for a real image: PNG magic, then bytes that don't compress (as real ones)."""
    return b"\x89PNG\r\n\x1a\n" + random.Random(seed).randbytes(size - 8)


def chatgpt_zip(
    path: Path,
    conversations: list[dict[str, Any]],
    entries: dict[str, int],
    photos: dict[str, bytes] | None = None,
) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("conversations.json", json.dumps(conversations))
        for name, size in entries.items():
            _zero_entry(archive, name, size)
        for name, data in (photos or {}).items():
            archive.writestr(name, data)
    return path


def zip_bomb(path: Path, *, entry_mb: int = 4, references: int = 150) -> Path:
    """A 76 kB zip (64 kB of it a real photo) whose one highly compressible image is referenced
    `references` times: with the defaults it imported as 600 MB of attachments. A chat with the
    real photo comes after it."""
    pointers = ["file-service://file-bomb"] * references
    conversations = [
        chatgpt_conversation("c-bomb", pointers),
        chatgpt_conversation("c-real", ["file-service://file-real"], "A real photo"),
    ]
    entries = {"file-bomb.png": entry_mb * MB}
    return chatgpt_zip(path, conversations, entries, {REAL_PHOTO: photo_bytes()})


def zip_bomb_across_chats(path: Path, *, entry_mb: int = 1, chats: int = 50) -> Path:
    """The same image in many chats (one reference each)."""
    conversations = [
        chatgpt_conversation(f"c-{n}", ["file-service://file-bomb"], f"Chat {n}")
        for n in range(chats)
    ]
    return chatgpt_zip(path, conversations, {"file-bomb.png": entry_mb * MB})


def zip_with_huge_entry(path: Path, *, declared_mb: int = 600) -> Path:
    """One image entry of `declared_mb` MB of zeros (about 1/1000 of that in the zip)."""
    pointers = ["file-service://file-huge"]
    return chatgpt_zip(
        path, [chatgpt_conversation("c-huge", pointers)], {"file-huge.png": declared_mb * MB}
    )


def zip_with_lying_size(path: Path, *, real_mb: int = 3) -> Path:
    """An entry whose directory says it is 1 kB while its data inflates to `real_mb` MB."""
    chatgpt_zip(
        path,
        [chatgpt_conversation("c-liar", ["file-service://file-liar"])],
        {"file-liar.png": real_mb * MB},
    )
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("file-liar.png")
    raw = bytearray(path.read_bytes())
    # The central directory entry: signature, then the uncompressed size 24 bytes in.
    name = b"file-liar.png"
    at = raw.find(b"PK\x01\x02")
    while at != -1:
        length = int.from_bytes(raw[at + 28 : at + 30], "little")
        if raw[at + 46 : at + 46 + length] == name:
            raw[at + 24 : at + 28] = (1024).to_bytes(4, "little")
            break
        at = raw.find(b"PK\x01\x02", at + 4)
    assert info.file_size == real_mb * MB
    path.write_bytes(bytes(raw))
    return path


def zip_bomb_in_one_message(
    path: Path, *, entries: int = 600, entry_mb: int = 1, distinct: bool = False
) -> Path:
    """`entries` images of `entry_mb` MB, all in one message: 600 entries of 1 MB of zeros make
    a 700 kB zip that held 600 MB in memory while its chat was built. `distinct` gives each a
    random start (12 kB), so they differ and expand less than 100-fold (a 7 MB zip)."""
    pointers = [f"file-service://file-many{n:04}" for n in range(entries)]
    conversation = chatgpt_conversation("c-many", pointers[:1])
    parts = conversation["mapping"]["u0"]["message"]["content"]["parts"]
    parts += [{"content_type": "image_asset_pointer", "asset_pointer": p} for p in pointers[1:]]
    make = random.Random(entries)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("conversations.json", json.dumps([conversation]))
        for n in range(entries):
            head = make.randbytes(12 * 1024) if distinct else b""
            _zero_entry(archive, f"file-many{n:04}.png", entry_mb * MB, head)
    return path


def zip_of_distinct_images_in_one_message(path: Path, entries: int = 160) -> Path:
    """More distinct images than one conversation may hold in memory (128 MB)."""
    return zip_bomb_in_one_message(path, entries=entries, distinct=True)


ZIP_BUILDERS: dict[str, Callable[[Path], Path]] = {
    "bomb": zip_bomb,
    "bomb across chats": zip_bomb_across_chats,
    "huge entry": zip_with_huge_entry,
    "lying size": zip_with_lying_size,
    "many entries in one message": zip_bomb_in_one_message,
    "many distinct images in one message": zip_of_distinct_images_in_one_message,
}
