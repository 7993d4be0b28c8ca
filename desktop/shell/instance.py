"""One running instance per data dir.

The first launch takes an exclusive lock on `<data dir>/.instance.lock` (released by the OS if the
process dies, so a crash never leaves a stale lock) and records its port and focus secret in
`<data dir>/.instance.json` (mode 0600). A second launch finds the lock held, asks the running
instance to bring its window to the front, and exits. Two servers never write one DB.

The file never holds the session token: anything that can read the data dir (a backup tool, a
synced folder, another program of the user's) would otherwise drive the whole API. The focus
secret opens only the focus route.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from desktop.env import FOCUS_HEADER, FOCUS_PATH
from desktop.fileio import atomic_write

LOCK_NAME = ".instance.lock"
INFO_NAME = ".instance.json"


def _try_lock(handle: IO[bytes]) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


@dataclass
class InstanceLock:
    data_dir: Path
    _handle: IO[bytes] | None = None

    @property
    def info_path(self) -> Path:
        return self.data_dir / INFO_NAME

    def acquire(self) -> bool:
        """True if this process is now the instance for the data dir."""
        handle = open(self.data_dir / LOCK_NAME, "a+b")  # noqa: SIM115 (held for the process's life)
        if not _try_lock(handle):
            handle.close()
            return False
        self._handle = handle
        return True

    def publish(self, port: int, token: str) -> None:
        """Record where this instance listens and the secret of its focus route (the one that
        goes with `token`, which itself is not written)."""
        from desktop.loopback import focus_secret

        info = {"pid": os.getpid(), "port": port, "focus": focus_secret(token)}
        atomic_write(self.info_path, json.dumps(info))

    def release(self) -> None:
        if self._handle is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.info_path.unlink()
        self._handle.close()
        self._handle = None


def running_instance(data_dir: Path) -> dict[str, Any] | None:
    try:
        info = json.loads((data_dir / INFO_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def ask_to_focus(data_dir: Path, timeout: float = 5.0) -> bool:
    """Ask the running instance to show its window. True if it answered."""
    info = running_instance(data_dir)
    if not info or not isinstance(info.get("focus"), str):
        return False
    # Imported only for a second launch: a first one shouldn't pay for it.
    import urllib.error
    import urllib.request

    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{int(info['port'])}{FOCUS_PATH}",
            method="POST",
            headers={FOCUS_HEADER: info["focus"]},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (loopback)
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError, TypeError, KeyError):
        return False
