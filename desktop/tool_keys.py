"""Tool keys: how a tool is named in approvals, Settings' tool policies and an assistant's tools.

A built-in tool goes by its name ("copy_to_clipboard"); an MCP server by "mcp:<server>", one of
its tools by "mcp:<server>/<tool>", and every MCP server, in an assistant's list, by "mcp:*".
This module alone writes, reads and matches them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

PREFIX = "mcp:"
ALL_MCP = "mcp:*"
# What an assistant's list may name: servers come and go with mcp.json, so any well-formed name
# is kept, whether or not such a server exists now.
_MCP_SELECTION = re.compile(r"^mcp:(\*|[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}(/[^\s/][^/]{0,127})?)$")


def mcp_key(server: str, tool: str | None = None) -> str:
    """The key of an MCP server, or of one of its tools."""
    return f"{PREFIX}{server}" if tool is None else f"{PREFIX}{server}/{tool}"


def is_mcp(key: str) -> bool:
    return key.startswith(PREFIX)


def server_of(key: str) -> str | None:
    """The server an MCP key names ("*" for every server); None for a built-in tool."""
    if not is_mcp(key):
        return None
    return key[len(PREFIX) :].split("/", 1)[0]


def server_key_of(key: str) -> str | None:
    """For one MCP tool's key, its server's key (whose policy it follows unless it has one)."""
    if is_mcp(key) and "/" in key:
        return key.split("/", 1)[0]
    return None


def is_mcp_selection(key: str) -> bool:
    """Whether `key` is a well-formed MCP entry of an assistant's tool list."""
    return _MCP_SELECTION.match(key) is not None


def selects(selection: Iterable[str], server: str, tool: str) -> bool:
    """Whether an assistant's tool list includes this MCP tool: all servers, its server, or it."""
    return bool({ALL_MCP, mcp_key(server), mcp_key(server, tool)} & set(selection))


def selected_servers(selection: Iterable[str]) -> set[str]:
    """The MCP servers a tool list names, wholly or for some of their tools ("*": every one)."""
    return {name for key in selection if (name := server_of(key)) is not None}


def describe(key: str) -> str | None:
    """How the page names an MCP key in a list of tools; None for a built-in tool's key."""
    if key == ALL_MCP:
        return "all MCP servers"
    if not is_mcp(key):
        return None
    return f"{key[len(PREFIX) :]} (MCP)"
