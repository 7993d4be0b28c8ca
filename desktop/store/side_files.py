"""A backup's settings and MCP server files: read before anything is replaced (never through a
link), and put in place of the data dir's.

A backup the app made, in `<data dir>/backups`, is the user's own and comes back as it was. One
named by a path elsewhere can come from anyone (another machine, a download, a message), and
these two files act as soon as they are loaded: an MCP server's `command` starts, and a tool
policy lets a tool run without asking. So from such a backup every MCP server comes back turned
off (the user turns each on in Settings → Tools and MCP servers, seeing its command first), and
the settings that grant (tool policies, the local hosts `read_web_page` may read) are left out.
A file that isn't the JSON object it should be is left out too: nothing can tell what it grants.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from desktop.errors import StoreError
from desktop.store.restore_checks import SIDE_FILES, read_side_file

# Settings that let something happen without asking.
GRANTING_SETTINGS = ("tool_policies", "web_allowed_hosts")
OUTSIDE_NOTE = (
    "It came from outside this app's backups folder, so its MCP servers are turned off (turn "
    "each on in Settings → Tools and MCP servers) and its tool permissions were left out."
)


def _object(content: bytes) -> dict[str, Any] | None:
    try:
        doc = json.loads(content.decode("utf-8")) if content.strip() else {}
    except (UnicodeDecodeError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def without_grants(name: str, content: bytes | None) -> bytes | None:
    """`content` (settings.json or mcp.json) with nothing in it that acts by being loaded."""
    doc = _object(content) if content is not None else None
    if doc is None:
        return None
    if name == "mcp.json":
        servers = doc.get("mcpServers", {})
        if not isinstance(servers, dict):
            return None
        for entry in servers.values():
            if isinstance(entry, dict):
                entry["disabled"] = True
    else:
        for key in GRANTING_SETTINGS:
            doc.pop(key, None)
    # Written as parsed: the app reads exactly what was checked here.
    return json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8")


def stage_side_files(folder: Path, label: str, *, outside: bool) -> dict[str, bytes | None]:
    """The backup's settings and MCP server files, read before anything is replaced, so a
    refusal leaves the data dir as it was; `outside`: from a backup the app didn't make."""
    try:
        side = {name: read_side_file(folder / name, label) for name in SIDE_FILES}
    except OSError as exc:
        raise StoreError(f"The restore failed and nothing was changed: {exc}.") from exc
    if outside:
        side = {name: without_grants(name, content) for name, content in side.items()}
    return side


def put_side_files(side: Mapping[str, bytes | None], data_dir: Path) -> None:
    """The staged settings and MCP server files in place of the data dir's (and none where
    the backup had none)."""
    for name, content in side.items():
        target = data_dir / name
        if content is None:
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
            continue
        # Written beside and renamed: a link the data dir had in its place is replaced, not
        # written through.
        part = target.with_name(f".restoring-{name}")
        with contextlib.suppress(FileNotFoundError):
            part.unlink()
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(part, target)
