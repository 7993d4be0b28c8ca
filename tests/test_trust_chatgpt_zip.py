"""A ChatGPT zip can't become gigabytes (issue 22, finding 4): an image entry over the cap or
compressed like no real image is never inflated, real bytes are counted, an image used by many
messages is stored once per chat, and one import's images are capped. A refused image is a
placeholder saying why, the rest of the import goes on, and the count is reported."""

from __future__ import annotations

import json
import sqlite3
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from desktop.store.chatgpt_images import ImageLimits
from desktop.store.import_chatgpt import ChatGptExport, parse_chatgpt
from desktop.store.import_json import ImportResult, write_import
from tests.support.headless import run_cli
from tests.support.hostile_zips import (
    MB,
    REAL_PHOTO,
    chatgpt_conversation,
    chatgpt_zip,
    photo_bytes,
    zip_bomb,
    zip_bomb_across_chats,
    zip_bomb_in_one_message,
    zip_with_huge_entry,
    zip_with_lying_size,
)


def zip_with_photos(path: Path, chats: int, references: int, size: int = 64 * 1024) -> Path:
    """Not hostile: `chats` chats, each with its own real photo, used by `references` messages
    of that chat and by the first message of every chat."""
    conversations = [
        chatgpt_conversation(
            f"c-{n}",
            ["file-service://file-shared"] + [f"file-service://file-own{n}"] * references,
            f"Chat {n}",
        )
        for n in range(chats)
    ]
    photos = {f"file-own{n}-photo.png": photo_bytes(size, n + 1) for n in range(chats)}
    photos["file-shared-photo.png"] = photo_bytes(size, 0)
    return chatgpt_zip(path, conversations, {}, photos)


def run_import(data: Path, export: Path, limits: ImageLimits | None = None) -> tuple[int, int]:
    """(chats added, images refused), checking that the result notes each refused image."""
    parsed: ChatGptExport = parse_chatgpt(export, limits)
    result: ImportResult = write_import(data, parsed)
    refused = parsed.images_refused()
    assert bool(result.notes) == bool(refused)
    assert all("an image wasn't imported" in note for note in result.notes)
    return result.added, refused


def stored(data: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in (data / "attachments").iterdir()}


def user_messages(data: Path, title: str) -> list[dict[str, Any]]:
    db = sqlite3.connect(data / "chats.db")
    try:
        rows = db.execute(
            "SELECT i.data FROM items i JOIN threads t ON t.id = i.thread_id "
            "WHERE json_extract(t.data, '$.title') = ? AND i.type = 'user_message' "
            "ORDER BY i.seq",
            (title,),
        ).fetchall()
    finally:
        db.close()
    return [json.loads(r[0]) for r in rows]


def text_of(message: dict[str, Any]) -> str:
    return " ".join(c["text"] for c in message["content"])


def test_a_zip_bomb_is_refused_with_a_placeholder_and_the_rest_imports(tmp_path: Path) -> None:
    export = zip_bomb(tmp_path / "bomb.zip")  # ~10 kB that imported as 600 MB
    assert export.stat().st_size < 150_000
    parsed = parse_chatgpt(export)
    result = write_import(tmp_path / "data", parsed)
    assert (result.added, parsed.images_refused()) == (2, 1)
    (note,) = result.notes
    assert note.startswith("Bomb: an image wasn't imported: file-bomb.png (it expands")
    files = stored(tmp_path / "data")
    # Only the real photo, once.
    assert list(files.values()) == [len(photo_bytes())]
    bomb = user_messages(tmp_path / "data", "Bomb")
    assert len(bomb) == 150 and all(m["attachments"] == [] for m in bomb)
    assert "file-bomb.png (it expands" in text_of(bomb[0]) and "zip bomb" in text_of(bomb[0])
    (real,) = user_messages(tmp_path / "data", "A real photo")
    assert [a["name"] for a in real["attachments"]] == [REAL_PHOTO]


def test_the_cli_imports_a_zip_bomb_safely(tmp_path: Path) -> None:
    export = zip_bomb(tmp_path / "bomb.zip")
    done = run_cli("import", str(export), "--data-dir", str(tmp_path / "data"))
    assert done.returncode == 0, done.stderr
    assert "Imported 2 chats" in done.stdout and "Traceback" not in done.stderr
    assert sum(stored(tmp_path / "data").values()) < MB


def test_an_entry_over_the_cap_is_never_inflated(tmp_path: Path) -> None:
    export = zip_with_huge_entry(tmp_path / "huge.zip", declared_mb=30)
    # Only the size check stands in the way: the ratio check is switched off.
    added, refused = run_import(tmp_path / "data", export, ImageLimits(max_ratio=1e12))
    assert (added, refused) == (1, 1)
    assert stored(tmp_path / "data") == {}
    (message,) = user_messages(tmp_path / "data", "Bomb")
    assert "file-huge.png (30.0 MB; the limit is 20.0 MB)" in text_of(message)


def test_an_entry_whose_header_lies_about_its_size_stops_at_the_declared_size(
    tmp_path: Path,
) -> None:
    export = zip_with_lying_size(tmp_path / "liar.zip", real_mb=3)
    added, refused = run_import(tmp_path / "data", export)
    assert (added, refused) == (1, 1)
    assert stored(tmp_path / "data") == {}
    (message,) = user_messages(tmp_path / "data", "Bomb")
    assert "file-liar.png (it is damaged in the zip" in text_of(message)


def test_an_image_in_many_messages_is_stored_once_per_chat(tmp_path: Path) -> None:
    export = zip_with_photos(tmp_path / "photos.zip", chats=3, references=20)
    added, refused = run_import(tmp_path / "data", export)
    assert (added, refused) == (3, 0)
    # Each chat: its own photo and the shared one, once each (a chat's files are its own, so
    # deleting one chat never takes another's images).
    assert len(stored(tmp_path / "data")) == 6
    for n in range(3):
        messages = user_messages(tmp_path / "data", f"Chat {n}")
        ids = {a["id"] for m in messages for a in m["attachments"]}
        assert len(messages) == 21 and len(ids) == 2


def test_one_imports_images_are_capped_in_total(tmp_path: Path) -> None:
    export = zip_with_photos(tmp_path / "photos.zip", chats=3, references=1, size=100_000)
    limits = ImageLimits(total_bytes=450_000)
    added, refused = run_import(tmp_path / "data", export, limits)
    assert added == 3 and refused == 2
    assert sum(stored(tmp_path / "data").values()) <= 450_000
    # The first two chats have both their photos; the third's come after the cap.
    assert [len(m["attachments"]) for m in user_messages(tmp_path / "data", "Chat 1")] == [1, 1]
    for message in user_messages(tmp_path / "data", "Chat 2"):
        assert message["attachments"] == []
        assert "the import's images passed 0.4 MB" in text_of(message)


def test_the_same_small_bomb_in_many_chats_stops_at_the_total(tmp_path: Path) -> None:
    # With the ratio check off, the total cap (at least 256 MB, here 8 MB) bounds how often the
    # entry can be inflated and stored.
    export = zip_bomb_across_chats(tmp_path / "chats.zip", entry_mb=1, chats=40)
    limits = ImageLimits(max_ratio=1e12, total_bytes=None, total_floor=8 * MB)
    added, refused = run_import(tmp_path / "data", export, limits)
    assert added == 40 and refused == 1
    assert sum(stored(tmp_path / "data").values()) <= 8 * MB


def peak_memory(work: Callable[[], object]) -> int:
    """The most Python memory `work` held at once, in bytes."""
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_many_bomb_entries_in_one_message_never_fill_memory(tmp_path: Path) -> None:
    # 600 entries of 1 MB of zeros, all in one message: a 700 kB zip that held 600 MB at once.
    export = zip_bomb_in_one_message(tmp_path / "many.zip")
    assert export.stat().st_size < 800_000
    outcome: list[tuple[int, int]] = []
    peak = peak_memory(lambda: outcome.append(run_import(tmp_path / "data", export)))
    assert outcome == [(1, 600)]
    assert peak < 32 * MB, f"{peak / MB:.0f} MB"
    assert stored(tmp_path / "data") == {}
    (message,) = user_messages(tmp_path / "data", "Bomb")
    # The first 256 for their ratio, the rest because one conversation reads no more entries.
    assert text_of(message).count("which no real image does; a zip bomb?") == 256
    assert text_of(message).count("(this chat has more than 256 images)") == 344


def test_one_conversations_distinct_images_are_capped_in_memory(tmp_path: Path) -> None:
    # Each entry differs and expands less than 100-fold, so neither the ratio check nor sharing
    # equal bytes stops it: what one conversation may hold does.
    export = zip_bomb_in_one_message(tmp_path / "many.zip", entries=40, distinct=True)
    limits = ImageLimits(conversation_bytes=8 * MB)
    outcome: list[tuple[int, int]] = []
    peak = peak_memory(lambda: outcome.append(run_import(tmp_path / "data", export, limits)))
    assert outcome == [(1, 32)]
    assert peak < 12 * MB, f"{peak / MB:.0f} MB"
    assert len(stored(tmp_path / "data")) == 8
    (message,) = user_messages(tmp_path / "data", "Bomb")
    assert len(message["attachments"]) == 8
    assert "file-many0008.png (this chat's images passed 8.0 MB)" in text_of(message)


def test_one_conversation_reads_a_bounded_number_of_entries(tmp_path: Path) -> None:
    # Small entries pass the ratio check; how many one conversation may read is capped.
    pointers = [f"file-service://file-tiny{n:03}" for n in range(300)]
    conversation = chatgpt_conversation("c-tiny", pointers)
    photos = {f"file-tiny{n:03}.png": photo_bytes(1024, n) for n in range(300)}
    export = chatgpt_zip(tmp_path / "tiny.zip", [conversation], {}, photos)
    added, refused = run_import(tmp_path / "data", export)
    assert (added, refused) == (1, 300 - 256)
    assert len(stored(tmp_path / "data")) == 256
    last = user_messages(tmp_path / "data", "Bomb")[-1]
    assert "file-tiny299.png (this chat has more than 256 images)" in text_of(last)


def test_equal_images_under_many_names_are_held_once(tmp_path: Path) -> None:
    pointers = [f"file-service://file-copy{n:02}" for n in range(24)]
    photo = photo_bytes(MB)
    photos = {f"file-copy{n:02}.png": photo for n in range(24)}
    export = chatgpt_zip(tmp_path / "copies.zip", [chatgpt_conversation("c", pointers)], {}, photos)
    outcome: list[tuple[int, int]] = []
    peak = peak_memory(lambda: outcome.append(run_import(tmp_path / "data", export)))
    assert outcome == [(1, 0)]
    # One copy held, one being read, and the transient join of its chunks.
    assert peak < 6 * MB, f"{peak / MB:.0f} MB"
    assert list(stored(tmp_path / "data").values()) == [MB]
