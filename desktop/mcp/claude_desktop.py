"""Claude Desktop's MCP config, which Settings can import servers from: where the file lives on
this system, and its `mcpServers` as read (checking each entry is desktop.mcp.config's job)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from desktop.errors import ConfigError


def claude_desktop_config(
    home: Path | None = None, environ: Mapping[str, str] | None = None
) -> Path:
    """Where Claude Desktop keeps its config on this system."""
    home = home or Path.home()
    environ = os.environ if environ is None else environ
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "Claude" / "claude_desktop_config.json"
    if sys.platform == "win32":
        base = environ.get("APPDATA") or str(home / "AppData" / "Roaming")
        return Path(base) / "Claude" / "claude_desktop_config.json"
    base = environ.get("XDG_CONFIG_HOME") or str(home / ".config")
    return Path(base) / "Claude" / "claude_desktop_config.json"


def read_servers(source: Path) -> dict[str, Any]:
    """The `mcpServers` of another app's config file, unchecked; a ConfigError says why not."""
    try:
        other = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"There is no file at {source}.") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"Can't read {source.name}: {type(exc).__name__}.") from exc
    theirs = other.get("mcpServers") if isinstance(other, dict) else None
    if not isinstance(theirs, dict):
        raise ConfigError(f"{source.name} has no “mcpServers” to import.")
    return theirs
