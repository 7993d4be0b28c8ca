"""What the page remembers between launches that is not a setting (the web view forgets its own
storage on exit): today, whether OpenAI's ChatKit script could not be loaded last time."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from desktop.errors import InvalidRequestError
from desktop.fileio import atomic_write

# Each key and its type; nothing else is stored.
FIELDS: dict[str, type] = {"chatkit_unreachable": bool}


class UiState:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def get(self) -> dict[str, Any]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raw = {}
        values = raw if isinstance(raw, dict) else {}
        return {name: kind(values.get(name, kind())) for name, kind in FIELDS.items()}

    def update(self, changes: Any) -> dict[str, Any]:
        if not isinstance(changes, dict):
            raise InvalidRequestError("The page state must be a JSON object.")
        for name, value in changes.items():
            kind = FIELDS.get(name)
            if kind is None or not isinstance(value, kind):
                raise InvalidRequestError(f"'{str(name)[:40]}' is not page state this app keeps.")
        with self._lock:
            merged = {**self.get(), **changes}
            atomic_write(self.path, json.dumps(merged))
        return merged
