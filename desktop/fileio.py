"""Private files: atomic writes and owner-only permissions for everything in the data dir.

The data dir holds chats, keys and the running instance's details; on a shared machine no other
user may read any of it (POSIX: directories 0700, files 0600).
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from pathlib import Path

PRIVATE_FILE = 0o600


def atomic_write(path: Path, text: str, *, mode: int = PRIVATE_FILE) -> None:
    """Write `text` so that a crash mid-write leaves either the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        os.chmod(tmp, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def restrict_new_files() -> None:
    """Files this process creates from now on are owner-only (POSIX umask)."""
    if sys.platform != "win32":
        os.umask(0o077)


def make_private(root: Path) -> None:
    """Take group and other permissions off `root` and everything below it, for installs made
    before this rule existed. The owner's own bits stay: a file the user made read-only stays
    read-only. Links are not followed; what can't be changed is left as it is."""
    if sys.platform == "win32" or not root.is_dir():
        return
    owner_only(root)
    # A loop, not os.walk: os.walk recurses, and a folder nested a few thousand deep (a hostile
    # backup's) would stop every launch with a RecursionError.
    pending = [root]
    while pending:
        with contextlib.suppress(OSError), os.scandir(pending.pop()) as entries:
            for entry in entries:
                owner_only(Path(entry.path))
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))


def owner_only(path: Path) -> None:
    if sys.platform == "win32":
        return
    with contextlib.suppress(OSError):
        info = path.lstat()
        mode = stat.S_IMODE(info.st_mode)
        if not stat.S_ISLNK(info.st_mode) and mode & 0o077:
            os.chmod(path, mode & 0o700)


def remove_tree(root: Path) -> None:
    """Remove a folder and everything in it, as far as it can, however deep it is nested:
    shutil.rmtree recurses, so a hostile folder a few thousand deep (a backup's, an import's)
    would raise RecursionError instead. Links are removed, never followed."""
    if not root.is_dir() or root.is_symlink():
        with contextlib.suppress(OSError):
            root.unlink()
        return
    stack = [root]
    stuck: set[Path] = set()  # folders that can't be removed: never looked into again
    while stack:
        folder = stack[-1]
        inner: list[Path] = []
        with contextlib.suppress(OSError), os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if Path(entry.path) not in stuck:
                        inner.append(Path(entry.path))
                else:
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)
        if inner:
            stack += inner
            continue
        try:
            folder.rmdir()
        except OSError:
            stuck.add(folder)
        stack.pop()
