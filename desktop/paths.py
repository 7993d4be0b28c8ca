"""Where the app keeps its files. Every path the app reads or writes is derived here."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_data_dir, user_log_dir

from desktop import APP_NAME, env

DATA_DIR_ENV = env.DATA_DIR


@dataclass(frozen=True)
class Paths:
    data: Path
    logs: Path

    @property
    def db(self) -> Path:
        return self.data / "chats.db"

    @property
    def settings(self) -> Path:
        return self.data / "settings.json"

    @property
    def ui_state(self) -> Path:
        return self.data / "ui-state.json"

    @property
    def mcp_config(self) -> Path:
        return self.data / "mcp.json"

    @property
    def attachments(self) -> Path:
        return self.data / "attachments"


def resolve_paths(data_dir: str | os.PathLike[str] | None = None) -> Paths:
    """The one place the data dir is chosen: `--data-dir`, else the env var, else platformdirs.

    An explicitly chosen data dir keeps its logs inside it, so a portable or test profile never
    writes into the real user's log folder.
    """
    chosen = data_dir or os.environ.get(DATA_DIR_ENV)
    if chosen:
        data = Path(chosen).expanduser().resolve()
        return Paths(data=data, logs=data / "logs")
    return Paths(
        data=Path(user_data_dir(APP_NAME, appauthor=False)),
        logs=Path(user_log_dir(APP_NAME, appauthor=False)),
    )


def ui_dir() -> Path:
    """The built page: inside the package, or under sys._MEIPASS in a PyInstaller bundle."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "desktop" / "ui" / "dist"
    return Path(__file__).resolve().parent / "ui" / "dist"
