"""Imports started from the page: the uploaded file is saved in the data dir, read and checked
into a staging folder beside it (off the writer, so chats go on meanwhile), then written on the
history's writer in one transaction, with progress the page polls and a cancel that leaves
nothing behind. One import runs at a time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from desktop.api.engine import StoreHandle
from desktop.errors import Busy, DesktopError, NotFound
from desktop.fileio import make_private

if TYPE_CHECKING:
    from desktop.store.import_staging import ImportResult

log = logging.getLogger(__name__)

State = Literal["uploading", "importing", "done", "failed", "cancelled"]
# The share of the progress bar for reading the file; writing what was read is the rest.
READING = 0.9


class _Cancelled(Exception):
    pass


@dataclass
class ImportJob:
    id: str
    name: str
    state: State = "uploading"
    received: int = 0
    added: int = 0
    skipped: int = 0
    fraction: float = 0.0
    message: str | None = None
    # What the import left out, a sentence each (files that break the attachment rules).
    notes: list[str] = field(default_factory=list)
    cancel: threading.Event = field(default_factory=threading.Event)

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "received": self.received,
            "added": self.added,
            "skipped": self.skipped,
            "fraction": round(self.fraction, 4),
            "message": self.message,
            "notes": self.notes,
        }

    @property
    def running(self) -> bool:
        return self.state in ("uploading", "importing")


class ImportJobs:
    def __init__(self, stores: StoreHandle, data_dir: Path) -> None:
        self._stores = stores
        self._folder = data_dir / "imports"
        self._jobs: dict[str, ImportJob] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> bool:
        return any(job.running for job in self._jobs.values())

    def get(self, job_id: str) -> ImportJob:
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFound("There is no such import.")
        return job

    def cancel(self, job_id: str) -> ImportJob:
        job = self.get(job_id)
        if job.running:
            job.cancel.set()
        return job

    async def receive(self, name: str, chunks: AsyncIterator[bytes]) -> ImportJob:
        """Save the uploaded file, then start importing it in the background."""
        if self.running:
            raise Busy("An import is already under way. Wait for it or cancel it first.")
        job = ImportJob(secrets.token_hex(8), name[:200] or "the file")
        self._jobs = {job.id: job, **{k: v for k, v in self._jobs.items() if v.running}}
        self._folder.mkdir(parents=True, exist_ok=True)
        make_private(self._folder)
        upload = self._folder / f"upload-{job.id}"
        try:
            with upload.open("wb") as out:
                async for chunk in chunks:
                    if job.cancel.is_set():
                        raise _Cancelled
                    await asyncio.to_thread(out.write, chunk)
                    job.received += len(chunk)
        except _Cancelled:
            upload.unlink(missing_ok=True)
            job.state, job.message = "cancelled", "Cancelled; nothing was imported."
            return job
        except OSError as exc:
            upload.unlink(missing_ok=True)
            job.state = "failed"
            job.message = f"The file couldn't be saved ({exc.strerror}); nothing was imported."
            return job
        except BaseException:
            # The page went away mid-upload.
            upload.unlink(missing_ok=True)
            job.state, job.message = "failed", "The file didn't arrive whole; nothing was imported."
            raise
        job.state = "importing"
        task = asyncio.create_task(self._run(job, upload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    async def _run(self, job: ImportJob, upload: Path) -> None:
        # The state is set only after _import has cleaned up: a page that sees it may look.
        try:
            result = await self._import(job, upload)
            job.added, job.skipped, job.fraction = result.added, result.skipped, 1.0
            job.notes = list(result.notes)
            if result.notes:
                job.message = _left_out(result.notes)
            job.state = "done"
        except _Cancelled:
            job.state, job.added = "cancelled", 0
            job.message = "Cancelled; nothing was imported."
        except DesktopError as exc:
            job.state, job.added = "failed", 0
            job.message = _named(exc.message, upload, job.name)
        except RecursionError:
            # json_stream refuses deep nesting first; this is the last guard, said plainly.
            job.state, job.added = "failed", 0
            job.message = f"{job.name} nests too deeply to import; nothing was imported."
        except Exception:
            log.exception("the import failed")
            job.state, job.added = "failed", 0
            job.message = (
                "The import failed unexpectedly; nothing was imported. The log has details."
            )
        log.info(
            "import %s: %s (%d added, %d already here)", job.id, job.state, job.added, job.skipped
        )

    async def _import(self, job: ImportJob, upload: Path) -> ImportResult:
        from desktop.store import json_stream
        from desktop.store.chatgpt_archive import looks_like_chatgpt
        from desktop.store.import_chatgpt import parse_chatgpt
        from desktop.store.import_json import ParsedExport, parse_export
        from desktop.store.import_staging import Staged, apply_import, stage

        ready: Staged | None = None

        def check() -> None:
            if job.cancel.is_set():
                raise _Cancelled

        try:
            store = await self._stores.get()
            chatgpt = await asyncio.to_thread(looks_like_chatgpt, upload)
            parse = parse_chatgpt if chatgpt else partial(parse_export, scratch=self._folder)

            def read(parsed: ParsedExport) -> Staged:
                def counted(chats: int) -> None:
                    job.fraction = READING * parsed.position()
                    check()

                return stage(parsed, self._folder, counted)

            # to_thread carries the context, so reading checks for cancel as it goes; all of
            # it happens here, before the writer is asked for.
            with json_stream.checking(check):
                ready = await asyncio.to_thread(lambda: read(parse(upload)))
            staged = ready

            def progress(added: int, skipped: int) -> None:
                job.added, job.skipped = added, skipped
                job.fraction = READING + (1 - READING) * (added + skipped) / max(1, staged.chats)
                check()

            def write(db: Any) -> ImportResult:
                check()
                return apply_import(db, store.database.attachments_dir, staged, progress)

            return await store.database.write(write)
        finally:
            if ready is not None:
                await asyncio.to_thread(ready.remove)
            await asyncio.to_thread(upload.unlink, missing_ok=True)

    async def aclose(self) -> None:
        for job in self._jobs.values():
            job.cancel.set()
        for task in list(self._tasks):
            with contextlib.suppress(Exception):
                await task
        shutil.rmtree(self._folder, ignore_errors=True)


def _left_out(notes: tuple[str, ...]) -> str:
    files = "1 file was" if len(notes) == 1 else f"{len(notes)} files were"
    shown = " ".join(notes[:5]) + (f" (and {len(notes) - 5} more)" if len(notes) > 5 else "")
    return f"{files} left out, everything else was imported. {shown}"


def _named(message: str, upload: Path, name: str) -> str:
    """Messages name the file the user chose, not the upload's own name."""
    return message.replace(str(upload), name).replace(upload.name, name)
