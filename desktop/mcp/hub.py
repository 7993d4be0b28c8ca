"""All of the user's MCP servers: started in the background, reconnected when mcp.json changes
(only the servers that changed), restarted on their next use after dying, closed with the app."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop.mcp.config import McpConfig, McpConfigFile
from desktop.mcp.connection import CONNECT_TIMEOUT_S, PING_INTERVAL_S, ServerConnection
from desktop.tool_keys import is_mcp, mcp_key, selected_servers, selects

if TYPE_CHECKING:
    from mcp.types import Tool as MCPTool

log = logging.getLogger(__name__)
_NAME_MAX = 64


@dataclass(frozen=True)
class OfferedTool:
    """One MCP tool as the model sees it."""

    public_name: str
    server: str
    tool: MCPTool
    connection: ServerConnection


def _name_part(value: str) -> str:
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "_-") else "_" for c in value)
    return safe.strip("_-") or "x"


def public_name(server: str, tool: str, taken: set[str]) -> str:
    """`mcp_<server>__<tool>`, within the 64 characters providers accept; a hash keeps two
    names that would read the same apart."""
    base = f"mcp_{_name_part(server)}__{_name_part(tool)}"
    name = base
    attempt = 0
    while len(name) > _NAME_MAX or name in taken:
        digest = hashlib.sha256(f"{server}\0{tool}\0{attempt}".encode()).hexdigest()[:8]
        name = f"{base[: _NAME_MAX - 9].rstrip('_-')}_{digest}"
        attempt += 1
    taken.add(name)
    return name


class McpHub:
    def __init__(
        self,
        config_path: Path,
        stderr_dir: Path,
        *,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        ping_interval_s: float = PING_INTERVAL_S,
    ) -> None:
        self.config = McpConfigFile(config_path)
        self._stderr_dir = stderr_dir
        self._connect_timeout_s = connect_timeout_s
        self._ping_interval_s = ping_interval_s
        self._connections: dict[str, ServerConnection] = {}
        self._loaded = McpConfig()
        self._lock = asyncio.Lock()
        self._closed = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        await self.reload()

    async def reload(self) -> None:
        """Read mcp.json again; reconnect only the servers whose entry changed."""
        async with self._lock:
            if self._closed:
                return
            loaded = await asyncio.to_thread(self.config.load)
            if loaded.error:
                log.warning("MCP servers: %s", loaded.error)
                # A file being edited by hand may be broken for a moment: keep what runs.
                self._loaded = McpConfig(self._loaded.servers, self._loaded.problems, loaded.error)
                return
            wanted = {s.name: s for s in loaded.servers}
            for name, conn in list(self._connections.items()):
                spec = wanted.get(name)
                if (
                    spec is None
                    or spec.launch_key() != conn.spec.launch_key()
                    or (spec.disabled != conn.spec.disabled)
                ):
                    await conn.stop()
                    del self._connections[name]
            for name, spec in wanted.items():
                if name not in self._connections:
                    conn = ServerConnection(
                        spec,
                        self._stderr_dir,
                        connect_timeout_s=self._connect_timeout_s,
                        ping_interval_s=self._ping_interval_s,
                    )
                    self._connections[name] = conn
                    conn.start()
            # Keep mcp.json's order.
            self._connections = {n: self._connections[n] for n in wanted}
            self._loaded = loaded

    async def watch(self, interval_s: float = 2.0) -> None:
        """Reload when mcp.json changes on disk (edited by hand or by another tool)."""
        seen = self._stamp()
        while not self._closed:
            await asyncio.sleep(interval_s)
            stamp = self._stamp()
            if stamp != seen:
                seen = stamp
                await self.reload()

    def _stamp(self) -> tuple[float, int] | None:
        try:
            info = self.config.path.stat()
        except OSError:
            return None
        return (info.st_mtime, info.st_size)

    async def restart(self, name: str) -> None:
        conn = self._connections.get(name)
        if conn is None:
            return
        await conn.stop()
        conn.start()

    async def aclose(self) -> None:
        async with self._lock:
            self._closed = True
            connections, self._connections = list(self._connections.values()), {}
        await asyncio.gather(*(c.stop() for c in connections), return_exceptions=True)

    # ------------------------------------------------------------------ use

    def starting(self, selection: Iterable[str]) -> list[str]:
        """The selected servers a turn would wait for (starting, or to be restarted)."""
        return [
            c.spec.name for c in self._selected(selection) if c.state in ("connecting", "stopped")
        ]

    def _selected(self, selection: Iterable[str]) -> list[ServerConnection]:
        names = selected_servers(selection)
        return [
            c
            for n, c in self._connections.items()
            if ("*" in names or n in names) and not c.spec.disabled
        ]

    async def offered(
        self, selection: Iterable[str], *, wait_s: float | None = None
    ) -> list[OfferedTool]:
        """The tools of the servers `selection` names. A server that died is started again
        here, and one still connecting is waited for (at most its connect time)."""
        chosen = [s for s in selection if is_mcp(s)]
        conns = self._selected(chosen)
        if not conns:
            return []
        for conn in conns:
            if conn.state == "stopped":
                log.info("restarting MCP server %r", conn.spec.name)
                await conn.stop()
                conn.start()
        timeout = self._connect_timeout_s if wait_s is None else wait_s
        await asyncio.gather(*(c.ready(timeout) for c in conns))
        return [t for t in self._all_offered() if selects(chosen, t.server, t.tool.name)]

    def _all_offered(self) -> list[OfferedTool]:
        """Names are given over every connected server, so a tool's name doesn't depend on
        which servers an assistant uses (a paused run resumes with the same names)."""
        taken: set[str] = set()
        out: list[OfferedTool] = []
        for name, conn in self._connections.items():
            if conn.state != "connected":
                continue
            for tool in conn.tools:
                out.append(OfferedTool(public_name(name, tool.name, taken), name, tool, conn))
        return out

    def status(self) -> dict[str, Any]:
        loaded = self._loaded
        servers = []
        for spec in loaded.servers:
            conn = self._connections.get(spec.name)
            entry = spec.masked()
            entry |= conn.view() if conn else {"state": "disabled", "tools": [], "error": None}
            entry["key"] = mcp_key(spec.name)
            servers.append(entry)
        return {
            "path": str(self.config.path),
            "error": loaded.error,
            "problems": dict(loaded.problems),
            "servers": servers,
        }

    def connection(self, name: str) -> ServerConnection | None:
        return self._connections.get(name)

    def connections(self) -> list[tuple[str, ServerConnection]]:
        return list(self._connections.items())
