"""`AttachmentFiles`: chatkit's AttachmentStore. Two-phase uploads checked as they arrive,
the bytes on disk under validated ids, and the sweep of uploads no message claimed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from chatkit.store import AttachmentStore, NotFoundError
from chatkit.types import (
    Attachment,
    AttachmentCreateParams,
    AttachmentUploadDescriptor,
    FileAttachment,
    ImageAttachment,
)
from pydantic import AnyUrl

from desktop import attachment_rules as rules
from desktop.context import RequestContext
from desktop.errors import InvalidRequestError, PayloadTooLarge, UnsupportedMediaType
from desktop.store.connections import Database
from desktop.store.records import attachment_adapter, new_id, stored_json

# Uploads that no message claimed within this time are removed when the store opens.
ORPHAN_UPLOAD_AGE_S = 24 * 3600
# Files uploaded but not yet sent with a message; past this, new uploads are refused.
MAX_PENDING_UPLOADS = 50
_PART_SUFFIX = ".part"


def _open_private(path: Path) -> Any:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return os.fdopen(fd, "wb")


class AttachmentFiles(AttachmentStore[RequestContext]):
    def __init__(self, database: Database, directory: Path, max_bytes: int) -> None:
        self.database = database
        self.directory = directory
        self.max_bytes = max_bytes

    def generate_attachment_id(self, mime_type: str, context: RequestContext) -> str:
        return new_id("atc")

    async def record(self, attachment_id: str) -> tuple[str, int | None, int] | None:
        def q(db: sqlite3.Connection) -> tuple[str, int | None, int] | None:
            row = db.execute(
                "SELECT data, stored_size, declared_size FROM attachments WHERE id = ?",
                (attachment_id,),
            ).fetchone()
            return (row[0], row[1], row[2]) if row else None

        return await self.database.read(q)

    async def create_attachment(
        self, input: AttachmentCreateParams, context: RequestContext
    ) -> Attachment:
        mime = rules.check_mime(input.mime_type)
        if input.size <= 0:
            raise InvalidRequestError("The file is empty.")
        if input.size > self.max_bytes:
            raise PayloadTooLarge(self._too_large_message())
        attachment_id = new_id("atc")
        descriptor = AttachmentUploadDescriptor(
            url=AnyUrl(context.upload_url(attachment_id)),
            method="PUT",
            headers=dict(context.upload_headers),
        )
        name = rules.clean_name(input.name)
        attachment: Attachment
        if mime in rules.IMAGE_TYPES:
            attachment = ImageAttachment(
                id=attachment_id,
                name=name,
                mime_type=mime,
                upload_descriptor=descriptor,
                preview_url=AnyUrl(context.content_url(attachment_id)),
            )
        else:
            attachment = FileAttachment(
                id=attachment_id, name=name, mime_type=mime, upload_descriptor=descriptor
            )
        data = stored_json(attachment)

        def w(db: sqlite3.Connection) -> None:
            pending = db.execute(
                "SELECT count(*) FROM attachments WHERE thread_id IS NULL"
            ).fetchone()[0]
            if pending >= MAX_PENDING_UPLOADS:
                raise InvalidRequestError(
                    f"{pending} files are waiting to be sent. Send them or remove some first."
                )
            db.execute(
                "INSERT INTO attachments (id, thread_id, mime_type, declared_size, created_at, data) "
                "VALUES (?, NULL, ?, ?, ?, ?)",
                (attachment_id, mime, input.size, time.time(), data),
            )

        await self.database.write(w)
        return attachment

    def _too_large_message(self) -> str:
        mb = self.max_bytes / (1024 * 1024)
        return f"The file is larger than the {mb:g} MB limit for attachments."

    def file_path(self, attachment_id: str) -> Path:
        """The on-disk path of an attachment's bytes. Only validated ids ever become paths."""
        return self.directory / rules.checked_id(attachment_id)

    def unlink(self, attachment_id: str) -> None:
        try:
            path = self.file_path(attachment_id)
        except Exception:
            return
        for p in (path, path.with_name(path.name + _PART_SUFFIX)):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()

    async def write_attachment_file(
        self, attachment_id: str, chunks: AsyncIterator[bytes]
    ) -> Attachment:
        """Receive the bytes of a two-phase upload, checking size and type as they arrive."""
        path = self.file_path(attachment_id)
        row = await self.record(attachment_id)
        if row is None:
            raise NotFoundError(f"Attachment {attachment_id} not found")
        data, stored_size, declared_size = row
        if stored_size is not None:
            raise InvalidRequestError("This attachment was already uploaded.")
        attachment = attachment_adapter().validate_json(data)
        cap = min(self.max_bytes, declared_size or self.max_bytes)
        part = path.with_name(path.name + _PART_SUFFIX)
        size = 0
        head = b""
        handle = await asyncio.to_thread(_open_private, part)
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > cap:
                    if size > self.max_bytes:
                        raise PayloadTooLarge(self._too_large_message())
                    raise InvalidRequestError("The upload is larger than the size declared for it.")
                if len(head) < 512:
                    head += chunk[: 512 - len(head)]
                await asyncio.to_thread(handle.write, chunk)
            await asyncio.to_thread(handle.flush)
            await asyncio.to_thread(os.fsync, handle.fileno())
        except BaseException:
            handle.close()
            await asyncio.to_thread(self.unlink, attachment_id)
            raise
        handle.close()
        if size == 0:
            await asyncio.to_thread(self.unlink, attachment_id)
            raise InvalidRequestError("The upload was empty.")
        if not rules.content_matches(attachment.mime_type, head):
            await asyncio.to_thread(self.unlink, attachment_id)
            raise UnsupportedMediaType(
                f"The file's content doesn't match its declared type ({attachment.mime_type})."
            )
        await asyncio.to_thread(os.replace, part, path)
        done = attachment.model_copy(update={"upload_descriptor": None})
        done_data = done.model_dump_json()

        def w(db: sqlite3.Connection) -> int:
            return db.execute(
                "UPDATE attachments SET stored_size = ?, data = ? WHERE id = ?",
                (size, done_data, attachment_id),
            ).rowcount

        if not await self.database.write(w):
            # Deleted while uploading: don't leave its bytes behind.
            await asyncio.to_thread(self.unlink, attachment_id)
            raise NotFoundError(f"Attachment {attachment_id} not found")
        return done

    async def save_generated(
        self, thread_id: str, name: str, mime_type: str, data: bytes, context: RequestContext
    ) -> Attachment:
        """Keep bytes the model made (a generated image) as a file of the chat, like an upload:
        on disk, checked, and deleted with the chat."""
        created = await self.create_attachment(
            AttachmentCreateParams(name=name, size=len(data), mime_type=mime_type), context
        )

        async def body() -> AsyncIterator[bytes]:
            yield data

        done = await self.write_attachment_file(created.id, body())

        def w(db: sqlite3.Connection) -> None:
            db.execute("UPDATE attachments SET thread_id = ? WHERE id = ?", (thread_id, created.id))

        await self.database.write(w)
        return done

    async def attachment_file(self, attachment_id: str) -> tuple[Attachment, Path]:
        """An uploaded attachment and the path of its bytes; NotFoundError if not uploaded."""
        path = self.file_path(attachment_id)
        row = await self.record(attachment_id)
        if row is None or row[1] is None:
            raise NotFoundError(f"Attachment {attachment_id} not found")
        return attachment_adapter().validate_json(row[0]), path

    def sweep_orphans(self) -> None:
        """Drop uploads no message ever claimed, and files with no record (e.g. after a crash)."""
        cutoff = time.time() - ORPHAN_UPLOAD_AGE_S
        db = self.database.connect(read_only=False)
        try:
            db.execute("BEGIN IMMEDIATE")
            stale = [
                r[0]
                for r in db.execute(
                    "SELECT id FROM attachments WHERE thread_id IS NULL AND created_at < ?",
                    (cutoff,),
                )
            ]
            db.executemany("DELETE FROM attachments WHERE id = ?", [(i,) for i in stale])
            known = {
                r[0] for r in db.execute("SELECT id FROM attachments WHERE stored_size IS NOT NULL")
            }
            db.execute("COMMIT")
        finally:
            db.close()
        for entry in self._scan_attachment_files():
            if entry.name not in known:
                with contextlib.suppress(OSError):
                    entry.unlink()

    def _scan_attachment_files(self) -> Iterator[Path]:
        try:
            yield from (p for p in self.directory.iterdir() if p.is_file())
        except FileNotFoundError:
            return

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        def w(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM attachments WHERE id = ?", (attachment_id,))

        await self.database.write(w)
        await asyncio.to_thread(self.unlink, attachment_id)
