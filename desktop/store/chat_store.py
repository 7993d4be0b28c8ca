"""`SQLiteStore`: threads, items and attachments in one SQLite file, attachment bytes on disk.

Concurrency model: one writer thread owns the only connection that writes, so our own writes
never contend; a few reader threads hold read-only connections, which WAL lets run beside the
writer. Every sqlite call runs on one of those threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any, Literal, TypeVar

from chatkit.store import AttachmentStore, NotFoundError, Store, StoreItemType
from chatkit.types import (
    Attachment,
    AttachmentCreateParams,
    AttachmentUploadDescriptor,
    FileAttachment,
    ImageAttachment,
    Page,
    Thread,
    ThreadItem,
    ThreadMetadata,
)
from pydantic import AnyUrl, TypeAdapter

from desktop.context import RequestContext
from desktop.errors import InvalidRequestError, PayloadTooLarge, StoreError, UnsupportedMediaType
from desktop.store import attachment_rules as rules
from desktop.store.database import connect, describe_error, prepare_database
from desktop.store.migrations import MIGRATIONS, Migration

T = TypeVar("T")
Order = Literal["asc", "desc"]

# Uploads that no message claimed within this time are removed when the store opens.
ORPHAN_UPLOAD_AGE_S = 24 * 3600
# Files uploaded but not yet sent with a message; past this, new uploads are refused.
MAX_PENDING_UPLOADS = 50
_CURSOR_MEMORY = 1024
_PART_SUFFIX = ".part"


@cache
def _item_adapter() -> TypeAdapter[ThreadItem]:
    return TypeAdapter(ThreadItem)


@cache
def _attachment_adapter() -> TypeAdapter[Attachment]:
    return TypeAdapter(Attachment)


_ID_PREFIXES: dict[StoreItemType, str] = {
    "thread": "thr",
    "message": "msg",
    "tool_call": "tc",
    "task": "tsk",
    "workflow": "wf",
    "attachment": "atc",
    "sdk_hidden_context": "shcx",
}


def _new_id(prefix: str) -> str:
    # 64 random bits: chatkit's default 32 bits collide within a large history.
    return f"{prefix}_{secrets.token_hex(8)}"


def _metadata_only(thread: ThreadMetadata) -> ThreadMetadata:
    # chatkit sometimes saves a full `Thread`; only its metadata belongs in the threads table.
    if isinstance(thread, Thread):
        return ThreadMetadata(**thread.model_dump(exclude={"items"}))
    return thread


def _stored_json(attachment: Attachment) -> str:
    """An attachment as saved: upload headers carry the session token, which is never stored."""
    descriptor = attachment.upload_descriptor
    if descriptor is not None and descriptor.headers:
        attachment = attachment.model_copy(
            update={"upload_descriptor": descriptor.model_copy(update={"headers": {}})}
        )
    return attachment.model_dump_json()


def _open_private(path: Path) -> Any:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return os.fdopen(fd, "wb")


def _order(order: str) -> Order:
    return "asc" if order == "asc" else "desc"


class SQLiteStore(Store[RequestContext], AttachmentStore[RequestContext]):
    """A ChatKit `Store` and `AttachmentStore` backed by one SQLite file."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        attachments_dir: str | os.PathLike[str] | None = None,
        max_attachment_bytes: int = rules.DEFAULT_MAX_BYTES,
        readers: int = 3,
        migrations: list[Migration] | None = None,
    ) -> None:
        self.path = Path(path)
        self.attachments_dir = (
            Path(attachments_dir) if attachments_dir else self.path.parent / "attachments"
        )
        self.max_attachment_bytes = max_attachment_bytes
        self._migrations = MIGRATIONS if migrations is None else migrations
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="store-writer")
        self._readers = ThreadPoolExecutor(readers, thread_name_prefix="store-reader")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._open_lock = threading.Lock()
        self._opened = False
        self._closed = False
        # Where a threads.list page ended: cursor id -> (snapshot seq, position). See load_threads.
        self._cursors: OrderedDict[tuple[str, str], tuple[int, int]] = OrderedDict()
        self._cursor_lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle

    def open(self) -> None:
        """Create or migrate the file. Idempotent and thread-safe; raises StoreError clearly."""
        with self._open_lock:
            if self._opened:
                return
            if self._closed:
                raise StoreError("The chat store is closed.")
            prepare_database(self.path, self.attachments_dir, self._migrations)
            self._opened = True
            self._cleanup_orphans()

    def _describe(self, exc: sqlite3.Error) -> str:
        return describe_error(self.path, exc)

    def _connect(self, *, read_only: bool) -> sqlite3.Connection:
        return connect(self.path, read_only=read_only)

    def _conn(self, read_only: bool) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            self.open()
            db = self._connect(read_only=read_only)
            self._local.db = db
            with self._open_lock:
                self._connections.append(db)
        return db

    def close(self) -> None:
        """Finish queued writes, then close every connection."""
        if self._closed:
            return
        self._closed = True
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        with self._open_lock:
            for db in self._connections:
                with contextlib.suppress(sqlite3.Error):
                    db.close()
            self._connections.clear()

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._run(self._readers, fn, read_only=True)

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._run(self._writer, fn, read_only=False)

    async def _run(
        self, pool: ThreadPoolExecutor, fn: Callable[[sqlite3.Connection], T], *, read_only: bool
    ) -> T:
        def job() -> T:
            db = self._conn(read_only)
            if read_only:
                return fn(db)
            db.execute("BEGIN IMMEDIATE")
            try:
                result = fn(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return result

        loop = asyncio.get_running_loop()
        try:
            # Shielded: once a write is queued it finishes even if the request is cancelled,
            # so a client that disconnects can't leave a half-done operation behind.
            return await asyncio.shield(loop.run_in_executor(pool, job))
        except RuntimeError as exc:
            if self._closed:
                raise StoreError("The chat store is closed.") from exc
            raise
        except sqlite3.DatabaseError as exc:
            raise StoreError(self._describe(exc)) from exc

    @staticmethod
    def _next_seq(db: sqlite3.Connection) -> int:
        row = db.execute(
            "UPDATE sequence SET value = value + 1 WHERE id = 1 RETURNING value"
        ).fetchone()
        return int(row[0])

    # ------------------------------------------------------------------ ids

    def generate_thread_id(self, context: RequestContext) -> str:
        return _new_id("thr")

    def generate_item_id(
        self, item_type: StoreItemType, thread: ThreadMetadata, context: RequestContext
    ) -> str:
        return _new_id(_ID_PREFIXES[item_type])

    def generate_attachment_id(self, mime_type: str, context: RequestContext) -> str:
        return _new_id("atc")

    # ------------------------------------------------------------------ threads

    async def load_thread(self, thread_id: str, context: RequestContext) -> ThreadMetadata:
        def q(db: sqlite3.Connection) -> str | None:
            row = db.execute("SELECT data FROM threads WHERE id = ?", (thread_id,)).fetchone()
            return row[0] if row else None

        data = await self._read(q)
        if data is None:
            raise NotFoundError(f"Thread {thread_id} not found")
        return ThreadMetadata.model_validate_json(data)

    async def save_thread(self, thread: ThreadMetadata, context: RequestContext) -> None:
        meta = _metadata_only(thread)
        await self._write(lambda db: self._put_thread(db, meta))

    async def import_threads(self, threads: list[tuple[ThreadMetadata, list[ThreadItem]]]) -> None:
        """Save whole threads with their items in one transaction (imports, restores)."""

        def w(db: sqlite3.Connection) -> None:
            for thread, items in threads:
                meta = _metadata_only(thread)
                self._put_thread(db, meta)
                for item in items:
                    self._put_item(db, meta.id, item)

        await self._write(w)

    def _put_thread(self, db: sqlite3.Connection, meta: ThreadMetadata) -> None:
        data = meta.model_dump_json()
        if db.execute("UPDATE threads SET data = ? WHERE id = ?", (data, meta.id)).rowcount:
            return
        seq = self._next_seq(db)
        db.execute(
            "INSERT INTO threads (id, created_at, seq, active_seq, data) VALUES (?, ?, ?, ?, ?)",
            (meta.id, meta.created_at.isoformat(), seq, seq, data),
        )

    def _put_item(self, db: sqlite3.Connection, thread_id: str, item: ThreadItem) -> None:
        """Upsert an item. A new one gets the next seq and makes its thread the most active."""
        data = item.model_dump_json()
        if db.execute("SELECT 1 FROM threads WHERE id = ?", (thread_id,)).fetchone() is None:
            raise NotFoundError(f"Thread {thread_id} not found")
        updated = db.execute(
            "UPDATE items SET data = ?, type = ? WHERE thread_id = ? AND id = ?",
            (data, item.type, thread_id, item.id),
        ).rowcount
        if updated:
            return
        seq = self._next_seq(db)
        db.execute(
            "INSERT INTO items (thread_id, id, seq, type, created_at, data) VALUES (?, ?, ?, ?, ?, ?)",
            (thread_id, item.id, seq, item.type, item.created_at.isoformat(), data),
        )
        db.execute("UPDATE threads SET active_seq = ? WHERE id = ?", (seq, thread_id))

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: RequestContext
    ) -> Page[ThreadMetadata]:
        """Most recently active first (desc) or last (asc).

        A thread that gets a new item moves to the top. Paging must still neither skip nor repeat
        a thread, so every page after the first is read against the snapshot the first page saw:
        each thread sits where it was at that snapshot, which its items' seqs let us rebuild.
        """
        direction = _order(order)
        limit = max(1, min(limit, 500))
        remembered = None
        if after is not None:
            with self._cursor_lock:
                remembered = self._cursors.get((direction, after))

        def q(db: sqlite3.Connection) -> tuple[list[tuple[str, str, int]], int]:
            if remembered is not None:
                snap, pos = remembered
            else:
                snap = int(db.execute("SELECT value FROM sequence").fetchone()[0])
                pos = None
                if after is not None:
                    row = db.execute(
                        "SELECT active_seq FROM threads WHERE id = ?", (after,)
                    ).fetchone()
                    if row is None:
                        raise NotFoundError(f"Thread {after} not found")
                    pos = int(row[0])
            # One bound per side, so SQLite scans only the index range it returns. (With two
            # upper bounds it may seek on the looser one and filter thousands of rows.)
            if direction == "desc":
                hi = snap if pos is None else min(snap, pos - 1)
                sql = "WHERE active_seq <= :hi ORDER BY active_seq DESC"
                params = {"hi": hi, "n": limit + 1}
            else:
                sql = "WHERE active_seq > :lo AND active_seq <= :hi ORDER BY active_seq ASC"
                params = {"lo": pos or 0, "hi": snap, "n": limit + 1}
            rows: list[tuple[str, str, int]] = db.execute(
                f"SELECT id, data, active_seq FROM threads {sql} LIMIT :n",  # noqa: S608
                params,
            ).fetchall()
            # Threads active since the snapshot: put them back where the snapshot had them.
            moved = db.execute(
                "SELECT t.id, t.data, max(t.seq, coalesce((SELECT max(i.seq) FROM items i "
                "WHERE i.thread_id = t.id AND i.seq <= :snap), 0)) "
                "FROM threads t WHERE t.active_seq > :snap AND t.seq <= :snap",
                {"snap": snap},
            ).fetchall()
            for row in moved:
                p = int(row[2])
                if pos is None or (p < pos if direction == "desc" else p > pos):
                    rows.append((row[0], row[1], p))
            rows.sort(key=lambda r: r[2], reverse=direction == "desc")
            return rows[: limit + 1], snap

        rows, snap = await self._read(q)
        has_more = len(rows) > limit
        rows = rows[:limit]
        # chatkit's contract: `after` names the last row only while there is more to read.
        last = rows[-1][0] if rows and has_more else None
        if last is not None:
            with self._cursor_lock:
                self._cursors[(direction, last)] = (snap, rows[-1][2])
                self._cursors.move_to_end((direction, last))
                while len(self._cursors) > _CURSOR_MEMORY:
                    self._cursors.popitem(last=False)
        return Page(
            data=[ThreadMetadata.model_validate_json(r[1]) for r in rows],
            has_more=has_more,
            after=last,
        )

    async def delete_thread(self, thread_id: str, context: RequestContext) -> None:
        def w(db: sqlite3.Connection) -> list[str]:
            ids = [
                r[0]
                for r in db.execute("SELECT id FROM attachments WHERE thread_id = ?", (thread_id,))
            ]
            db.execute("DELETE FROM attachments WHERE thread_id = ?", (thread_id,))
            db.execute("DELETE FROM items WHERE thread_id = ?", (thread_id,))
            db.execute("DELETE FROM threads WHERE id = ?", (thread_id,))
            return ids

        for attachment_id in await self._write(w):
            await asyncio.to_thread(self._unlink, attachment_id)

    # ------------------------------------------------------------------ items

    async def load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str, context: RequestContext
    ) -> Page[ThreadItem]:
        direction = _order(order)
        limit = max(1, min(limit, 500))

        def q(db: sqlite3.Connection) -> list[tuple[str, str]]:
            if db.execute("SELECT 1 FROM threads WHERE id = ?", (thread_id,)).fetchone() is None:
                raise NotFoundError(f"Thread {thread_id} not found")
            cmp, sort = ("<", "DESC") if direction == "desc" else (">", "ASC")
            bound = ""
            params: dict[str, Any] = {"t": thread_id, "n": limit + 1}
            if after is not None:
                row = db.execute(
                    "SELECT seq FROM items WHERE thread_id = ? AND id = ?", (thread_id, after)
                ).fetchone()
                if row is None:
                    raise NotFoundError(f"Item {after} not found in thread {thread_id}")
                bound = f"AND seq {cmp} :pos"
                params["pos"] = row[0]
            rows: list[tuple[str, str]] = db.execute(
                f"SELECT id, data FROM items WHERE thread_id = :t {bound} ORDER BY seq {sort} LIMIT :n",  # noqa: S608
                params,
            ).fetchall()
            return rows

        rows = await self._read(q)
        has_more = len(rows) > limit
        rows = rows[:limit]
        adapter = _item_adapter()
        return Page(
            data=[adapter.validate_json(r[1]) for r in rows],
            has_more=has_more,
            after=rows[-1][0] if rows and has_more else None,
        )

    async def add_thread_item(
        self, thread_id: str, item: ThreadItem, context: RequestContext
    ) -> None:
        await self._upsert_item(thread_id, item)

    async def save_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        await self._upsert_item(thread_id, item)

    async def _upsert_item(self, thread_id: str, item: ThreadItem) -> None:
        await self._write(lambda db: self._put_item(db, thread_id, item))

    async def load_item(self, thread_id: str, item_id: str, context: RequestContext) -> ThreadItem:
        def q(db: sqlite3.Connection) -> str | None:
            row = db.execute(
                "SELECT data FROM items WHERE thread_id = ? AND id = ?", (thread_id, item_id)
            ).fetchone()
            return row[0] if row else None

        data = await self._read(q)
        if data is None:
            raise NotFoundError(f"Item {item_id} not found in thread {thread_id}")
        return _item_adapter().validate_json(data)

    async def delete_thread_item(
        self, thread_id: str, item_id: str, context: RequestContext
    ) -> None:
        def w(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM items WHERE thread_id = ? AND id = ?", (thread_id, item_id))

        await self._write(w)

    async def save_feedback(self, thread_id: str, item_ids: list[str], kind: str) -> None:
        def w(db: sqlite3.Connection) -> None:
            if db.execute("SELECT 1 FROM threads WHERE id = ?", (thread_id,)).fetchone() is None:
                raise NotFoundError(f"Thread {thread_id} not found")
            now = time.time()
            db.executemany(
                "INSERT INTO feedback (thread_id, item_id, kind, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (thread_id, item_id) DO UPDATE SET kind = excluded.kind, "
                "created_at = excluded.created_at",
                [(thread_id, item_id, kind, now) for item_id in item_ids],
            )

        await self._write(w)

    async def clear_feedback(self, thread_id: str, item_id: str) -> None:
        def w(db: sqlite3.Connection) -> None:
            db.execute(
                "DELETE FROM feedback WHERE thread_id = ? AND item_id = ?", (thread_id, item_id)
            )

        await self._write(w)

    async def load_feedback(self, thread_id: str) -> dict[str, str]:
        def q(db: sqlite3.Connection) -> dict[str, str]:
            rows = db.execute(
                "SELECT item_id, kind FROM feedback WHERE thread_id = ?", (thread_id,)
            )
            return {r[0]: r[1] for r in rows}

        return await self._read(q)

    # ------------------------------------------------------------------ attachments (metadata)

    async def save_attachment(self, attachment: Attachment, context: RequestContext) -> None:
        data = _stored_json(attachment)

        def w(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO attachments (id, thread_id, mime_type, declared_size, created_at, data) "
                "VALUES (?, ?, ?, 0, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                "thread_id = excluded.thread_id, data = excluded.data",
                (attachment.id, attachment.thread_id, attachment.mime_type, time.time(), data),
            )

        await self._write(w)

    async def load_attachment(self, attachment_id: str, context: RequestContext) -> Attachment:
        row = await self._attachment_row(attachment_id)
        if row is None:
            raise NotFoundError(f"Attachment {attachment_id} not found")
        return _attachment_adapter().validate_json(row[0])

    async def _attachment_row(self, attachment_id: str) -> tuple[str, int | None, int] | None:
        def q(db: sqlite3.Connection) -> tuple[str, int | None, int] | None:
            row = db.execute(
                "SELECT data, stored_size, declared_size FROM attachments WHERE id = ?",
                (attachment_id,),
            ).fetchone()
            return (row[0], row[1], row[2]) if row else None

        return await self._read(q)

    async def attachment_sizes(self, attachment_ids: list[str]) -> dict[str, int]:
        """The stored byte size of each uploaded attachment among `attachment_ids`."""
        if not attachment_ids:
            return {}

        def q(db: sqlite3.Connection) -> dict[str, int]:
            marks = ",".join("?" * len(attachment_ids))
            rows = db.execute(
                f"SELECT id, stored_size FROM attachments WHERE id IN ({marks}) "  # noqa: S608
                "AND stored_size IS NOT NULL",
                attachment_ids,
            )
            return {r[0]: int(r[1]) for r in rows}

        return await self._read(q)

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        # Store and AttachmentStore share this name and the server calls both: be idempotent.
        def w(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM attachments WHERE id = ?", (attachment_id,))

        await self._write(w)
        await asyncio.to_thread(self._unlink, attachment_id)

    # ------------------------------------------------------------------ attachments (files)

    async def create_attachment(
        self, input: AttachmentCreateParams, context: RequestContext
    ) -> Attachment:
        mime = rules.check_mime(input.mime_type)
        if input.size <= 0:
            raise InvalidRequestError("The file is empty.")
        if input.size > self.max_attachment_bytes:
            raise PayloadTooLarge(self._too_large_message())
        attachment_id = self.generate_attachment_id(mime, context)
        base = context.base_url.rstrip("/")
        descriptor = AttachmentUploadDescriptor(
            url=AnyUrl(f"{base}/api/attachments/{attachment_id}/upload"),
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
                preview_url=AnyUrl(f"{base}/api/attachments/{attachment_id}/content"),
            )
        else:
            attachment = FileAttachment(
                id=attachment_id, name=name, mime_type=mime, upload_descriptor=descriptor
            )
        data = _stored_json(attachment)

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

        await self._write(w)
        return attachment

    def _too_large_message(self) -> str:
        mb = self.max_attachment_bytes / (1024 * 1024)
        return f"The file is larger than the {mb:g} MB limit for attachments."

    def file_path(self, attachment_id: str) -> Path:
        """The on-disk path of an attachment's bytes. Only validated ids ever become paths."""
        return self.attachments_dir / rules.checked_id(attachment_id)

    def _unlink(self, attachment_id: str) -> None:
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
        row = await self._attachment_row(attachment_id)
        if row is None:
            raise NotFoundError(f"Attachment {attachment_id} not found")
        data, stored_size, declared_size = row
        if stored_size is not None:
            raise InvalidRequestError("This attachment was already uploaded.")
        attachment = _attachment_adapter().validate_json(data)
        cap = min(self.max_attachment_bytes, declared_size or self.max_attachment_bytes)
        part = path.with_name(path.name + _PART_SUFFIX)
        size = 0
        head = b""
        handle = await asyncio.to_thread(_open_private, part)
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > cap:
                    if size > self.max_attachment_bytes:
                        raise PayloadTooLarge(self._too_large_message())
                    raise InvalidRequestError("The upload is larger than the size declared for it.")
                if len(head) < 512:
                    head += chunk[: 512 - len(head)]
                await asyncio.to_thread(handle.write, chunk)
            await asyncio.to_thread(handle.flush)
            await asyncio.to_thread(os.fsync, handle.fileno())
        except BaseException:
            handle.close()
            await asyncio.to_thread(self._unlink, attachment_id)
            raise
        handle.close()
        if size == 0:
            await asyncio.to_thread(self._unlink, attachment_id)
            raise InvalidRequestError("The upload was empty.")
        if not rules.content_matches(attachment.mime_type, head):
            await asyncio.to_thread(self._unlink, attachment_id)
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

        if not await self._write(w):
            # Deleted while uploading: don't leave its bytes behind.
            await asyncio.to_thread(self._unlink, attachment_id)
            raise NotFoundError(f"Attachment {attachment_id} not found")
        return done

    async def attachment_file(self, attachment_id: str) -> tuple[Attachment, Path]:
        """An uploaded attachment and the path of its bytes; NotFoundError if not uploaded."""
        path = self.file_path(attachment_id)
        row = await self._attachment_row(attachment_id)
        if row is None or row[1] is None:
            raise NotFoundError(f"Attachment {attachment_id} not found")
        return _attachment_adapter().validate_json(row[0]), path

    def _cleanup_orphans(self) -> None:
        """Drop uploads no message ever claimed, and files with no record (e.g. after a crash)."""
        cutoff = time.time() - ORPHAN_UPLOAD_AGE_S
        db = self._connect(read_only=False)
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
            yield from (p for p in self.attachments_dir.iterdir() if p.is_file())
        except FileNotFoundError:
            return
