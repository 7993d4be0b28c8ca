"""Attachment bytes on disk: caps, cleanup of abandoned uploads, and deletion with threads."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from chatkit.store import NotFoundError
from chatkit.types import AttachmentCreateParams, ThreadMetadata

from desktop.context import RequestContext
from desktop.errors import PayloadTooLarge, UnsupportedMediaType
from desktop.store import ORPHAN_UPLOAD_AGE_S, SQLiteStore

CTX = RequestContext(base_url="http://127.0.0.1:1234")


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def upload(store: SQLiteStore, name: str, body: bytes, mime: str = "text/plain") -> str:
    att = await store.attachments.create_attachment(
        AttachmentCreateParams(name=name, size=len(body), mime_type=mime), CTX
    )
    await store.attachments.write_attachment_file(att.id, chunks(body))
    return att.id


async def test_cap_is_enforced_while_streaming(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "chats.db", max_attachment_bytes=1000)
    try:
        with pytest.raises(PayloadTooLarge, match="larger than the"):
            await store.attachments.create_attachment(
                AttachmentCreateParams(name="a", size=1001, mime_type="text/plain"), CTX
            )
        att = await store.attachments.create_attachment(
            AttachmentCreateParams(name="a", size=900, mime_type="text/plain"), CTX
        )
        # A client that lies about the size is cut off at the cap, and nothing is left on disk.
        with pytest.raises(PayloadTooLarge):
            await store.attachments.write_attachment_file(att.id, chunks(b"a" * 600, b"a" * 600))
        assert list(store.attachments.directory.iterdir()) == []
    finally:
        store.close()


async def test_names_and_types_are_checked(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "chats.db")
    try:
        att = await store.attachments.create_attachment(
            AttachmentCreateParams(
                name="../../evil\x00name.txt", size=3, mime_type="Text/Plain; charset=utf-8"
            ),
            CTX,
        )
        assert att.name == "evilname.txt" and att.mime_type == "text/plain"
        with pytest.raises(UnsupportedMediaType):
            await store.attachments.create_attachment(
                AttachmentCreateParams(name="a.zip", size=3, mime_type="application/zip"), CTX
            )
        assert att.upload_descriptor is not None
        assert (
            str(att.upload_descriptor.url)
            == f"http://127.0.0.1:1234/api/attachments/{att.id}/upload"
        )
    finally:
        store.close()


async def test_abandoned_uploads_and_stray_files_are_cleaned_on_open(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "chats.db")
    abandoned = await upload(store, "old.txt", b"old")
    fresh = await upload(store, "new.txt", b"new")
    kept = await upload(store, "kept.txt", b"kept")
    await store.save_thread(ThreadMetadata(id="t1", created_at=datetime.now()), CTX)
    attached = (await store.load_attachment(kept, CTX)).model_copy(update={"thread_id": "t1"})
    await store.save_attachment(attached, CTX)
    store.close()
    db = sqlite3.connect(tmp_path / "chats.db")
    old = time.time() - ORPHAN_UPLOAD_AGE_S - 60
    db.execute("UPDATE attachments SET created_at = ? WHERE id IN (?, ?)", (old, abandoned, kept))
    db.commit()
    db.close()
    (tmp_path / "attachments" / "atc_stray").write_bytes(b"crash leftover")
    (tmp_path / "attachments" / "atc_x.part").write_bytes(b"half upload")

    reopened = SQLiteStore(tmp_path / "chats.db")
    try:
        reopened.open()
        names = sorted(p.name for p in reopened.attachments.directory.iterdir())
        assert names == sorted([fresh, kept])
        with pytest.raises(NotFoundError):
            await reopened.load_attachment(abandoned, CTX)
        assert (await reopened.load_attachment(kept, CTX)).thread_id == "t1"
    finally:
        reopened.close()
