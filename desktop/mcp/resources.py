"""MCP servers' resources as things to @mention, like chats and files: found by name, previewed,
and read as text for the model."""

from __future__ import annotations

from typing import Any

from desktop.mcp.hub import McpHub

PREFIX = "mcp:"


def entity_id(server: str, uri: str) -> str:
    return f"{PREFIX}{server}:{uri}"


def split_id(value: str) -> tuple[str, str] | None:
    """(server, uri) of an entity id made by `entity_id`."""
    if not value.startswith(PREFIX) or ":" not in value[len(PREFIX) :]:
        return None
    server, uri = value[len(PREFIX) :].split(":", 1)
    return server, uri


def find(hub: McpHub, text: str, limit: int) -> list[dict[str, Any]]:
    """Resources of connected servers whose name or address contains `text`, as ChatKit
    entities (`data.type` "mcp_resource")."""
    needle = text.strip().lower()
    found: list[dict[str, Any]] = []
    for name, conn in hub.connections():
        if conn.state != "connected":
            continue
        for resource in conn.resources:
            uri, title = str(resource.uri), str(resource.name or resource.uri)
            if needle and needle not in title.lower() and needle not in uri.lower():
                continue
            found.append(
                {
                    "id": entity_id(name, uri),
                    "title": title[:200],
                    "icon": "document",
                    "group": f"From {name}",
                    "interactive": True,
                    "data": {"type": "mcp_resource", "server": name, "uri": uri},
                }
            )
            if len(found) >= limit:
                return found
    return found


async def read_text(hub: McpHub, server: str, uri: str, max_chars: int) -> str | None:
    """The resource's text (binary parts named, not included), or None if it can't be read.
    Only a resource the server listed is read: an address from anywhere else (a stored message,
    a request) could name any file the server can reach."""
    conn = hub.connection(server)
    if conn is None or conn.server is None:
        return None
    if uri not in {str(resource.uri) for resource in conn.resources}:
        return None
    try:
        result = await conn.server.read_resource(uri)
    except Exception:
        return None
    parts = []
    for content in getattr(result, "contents", None) or []:
        text = getattr(content, "text", None)
        if isinstance(text, str):
            parts.append(text)
        else:
            kind = getattr(content, "mime_type", None) or "binary"
            parts.append(f"({kind} content, not shown)")
    return "\n".join(parts)[:max_chars]
