"""Where the user's API key comes from. Lookup order: OPENAI_API_KEY, then the key file.

The key file is `<data dir>/api_key`, created with mode 0600 so no other user can read it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path

from desktop.config import ENV_API_KEY


class KeyFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def get(self) -> str | None:
        try:
            value = self.path.read_text(encoding="utf-8").strip()
        except (FileNotFoundError, PermissionError, UnicodeDecodeError):
            return None
        return value or None

    def set(self, key: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(key.strip())
        os.replace(tmp, self.path)

    def clear(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def lookup_key(env: Mapping[str, str], key_file: KeyFile) -> str | None:
    return env.get(ENV_API_KEY) or key_file.get()
