"""`SQLiteStore`: chatkit's Store (threads, items, attachment records, feedback) over one SQLite
file. Its `attachments` (chatkit's AttachmentStore) share the same database engine."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from chatkit.store import NotFoundError, Store, StoreItemType
from chatkit.types import Attachment, Page, ThreadItem, ThreadMetadata

from desktop import attachment_rules as rules
from desktop.context import RequestContext
from desktop.store.approvals import PendingApprovals
from desktop.store.attachment_store import (
    MAX_PENDING_UPLOADS as MAX_PENDING_UPLOADS,
)
from desktop.store.attachment_store import (
    ORPHAN_UPLOAD_AGE_S as ORPHAN_UPLOAD_AGE_S,
)
from desktop.store.attachment_store import AttachmentFiles
from desktop.store.connections import Database
from desktop.store.entities import Entities
from desktop.store.feedback import Feedback
from desktop.store.migrations import Migration
from desktop.store.records import (
    ID_PREFIXES,
    attachment_adapter,
    item_adapter,
    metadata_only,
    new_id,
    read_order,
    stored_json,
)
from desktop.store.search import ChatSearch
from desktop.store.thread_cursors import ThreadCursors
from desktop.store.thread_pages import ThreadPages


class SQLiteStore(Store[RequestContext]):
    """chatkit's `Store` over one SQLite file; `attachments` is its `AttachmentStore`."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        attachments_dir: str | os.PathLike[str] | None = None,
        max_attachment_bytes: int = rules.DEFAULT_MAX_BYTES,
        readers: int = 3,
        migrations: list[Migration] | None = None,
        thread_cursors: ThreadCursors | None = None,
    ) -> None:
        self.path = Path(path)
        folder = Path(attachments_dir) if attachments_dir else self.path.parent / "attachments"
        self.database = Database(
            self.path,
            folder,
            readers=readers,
            migrations=migrations,
            on_open=lambda: self.attachments.sweep_orphans(),
        )
        # chatkit's other seam: attachment uploads and bytes, over the same database.
        self.attachments = AttachmentFiles(self.database, folder, max_attachment_bytes)
        self.pages = ThreadPages(self.database, thread_cursors)
        # Full-text search over every chat (kept current by the schema's triggers).
        self.search = ChatSearch(self.database)
        # What `@` can mention: chats and files.
        self.entities = Entities(self.database, self.search)
        # Thumbs up/down, which the protocol saves but never returns.
        self.feedback = Feedback(self.database)
        self.approvals = PendingApprovals(self.database)

    def open(self) -> None:
        """Create or migrate the file. Idempotent and thread-safe; raises StoreError clearly."""
        self.database.open()

    def close(self) -> None:
        """Finish queued writes, then close every connection."""
        self.database.close()

    # ------------------------------------------------------------------ ids

    def generate_thread_id(self, context: RequestContext) -> str:
        return new_id("thr")

    def generate_item_id(
        self, item_type: StoreItemType, thread: ThreadMetadata, context: RequestContext
    ) -> str:
        return new_id(ID_PREFIXES[item_type])

    def generate_attachment_id(self, mime_type: str, context: RequestContext) -> str:
        return self.attachments.generate_attachment_id(mime_type, context)

    # ------------------------------------------------------------------ threads

    async def load_thread(self, thread_id: str, context: RequestContext) -> ThreadMetadata:
        def q(db: sqlite3.Connection) -> str | None:
            row = db.execute("SELECT data FROM threads WHERE id = ?", (thread_id,)).fetchone()
            return row[0] if row else None

        data = await self.database.read(q)
        if data is None:
            raise NotFoundError(f"Thread {thread_id} not found")
        return ThreadMetadata.model_validate_json(data)

    async def save_thread(self, thread: ThreadMetadata, context: RequestContext) -> None:
        meta = metadata_only(thread)
        await self.database.write(lambda db: self._put_thread(db, meta))

    async def import_threads(self, threads: list[tuple[ThreadMetadata, list[ThreadItem]]]) -> None:
        """Save whole threads with their items in one transaction (imports, restores)."""

        def w(db: sqlite3.Connection) -> None:
            for thread, items in threads:
                meta = metadata_only(thread)
                self._put_thread(db, meta)
                for item in items:
                    self._put_item(db, meta.id, item)

        await self.database.write(w)

    def _put_thread(self, db: sqlite3.Connection, meta: ThreadMetadata) -> None:
        data = meta.model_dump_json()
        if db.execute("UPDATE threads SET data = ? WHERE id = ?", (data, meta.id)).rowcount:
            return
        seq = self.database.next_seq(db)
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
        seq = self.database.next_seq(db)
        db.execute(
            "INSERT INTO items (thread_id, id, seq, type, created_at, data) VALUES (?, ?, ?, ?, ?, ?)",
            (thread_id, item.id, seq, item.type, item.created_at.isoformat(), data),
        )
        db.execute("UPDATE threads SET active_seq = ? WHERE id = ?", (seq, thread_id))

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: RequestContext
    ) -> Page[ThreadMetadata]:
        return await self.pages.load(limit, after, order)

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

        for attachment_id in await self.database.write(w):
            await asyncio.to_thread(self.attachments.unlink, attachment_id)

    # ------------------------------------------------------------------ items

    async def load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str, context: RequestContext
    ) -> Page[ThreadItem]:
        direction = read_order(order)
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

        rows = await self.database.read(q)
        has_more = len(rows) > limit
        rows = rows[:limit]
        adapter = item_adapter()
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
        await self.database.write(lambda db: self._put_item(db, thread_id, item))

    async def load_item(self, thread_id: str, item_id: str, context: RequestContext) -> ThreadItem:
        def q(db: sqlite3.Connection) -> str | None:
            row = db.execute(
                "SELECT data FROM items WHERE thread_id = ? AND id = ?", (thread_id, item_id)
            ).fetchone()
            return row[0] if row else None

        data = await self.database.read(q)
        if data is None:
            raise NotFoundError(f"Item {item_id} not found in thread {thread_id}")
        return item_adapter().validate_json(data)

    async def delete_thread_item(
        self, thread_id: str, item_id: str, context: RequestContext
    ) -> None:
        def w(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM items WHERE thread_id = ? AND id = ?", (thread_id, item_id))

        await self.database.write(w)

    # ------------------------------------------------------------------ attachments (metadata)

    async def save_attachment(self, attachment: Attachment, context: RequestContext) -> None:
        data = stored_json(attachment)

        def w(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO attachments (id, thread_id, mime_type, declared_size, created_at, data) "
                "VALUES (?, ?, ?, 0, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                "thread_id = excluded.thread_id, data = excluded.data",
                (attachment.id, attachment.thread_id, attachment.mime_type, time.time(), data),
            )

        await self.database.write(w)

    async def load_attachment(self, attachment_id: str, context: RequestContext) -> Attachment:
        row = await self.attachments.record(attachment_id)
        if row is None:
            raise NotFoundError(f"Attachment {attachment_id} not found")
        return attachment_adapter().validate_json(row[0])

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

        return await self.database.read(q)

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        # Store and AttachmentStore share this name and the server calls both: one does it all.
        await self.attachments.delete_attachment(attachment_id, context)
