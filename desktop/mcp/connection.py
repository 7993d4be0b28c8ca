"""One MCP server's connection: started in the background, watched, and closed with the app.

Each connection lives in a task of its own, which connects, lists the tools, then pings the
server now and then, so that a server that died is noticed (and restarted on its next use)
rather than failing a turn later. The Agents SDK's `agents.mcp` classes do the protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO

from desktop.mcp.config import ServerSpec
from desktop.mcp.launch_env import resolve_command, search_path
from desktop.tool_keys import mcp_key

if TYPE_CHECKING:
    from agents.mcp import MCPServer
    from mcp.types import Tool as MCPTool

log = logging.getLogger(__name__)

State = Literal["connecting", "connected", "failed", "stopped", "disabled"]
STDERR_TAIL_CHARS = 2000
CONNECT_TIMEOUT_S = 30.0
PING_INTERVAL_S = 15.0
PING_TIMEOUT_S = 10.0
CLEANUP_TIMEOUT_S = 5.0
MAX_RESOURCES = 500

# (progress, total, message) -> None: where the tool call running in this task reports progress.
ProgressSink = Callable[[float, float | None, str | None], Awaitable[None]]
PROGRESS: ContextVar[ProgressSink | None] = ContextVar("mcp_progress", default=None)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "it didn't answer in time"
    if isinstance(exc, FileNotFoundError):
        return f"the program {exc.filename or ''} was not found".replace("  ", " ")
    if isinstance(exc, PermissionError):
        return "the program may not be run (permission denied)"
    if isinstance(exc, BaseExceptionGroup):
        return _describe(exc.exceptions[0])
    text = str(exc).strip() or type(exc).__name__
    cause = exc.__cause__
    if cause is not None and str(cause).strip() and str(cause) not in text:
        text = f"{text}: {cause}"
    return text[:300]


def _answered(exc: Exception) -> bool:
    """Whether the server replied (with an error) rather than being gone or silent."""
    code = getattr(exc, "code", None)
    text = str(exc).lower()
    return isinstance(code, int) and code not in (-32000, -32001) and "closed" not in text


async def _resources(server: MCPServer) -> list[Any]:
    """The server's resources, or none if it offers none (many servers don't)."""
    try:
        async with asyncio.timeout(PING_TIMEOUT_S):
            listed = await server.list_resources()
    except Exception:  # not offered, or not answered: nothing to mention
        return []
    return list(getattr(listed, "resources", None) or [])[:MAX_RESOURCES]


def _build(spec: ServerSpec, errlog: TextIO | None) -> MCPServer:
    """The SDK's server object for `spec` (imported here: agents.mcp loads slowly)."""
    from agents.mcp import MCPServerSse, MCPServerStdio, MCPServerStreamableHttp
    from mcp.client.stdio import stdio_client

    class Reporting:
        """Passes a progress callback to the call when the running tool asked for progress."""

        session: Any

        async def call_tool(
            self,
            tool_name: str,
            arguments: dict[str, Any] | None,
            meta: dict[str, Any] | None = None,
        ) -> Any:
            sink = PROGRESS.get()
            if sink is None or self.session is None:
                return await super().call_tool(tool_name, arguments, meta)  # type: ignore[misc]
            return await self.session.call_tool(
                tool_name, arguments, progress_callback=sink, meta=meta
            )

    class Stdio(Reporting, MCPServerStdio):
        def create_streams(self) -> Any:
            # The SDK's default sends the server's stderr to ours; it goes to a file we can show.
            return stdio_client(self.params, errlog=errlog) if errlog else super().create_streams()

    class Http(Reporting, MCPServerStreamableHttp):
        pass

    class Sse(Reporting, MCPServerSse):
        pass

    common: dict[str, Any] = {
        "name": spec.name,
        "cache_tools_list": True,
        "client_session_timeout_seconds": spec.timeout_s,
    }
    if spec.transport == "stdio":
        path = search_path()
        env = {"PATH": path, **spec.env}
        params: dict[str, Any] = {
            "command": resolve_command(spec.command, env["PATH"]),
            "args": list(spec.args),
            "env": env,
        }
        if spec.cwd:
            params["cwd"] = str(Path(spec.cwd).expanduser())
        return Stdio(params, **common)  # type: ignore[arg-type]
    remote: dict[str, Any] = {"url": spec.url, "headers": dict(spec.headers), "timeout": 30}
    remote["sse_read_timeout"] = max(spec.timeout_s, 60.0)
    if spec.transport == "sse":
        return Sse(remote, **common)  # type: ignore[arg-type]
    return Http(remote, **common)  # type: ignore[arg-type]


class ServerConnection:
    def __init__(
        self,
        spec: ServerSpec,
        stderr_dir: Path,
        *,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        ping_interval_s: float = PING_INTERVAL_S,
    ) -> None:
        self.spec = spec
        self._stderr_path = stderr_dir / f"{_file_safe(spec.name)}.stderr.log"
        self._connect_timeout_s = connect_timeout_s
        self._ping_interval_s = ping_interval_s
        self.state: State = "disabled" if spec.disabled else "connecting"
        self.error: str | None = None
        self.tools: list[MCPTool] = []
        # What the server offers to read (@-mentionable): its first page of resources.
        self.resources: list[Any] = []
        self.server: MCPServer | None = None
        self.since = time.time()
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._settled = asyncio.Event()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if self.spec.disabled or (self._task is not None and not self._task.done()):
            return
        self._stop = asyncio.Event()
        self._settled = asyncio.Event()
        self._set("connecting", None)
        self._task = asyncio.create_task(self._run(), name=f"mcp:{self.spec.name}")

    async def ready(self, timeout_s: float) -> bool:
        """Wait until connected or failed (at most `timeout_s`); True if connected."""
        if self.state == "connecting":
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await self._settled.wait()
        return self.state == "connected"

    async def stop(self) -> None:
        self._stop.set()
        task, self._task = self._task, None
        if task is None:
            return
        if self.state == "connecting":
            task.cancel()  # a server that hangs while starting must not hold up a quit
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(asyncio.shield(task), CLEANUP_TIMEOUT_S + 3)
        if not task.done():
            task.cancel()

    def lost(self, reason: str) -> None:
        """A call found the server gone: report it; the next use starts it again."""
        if self.state == "connected":
            self._set("stopped", reason)
            self._stop.set()

    async def _run(self) -> None:
        errlog = self._open_stderr()
        server: MCPServer | None = None
        try:
            server = await asyncio.to_thread(_build, self.spec, errlog)
            async with asyncio.timeout(self._connect_timeout_s):
                await server.connect()  # type: ignore[no-untyped-call]
                self.tools = list(await server.list_tools())
                self.resources = await _resources(server)
            self.server = server
            self._set("connected", None)
            self._settled.set()
            await self._watch(server)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            reason = _describe(exc)
            if self.spec.transport == "stdio" and "connection closed" in reason.lower():
                reason = "it exited before it was ready"
            self._set("failed", reason)
            log.warning(
                "MCP server %r failed: %s%s", self.spec.name, self.error, self._output_note()
            )
        finally:
            self._settled.set()
            self.server = None
            if server is not None:
                with contextlib.suppress(BaseException):
                    async with asyncio.timeout(CLEANUP_TIMEOUT_S):
                        await server.cleanup()  # type: ignore[no-untyped-call]
            if errlog is not None:
                errlog.close()

    async def _watch(self, server: MCPServer) -> None:
        session = getattr(server, "session", None)
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._ping_interval_s):
                    await self._stop.wait()
            if self._stop.is_set() or session is None:
                break
            try:
                async with asyncio.timeout(PING_TIMEOUT_S):
                    await session.send_ping()
            except Exception as exc:
                if _answered(exc):
                    continue  # an error reply (some servers don't take pings) is still a reply
                self._set("stopped", f"it stopped answering ({_describe(exc)})")
                log.warning(
                    "MCP server %r stopped: %s%s", self.spec.name, self.error, self._output_note()
                )
                return

    def _set(self, state: State, error: str | None) -> None:
        self.state, self.error, self.since = state, error, time.time()
        if state not in ("connected", "stopped"):
            self.tools, self.resources = [], []

    # ------------------------------------------------------------------ stderr

    def _open_stderr(self) -> TextIO | None:
        if self.spec.transport != "stdio":
            return None
        try:
            self._stderr_path.parent.mkdir(parents=True, exist_ok=True)
            return open(self._stderr_path, "w", encoding="utf-8", errors="replace")
        except OSError:
            # Dropped rather than passed to the app's own stderr, which may be logged.
            return open(os.devnull, "w", encoding="utf-8")

    def stderr_tail(self) -> str:
        try:
            with open(self._stderr_path, "rb") as handle:
                handle.seek(0, 2)
                size = handle.tell()
                handle.seek(max(0, size - STDERR_TAIL_CHARS))
                return handle.read().decode("utf-8", "replace").strip()
        except OSError:
            return ""

    def _output_note(self) -> str:
        # Where its output is, never the output itself: a server may print its environment
        # (secrets of its own) or anything it read, and the app's log is shared in bug reports.
        if self.spec.transport != "stdio":
            return ""
        return f" (what it printed is in {self._stderr_path})"

    def view(self) -> dict[str, Any]:
        return {
            "name": self.spec.name,
            "state": self.state,
            "error": self.error,
            "tools": [
                {
                    "name": t.name,
                    "key": mcp_key(self.spec.name, t.name),
                    "description": (t.description or "")[:300],
                }
                for t in self.tools
            ],
            "stderr": self.stderr_tail() if self.state in ("failed", "stopped") else "",
            "since": self.since,
        }


def _file_safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:64] or "server"
