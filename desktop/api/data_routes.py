"""Settings → Data, and the chat menu's export: exporting, importing, backups and restoring,
deleting everything, and showing the data folder."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel
from starlette.background import BackgroundTask

from desktop.api.engine import StoreHandle
from desktop.api.errors import parse_body
from desktop.api.import_jobs import ImportJobs
from desktop.context import RequestContext
from desktop.errors import Busy, DesktopError, InvalidRequestError, NotFound
from desktop.fileio import make_private
from desktop.mcp.hub import McpHub
from desktop.settings.service import SettingsService
from desktop.settings.ui_state import UiState

log = logging.getLogger(__name__)

# What the page asks the user to type before everything is deleted.
ERASE_WORD = "delete"
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


class RestoreRequest(BaseModel):
    name: str


class EraseRequest(BaseModel):
    confirm: str


def _file_name(title: str) -> str:
    cleaned = _UNSAFE.sub(" ", title).strip(" .")[:80]
    return cleaned or "chat"


def _backup_view(info: Any) -> dict[str, Any]:
    return {"name": info.name, "created": info.created, "reason": info.reason, "size": info.size}


class DataOperations:
    """The data dir's long operations, one at a time."""

    def __init__(
        self,
        stores: StoreHandle,
        data_dir: Path,
        settings: SettingsService,
        mcp: McpHub,
        ui_state: UiState,
    ) -> None:
        self.stores = stores
        self.data = data_dir
        self.settings = settings
        self.mcp = mcp
        self.ui_state = ui_state
        self.imports = ImportJobs(stores, data_dir)
        self.lock = asyncio.Lock()
        # Why the last automatic backup failed (Settings shows it until one succeeds).
        self.backup_failure: str | None = None

    def remove_leftovers(self) -> None:
        """Working files a crash left behind: uploads, export copies, half-made restores."""
        for name in (
            "imports",
            ".exports",
            ".restoring-attachments",
            ".erased-attachments",
            ".old-attachments",
        ):
            shutil.rmtree(self.data / name, ignore_errors=True)
        (self.data / ".restoring-chats.db").unlink(missing_ok=True)

    async def daily_backups(self, first_after_s: float) -> None:
        """Once a day while the app runs (checked hourly), a backup of the data dir."""
        from desktop.store.backups import backup_if_due

        await asyncio.sleep(first_after_s)
        try:
            await self.stores.get()
        except Exception:
            return  # no usable history: nothing to back up
        while True:
            if not self.lock.locked() and not self.imports.running:
                try:
                    async with self.lock:
                        made = await asyncio.to_thread(
                            backup_if_due, self.data, every_s=86_400, keep=self.keep()
                        )
                    if made is not None:
                        log.info("daily backup written: %s", made.name)
                        self.backup_failure = None
                except DesktopError as exc:
                    log.warning("daily backup failed: %s", exc.message)
                    self.backup_failure = exc.message
            await asyncio.sleep(3600)

    def _check_idle(self) -> None:
        if self.lock.locked():
            raise Busy("A backup or restore is under way. Try again when it has finished.")
        if self.imports.running:
            raise Busy("An import is under way. Wait for it or cancel it first.")

    def keep(self) -> int:
        return self.settings.effective().backups_keep

    async def backup(self) -> dict[str, Any]:
        from desktop.store.backups import create_backup

        self._check_idle()
        async with self.lock:
            await self.stores.get()  # the file exists once the store has opened it
            made = await asyncio.to_thread(create_backup, self.data, "manual", keep=self.keep())
        self.backup_failure = None
        return _backup_view(made)

    async def restore(self, name: str) -> dict[str, Any]:
        from desktop.store.backups import create_backup, find_backup
        from desktop.store.live_data import restore_into

        if not name or name.startswith(".") or "/" in name or "\\" in name:
            raise InvalidRequestError("Name a backup from the list.")
        self._check_idle()
        async with self.lock:
            chosen = await asyncio.to_thread(find_backup, self.data, name)
            store = await self.stores.get()
            saved = await asyncio.to_thread(
                create_backup, self.data, "before-restore", keep=self.keep() + 1
            )
            await restore_into(store.database, self.data, chosen)
            await self._reload()
        return {"restored": chosen.name, "saved_as": saved.name}

    async def erase(self) -> None:
        from desktop.store.live_data import erase_into

        self._check_idle()
        async with self.lock:
            store = await self.stores.get()
            await erase_into(store.database, self.data)
            await asyncio.to_thread(self.settings.set_key, None)
            for path in (self.settings.path, self.mcp.config.path, self.ui_state.path):
                path.unlink(missing_ok=True)
            for folder in ("imports", ".exports"):
                shutil.rmtree(self.data / folder, ignore_errors=True)
            await self._reload()

    async def _reload(self) -> None:
        self.settings.reload()
        await self.mcp.reload()

    async def export(self, fmt: str, thread_id: str | None) -> FileResponse:
        from desktop.store.export_json import export_json
        from desktop.store.export_markdown import export_markdown

        if fmt not in ("json", "markdown"):
            raise InvalidRequestError("The format is json or markdown.")
        store = await self.stores.get()
        title = time.strftime("chatkit-desktop-%Y-%m-%d")
        if thread_id is not None:
            from chatkit.store import NotFoundError

            try:
                thread = await store.load_thread(thread_id, RequestContext())
            except NotFoundError as exc:
                raise NotFound("There is no such chat.") from exc
            title = _file_name(thread.title or "New chat")
        work = self.data / ".exports" / secrets.token_hex(8)
        work.mkdir(parents=True)
        make_private(self.data / ".exports")

        def write() -> Path:
            if fmt == "json":
                out = work / f"{title}.json"
                export_json(self.data, out, thread_id)
                return out
            if thread_id is None:
                out = work / f"{title}.zip"
                export_markdown(self.data, out)
                return out
            # One chat: its Markdown file alone, or zipped with its attachments.
            folder = work / title
            folder.mkdir()
            export_markdown(self.data, folder / f"{title}.md", thread_id)
            if len(list(folder.iterdir())) == 1:
                return folder / f"{title}.md"
            return Path(shutil.make_archive(str(work / title), "zip", folder))

        try:
            out = await asyncio.to_thread(write)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        media = {".json": "application/json", ".md": "text/markdown", ".zip": "application/zip"}
        return FileResponse(
            out,
            media_type=media[out.suffix],
            filename=out.name,
            background=BackgroundTask(shutil.rmtree, work, ignore_errors=True),
        )


def data_router(ops: DataOperations, open_folder: Callable[[Path], None]) -> APIRouter:
    router = APIRouter()

    @router.get("/api/data/export")
    async def export(format: str = "json", thread: str | None = None) -> FileResponse:
        return await ops.export(format, thread)

    @router.post("/api/data/import")
    async def start_import(request: Request) -> dict[str, Any]:
        if ops.lock.locked():
            raise Busy("A backup or restore is under way. Try again when it has finished.")
        # The page sends the name URL-encoded: a header carries only ASCII.
        name = unquote(request.headers.get("x-file-name", ""))
        job = await ops.imports.receive(name, request.stream())
        return job.view()

    @router.get("/api/data/import/{job_id}")
    async def import_status(job_id: str) -> dict[str, Any]:
        return ops.imports.get(job_id).view()

    @router.delete("/api/data/import/{job_id}")
    async def cancel_import(job_id: str) -> dict[str, Any]:
        return ops.imports.cancel(job_id).view()

    @router.get("/api/backups")
    async def backups() -> dict[str, Any]:
        from desktop.store.backups import backups_dir, list_backups

        found = await asyncio.to_thread(list_backups, ops.data)
        return {
            "backups": [_backup_view(b) for b in found],
            "keep": ops.keep(),
            "folder": str(backups_dir(ops.data)),
            "last_failure": ops.backup_failure,
        }

    @router.post("/api/backups")
    async def backup_now() -> dict[str, Any]:
        return await ops.backup()

    @router.post("/api/backups/restore")
    async def restore(request: Request) -> dict[str, Any]:
        body = parse_body(RestoreRequest, await request.body())
        return await ops.restore(body.name)

    @router.post("/api/data/erase")
    async def erase(request: Request) -> dict[str, Any]:
        body = parse_body(EraseRequest, await request.body())
        if body.confirm.strip().lower() != ERASE_WORD:
            raise InvalidRequestError(f"Type {ERASE_WORD} to confirm; nothing was deleted.")
        await ops.erase()
        return {"erased": True}

    @router.post("/api/data/open-folder")
    async def reveal() -> dict[str, str]:
        await asyncio.to_thread(open_folder, ops.data)
        return {"folder": str(ops.data)}

    return router
