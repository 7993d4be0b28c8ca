"""Backups of the data dir: the chat history through SQLite's online backup API (never a file
copy of a live database), the attachments, and the settings and MCP server files.

A backup is written into a temporary folder, checked (`PRAGMA integrity_check`), and only then
given its final name, so one that fails never replaces or hides a good one. The newest `keep`
are kept. The API key is never part of a backup.

Restoring checks the backup first (restore_checks.py): a backup can come from anywhere, and one
with schema objects of its own or links in it is refused before anything changes. One named by a
path outside the backups folder brings its settings and MCP servers unable to act (side_files.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass, replace
from pathlib import Path

from desktop import __version__
from desktop.errors import BackupRefused, NotFound, StoreError
from desktop.fileio import make_private, owner_only, remove_tree
from desktop.store.restore_checks import (
    DB_NAME,
    SIDE_FILES,
    check_backup_files,
    check_database,
    check_schema,
    copy_tree,
)
from desktop.store.side_files import OUTSIDE_NOTE, put_side_files, stage_side_files

MANIFEST = "backup.json"
DEFAULT_KEEP = 7
_PAGES_PER_STEP = 2048  # the backup yields between steps, so writers are never held up long


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    created: float
    reason: str
    size: int
    # Named by a path outside the data dir's backups folder: not necessarily the user's own,
    # so its settings and MCP servers come back unable to act (side_files.py).
    outside: bool = False

    @property
    def name(self) -> str:
        return self.path.name


def backups_dir(data_dir: Path) -> Path:
    return data_dir / "backups"


def _copy_database(source: Path, target: Path, *, restoring: str | None = None) -> None:
    """Copy `source` into `target` page by page. When `restoring` (the backup's name), the
    copy's schema is checked too: the copy, not the source, is what is put in place."""
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst, pages=_PAGES_PER_STEP, sleep=0.001)
        ok = dst.execute("PRAGMA integrity_check").fetchone()
        if not ok or ok[0] != "ok":
            raise StoreError(f"The backup copy failed its check ({ok[0] if ok else 'no answer'}).")
        if restoring is not None:
            check_schema(dst, restoring)
    finally:
        dst.close()
        src.close()


def create_backup(
    data_dir: Path, reason: str, *, keep: int = DEFAULT_KEEP, database: Path | None = None
) -> BackupInfo:
    """Back up `data_dir` now (its `chats.db`, or `database`). Raises StoreError (with the
    reason) if it can't."""
    database = database or data_dir / DB_NAME
    if not database.is_file():
        raise StoreError(f"There is no chat history in {data_dir} to back up.")
    root = backups_dir(data_dir)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe_reason = "".join(c if c.isalnum() else "-" for c in reason)[:30] or "manual"
    final = root / f"{stamp}-{safe_reason}"
    n = 1
    while final.exists():
        n += 1
        final = root / f"{stamp}-{safe_reason}-{n}"
    work = root / f".partial-{final.name}"
    try:
        work.mkdir(parents=True)
        # The folder itself, not what is in it: the earlier backups were made private when they
        # were made, and one nested past the recursion limit must not fail this one.
        owner_only(root)
        make_private(work)
        _copy_database(database, work / DB_NAME)
        attachments = data_dir / "attachments"
        if attachments.is_dir():
            shutil.copytree(attachments, work / "attachments")
        for name in SIDE_FILES:
            if (data_dir / name).is_file():
                shutil.copy2(data_dir / name, work / name)
        created = time.time()
        manifest = {"format": 1, "app_version": __version__, "created": created, "reason": reason}
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        work.rename(final)
        make_private(final)
    except (OSError, sqlite3.Error, StoreError, RecursionError) as exc:
        # RecursionError: shutil.copytree recurses, and a folder can be nested past its limit.
        remove_tree(work)
        detail = exc.message if isinstance(exc, StoreError) else str(exc)
        raise StoreError(
            f"The backup failed, and the earlier backups are untouched: {detail}"
        ) from exc
    prune(data_dir, keep)
    return _info(final)


def backup_if_due(data_dir: Path, *, every_s: float, keep: int) -> BackupInfo | None:
    """A backup if the newest is older than `every_s` (or there is none)."""
    newest = list_backups(data_dir)
    if newest and time.time() - newest[0].created < every_s:
        return None
    return create_backup(data_dir, "daily", keep=keep)


def _size(folder: Path) -> int:
    """The bytes of the files below `folder`, never through a link (a stack, not recursion: a
    backup's folders can be nested as deep as whoever made it liked)."""
    total = 0
    stack = [folder]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
    return total


def _info(path: Path) -> BackupInfo:
    """Raises OSError if the folder can't be read."""
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = {}
    if not isinstance(manifest, dict):
        manifest = {}
    try:
        created = float(manifest.get("created") or path.stat().st_mtime)
    except (TypeError, ValueError):
        created = path.stat().st_mtime
    return BackupInfo(path, created, str(manifest.get("reason", "")), _size(path))


def list_backups(data_dir: Path) -> list[BackupInfo]:
    """Complete backups, newest first. One that can't be read (a folder too deep for a path,
    one the user can't open) is left out: it must never hide the others, or stop new backups,
    which prune the list."""
    root = backups_dir(data_dir)
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        try:
            if p.is_dir() and not p.name.startswith(".") and (p / DB_NAME).is_file():
                found.append(_info(p))
        except (OSError, RecursionError):
            continue
    return sorted(found, key=lambda b: (b.created, b.name), reverse=True)


def prune(data_dir: Path, keep: int) -> None:
    for old in list_backups(data_dir)[max(1, keep) :]:
        remove_tree(old.path)


def check_backup(backup: BackupInfo) -> None:
    """Refuse (BackupRefused, StoreError) a backup this app could not have written: links or
    special files in it, or a schema the migrations it records don't make."""
    check_backup_files(backup.path, backup.name)
    check_database(backup.path / DB_NAME, backup.name)


def find_backup(data_dir: Path, name: str | None) -> BackupInfo:
    """The named backup (a folder name or a path), or the newest, once it is checked
    (`check_backup`): a refused one is refused before anything, even the backup of what is
    there, changes."""
    backups = list_backups(data_dir)
    if name is None:
        if not backups:
            raise NotFound(f"There are no backups in {backups_dir(data_dir)}.")
        check_backup(backups[0])
        return backups[0]
    candidate = Path(name).expanduser()
    if not candidate.is_absolute():
        candidate = backups_dir(data_dir) / name
    if not (candidate / DB_NAME).is_file():
        raise NotFound(f"{name} is not a backup (it has no {DB_NAME}).")
    try:
        found = _info(candidate)
        own = backups_dir(data_dir).resolve()
        found = replace(found, outside=candidate.resolve().parent != own)
    except OSError as exc:
        raise StoreError(f"{name} can't be read ({exc}); nothing was changed.") from exc
    check_backup(found)
    return found


def restored_line(backup: BackupInfo) -> str:
    """What a restore of `backup` says it did, in one line."""
    return f"Restored {backup.name}." + (f" {OUTSIDE_NOTE}" if backup.outside else "")


def restore_backup(
    data_dir: Path, backup: BackupInfo, *, keep: int = DEFAULT_KEEP
) -> BackupInfo | None:
    """Put `backup` back in place of the data dir's history, attachments, settings and MCP
    servers. The app must not be running on `data_dir`. The current state is backed up first
    (returned), so a restore can itself be undone."""
    check_backup(backup)
    current = data_dir / DB_NAME
    saved = create_backup(data_dir, "before-restore", keep=keep + 1) if current.is_file() else None
    database = data_dir / DB_NAME
    staged = data_dir / f".restoring-{DB_NAME}"
    # Everything is copied beside the current state first, so a failure changes nothing.
    side = stage_side_files(backup.path, backup.name, outside=backup.outside)
    files = stage_attachments(backup, data_dir)
    try:
        _copy_database(backup.path / DB_NAME, staged, restoring=backup.name)
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                (data_dir / f"{DB_NAME}{suffix}").unlink()
        staged.replace(database)
        owner_only(database)
    except (OSError, sqlite3.Error, StoreError) as exc:
        with contextlib.suppress(OSError):
            staged.unlink()
        shutil.rmtree(files, ignore_errors=True)
        if isinstance(exc, BackupRefused):
            raise
        raise StoreError(f"The restore failed and nothing was changed: {exc}") from exc
    swap_folder(data_dir / "attachments", files)
    put_side_files(side, data_dir)
    return saved


def stage_attachments(backup: BackupInfo, data_dir: Path) -> Path:
    """A private copy of the backup's attachments beside the data dir's own, ready to swap in.
    Raises StoreError (nothing changed) if it can't be made."""
    staged = data_dir / ".restoring-attachments"
    shutil.rmtree(staged, ignore_errors=True)
    try:
        if (backup.path / "attachments").is_dir():
            copy_tree(backup.path / "attachments", staged, backup.name)
        else:
            staged.mkdir()
        make_private(staged)
    except BackupRefused:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    except OSError as exc:
        shutil.rmtree(staged, ignore_errors=True)
        raise StoreError(f"The restore failed and nothing was changed: {exc}.") from exc
    return staged


def swap_folder(target: Path, staged: Path) -> None:
    """Put `staged` in `target`'s place; the old folder is removed after the rename."""
    old = target.with_name(f".old-{target.name}")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staged.rename(target)
    shutil.rmtree(old, ignore_errors=True)
