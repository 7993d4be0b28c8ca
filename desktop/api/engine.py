"""The heavy parts of the app, built in the background after the server answers.

chatkit's types and the Agents SDK take over a second to import. The first page, Settings and
the window need neither, so the server starts without them: the chat store and the ChatKit server
are built on a worker thread, and only the requests that need them wait.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from desktop.api.quitting import Quitting

if TYPE_CHECKING:
    from desktop.chat.models import ModelCatalog
    from desktop.chat.server import DesktopChatServer
    from desktop.mcp.hub import McpHub
    from desktop.settings.config import ProviderConfig
    from desktop.store.chat_store import SQLiteStore
    from desktop.store.thread_cursors import ThreadCursors


class StoreHandle:
    """The chat store: given ready-made, or built (imported, opened) in the background."""

    def __init__(
        self,
        db_path: Path,
        attachments_dir: Path,
        store: SQLiteStore | None,
        cursors: ThreadCursors | None = None,
    ) -> None:
        self._db_path = db_path
        self._attachments_dir = attachments_dir
        self._given = store
        self._cursors = cursors
        self._task: asyncio.Task[SQLiteStore] | None = None
        self._value: SQLiteStore | None = None
        # Set once the store is usable or has failed: for callers outside the event loop.
        self.ready = threading.Event()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(asyncio.to_thread(self._build))

    def _build(self) -> SQLiteStore:
        try:
            store = self._given
            if store is None:
                from desktop.store.chat_store import SQLiteStore

                store = SQLiteStore(
                    self._db_path,
                    attachments_dir=self._attachments_dir,
                    thread_cursors=self._cursors,
                )
            store.open()
            self._value = store
            return store
        finally:
            self.ready.set()

    async def get(self) -> SQLiteStore:
        self.start()
        assert self._task is not None
        return await asyncio.shield(self._task)

    @property
    def value(self) -> SQLiteStore:
        """The store once built (tests and tools that run beside a started server)."""
        if self._value is None:
            raise RuntimeError("the chat store is not open yet")
        return self._value

    async def aclose(self) -> None:
        if self._task is None:
            if self._given is not None:
                await asyncio.to_thread(self._given.close)
            return
        try:
            store = await self._task
        except Exception:
            return
        await asyncio.to_thread(store.close)


class ChatEngine:
    """The ChatKit server, built in the background from the store and the provider settings."""

    def __init__(
        self,
        stores: StoreHandle,
        config: Callable[[], ProviderConfig],
        mcp: McpHub | None = None,
        quitting: Quitting | None = None,
        *,
        move_default: Callable[[str, str], bool] | None = None,
        today: Callable[[], date] = date.today,
    ) -> None:
        self._stores = stores
        self._config = config
        self._move_default = move_default
        self._today = today
        self.mcp = mcp
        self._quitting = quitting or Quitting()
        self._task: asyncio.Task[DesktopChatServer] | None = None
        # Set once the server is built or has failed: for callers outside the event loop.
        self.ready = threading.Event()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._build())

    async def _build(self) -> DesktopChatServer:
        store = await self._stores.get()

        def build() -> DesktopChatServer:
            from desktop.chat.server import DesktopChatServer

            return DesktopChatServer(
                store,
                self._config,
                mcp=self.mcp,
                move_default=self._move_default,
                today=self._today,
            )

        try:
            return await asyncio.to_thread(build)
        finally:
            self.ready.set()

    async def server(self) -> DesktopChatServer:
        self.start()
        assert self._task is not None
        # Building it can't be stopped (imports on a thread), but waiting for it can.
        return await self._quitting.unless_quitting(asyncio.shield(self._task))

    def built(self) -> DesktopChatServer | None:
        """The server once it is built, for callers outside the event loop (else None)."""
        if not self.ready.is_set() or self._task is None or not self._task.done():
            return None
        if self._task.cancelled() or self._task.exception():
            return None
        return self._task.result()

    async def models(self) -> ModelCatalog:
        return (await self.server()).models

    async def aclose(self) -> None:
        if self._task is None:
            return
        try:
            server = await self._task
        except Exception:
            return  # it never started; /chatkit already reported why
        await server.aclose()
