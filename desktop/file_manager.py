"""Showing a folder in the system's file manager (Finder, Explorer, or the desktop's own)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from desktop.errors import DesktopError


class OpenFailed(DesktopError):
    status_code = 502
    code = "open_failed"


def _clean_env(env: Mapping[str, str]) -> dict[str, str]:
    """The environment for a system program: without the library path a frozen build sets for
    itself, which would make the file manager load this app's copies of its libraries."""
    clean = dict(env)
    for name in ("LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH"):
        original = clean.pop(f"{name}_ORIG", None)
        if original is not None:
            clean[name] = original
        elif getattr(sys, "frozen", False):
            clean.pop(name, None)
    return clean


def open_folder(folder: Path, env: Mapping[str, str] | None = None) -> None:
    """Open `folder` in the file manager, or raise OpenFailed saying where it is."""
    environ = _clean_env(os.environ if env is None else env)
    where = f"The folder is {folder}."
    if sys.platform == "win32":
        try:
            os.startfile(folder)  # type: ignore[attr-defined,unused-ignore]  # noqa: S606
        except OSError as exc:
            raise OpenFailed(f"Windows couldn't open the folder ({exc.strerror}). {where}") from exc
        return
    program = "open" if sys.platform == "darwin" else "xdg-open"
    found = shutil.which(program, path=environ.get("PATH"))
    if found is None:
        raise OpenFailed(
            f"There is no file manager to open it with ({program} is missing). {where}"
        )
    try:
        subprocess.Popen(  # noqa: S603 (the system's own opener, on our own folder)
            [found, str(folder)],
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as exc:
        raise OpenFailed(f"The file manager couldn't be started ({exc.strerror}). {where}") from exc
