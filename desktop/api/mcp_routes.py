"""MCP servers in Settings: their state, editing mcp.json with validation, restarting one, and
importing Claude Desktop's servers. Values in `env` and `headers` reach the page masked."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from desktop.api.errors import parse_body
from desktop.errors import ConfigError, NotFound
from desktop.mcp.config import claude_desktop_config
from desktop.mcp.hub import McpHub


class ServerBody(BaseModel):
    """One server as the page edits it; `entry` is the `mcpServers` entry (Claude's keys)."""

    model_config = ConfigDict(extra="forbid")

    entry: dict[str, Any]
    rename_from: str | None = Field(default=None, max_length=64)


class EnabledBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool


class ImportBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Another config file to import from; Claude Desktop's own when not given.
    path: str | None = Field(default=None, max_length=4096)


def mcp_router(hub: McpHub, home: Path | None = None) -> APIRouter:
    router = APIRouter()

    def view() -> dict[str, Any]:
        claude = claude_desktop_config(home)
        return hub.status() | {"claude_desktop": {"path": str(claude), "found": claude.is_file()}}

    async def changed() -> dict[str, Any]:
        await hub.reload()
        return view()

    def known(name: str) -> None:
        if hub.connection(name) is None:
            raise NotFound(f"There is no running MCP server named “{name[:64]}”.")

    def importing(path: str | None) -> tuple[list[str], list[str]]:
        source = Path(path).expanduser() if path else claude_desktop_config(home)
        if source.resolve() == hub.config.path.resolve():
            raise ConfigError("That is this app's own mcp.json.")
        return hub.config.import_from(source)

    @router.get("/api/mcp")
    async def status() -> dict[str, Any]:
        return view()

    @router.put("/api/mcp/servers/{name}")
    async def put_server(name: str, request: Request) -> dict[str, Any]:
        parsed: ServerBody = parse_body(ServerBody, await request.body())
        await asyncio.to_thread(hub.config.put, name, parsed.entry, rename_from=parsed.rename_from)
        return await changed()

    @router.delete("/api/mcp/servers/{name}")
    async def delete_server(name: str) -> dict[str, Any]:
        await asyncio.to_thread(hub.config.delete, name)
        return await changed()

    @router.post("/api/mcp/servers/{name}/enabled")
    async def set_enabled(name: str, request: Request) -> dict[str, Any]:
        parsed: EnabledBody = parse_body(EnabledBody, await request.body())
        await asyncio.to_thread(hub.config.set_disabled, name, not parsed.enabled)
        return await changed()

    @router.post("/api/mcp/servers/{name}/restart")
    async def restart(name: str) -> dict[str, Any]:
        known(name)
        await hub.restart(name)
        return view()

    @router.post("/api/mcp/import")
    async def import_servers(request: Request) -> dict[str, Any]:
        parsed: ImportBody = parse_body(ImportBody, await request.body())
        added, skipped = await asyncio.to_thread(importing, parsed.path)
        return await changed() | {"imported": added, "skipped": skipped}

    return router
