"""The SQLite engine under both stores: one writer thread that owns the only connection that
writes, and a few reader threads with read-only connections, which WAL lets run beside the
writer. Every sqlite call runs on one of those threads, never on the event loop. (datasette's
model.)"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from desktop.errors import StoreError
from desktop.store.database import connect, describe_error, prepare_database
from desktop.store.migrations import MIGRATIONS, Migration

T = TypeVar("T")


class Database:
    def __init__(
        self,
        path: Path,
        attachments_dir: Path,
        *,
        readers: int = 3,
        migrations: Sequence[Migration] | None = None,
        on_open: Callable[[], None] = lambda: None,
    ) -> None:
        self.path = path
        self.attachments_dir = attachments_dir
        self._migrations = MIGRATIONS if migrations is None else migrations
        self._on_open = on_open
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="store-writer")
        self._readers = ThreadPoolExecutor(readers, thread_name_prefix="store-reader")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._open_lock = threading.Lock()
        self._opened = False
        self._closed = False

    def open(self) -> None:
        """Create or migrate the file. Idempotent and thread-safe; raises StoreError clearly."""
        with self._open_lock:
            if self._opened:
                return
            if self._closed:
                raise StoreError("The chat store is closed.")
            prepare_database(self.path, self.attachments_dir, self._migrations)
            self._opened = True
            self._on_open()

    def connect(self, *, read_only: bool) -> sqlite3.Connection:
        """A new connection of its own, for work outside the writer and readers (start-up)."""
        return connect(self.path, read_only=read_only)

    def _conn(self, read_only: bool) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            self.open()
            db = self.connect(read_only=read_only)
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

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._run(self._readers, fn, read_only=True)

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in one transaction on the writer."""
        return await self._run(self._writer, fn, read_only=False)

    async def exclusive(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` on the writer's connection outside any transaction (for SQLite's backup API,
        which can't run inside one). No other write runs meanwhile; `fn` manages its own
        transactions."""
        return await self._run(self._writer, fn, read_only=False, transaction=False)

    async def _run(
        self,
        pool: ThreadPoolExecutor,
        fn: Callable[[sqlite3.Connection], T],
        *,
        read_only: bool,
        transaction: bool = True,
    ) -> T:
        def job() -> T:
            db = self._conn(read_only)
            if read_only or not transaction:
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
            raise StoreError(describe_error(self.path, exc)) from exc

    @staticmethod
    def next_seq(db: sqlite3.Connection) -> int:
        row = db.execute(
            "UPDATE sequence SET value = value + 1 WHERE id = 1 RETURNING value"
        ).fetchone()
        return int(row[0])
