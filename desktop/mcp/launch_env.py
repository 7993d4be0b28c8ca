"""The PATH a stdio server is started with.

An app started from the dock, Finder or a desktop launcher gets a minimal PATH, so `npx`, `uvx`
or `docker` would not be found although they work in the user's terminal. The login shell's PATH
(asked once) and the usual install folders are added, and the command is looked up on that.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

_SHELL_TIMEOUT_S = 3.0
_MARK = "__chatkit_desktop_path__"


def _usual_dirs(home: Path) -> list[str]:
    return [
        str(home / ".local" / "bin"),
        str(home / ".cargo" / "bin"),
        str(home / ".volta" / "bin"),
        str(home / ".bun" / "bin"),
        "/opt/homebrew/bin",
        "/usr/local/bin",
        "/usr/bin",
        "/bin",
    ]


@functools.cache
def _login_shell_path() -> str:
    """The PATH an interactive login shell would have ('' if it can't be asked)."""
    shell = os.environ.get("SHELL")
    if sys.platform == "win32" or not shell or not Path(shell).is_file():
        return ""
    try:
        out = subprocess.run(  # noqa: S603 (the user's own login shell)
            [shell, "-ilc", f"printf '{_MARK}%s{_MARK}' \"$PATH\""],
            capture_output=True,
            text=True,
            timeout=_SHELL_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    parts = out.split(_MARK)
    return parts[1] if len(parts) >= 3 else ""


def search_path(env_path: str | None = None) -> str:
    """This process's PATH, then the login shell's, then the usual folders (no repeats)."""
    seen: list[str] = []
    sources = [env_path if env_path is not None else os.environ.get("PATH", "")]
    sources.append(_login_shell_path())
    sources.append(os.pathsep.join(_usual_dirs(Path.home())))
    for source in sources:
        for entry in source.split(os.pathsep):
            if entry and entry not in seen:
                seen.append(entry)
    return os.pathsep.join(seen)


def resolve_command(command: str, path: str) -> str:
    """The program to run: as given if it is a path, else found on `path`."""
    if os.sep in command or (os.altsep and os.altsep in command):
        return command
    return shutil.which(command, path=path) or command
