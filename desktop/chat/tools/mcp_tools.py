"""MCP tools as the agent's function tools: the SDK's conversion, plus this app's approvals,
failure handling (a failed step, a result the model can recover from), progress updates and
noticing a server that died mid-call."""

from __future__ import annotations

from typing import Any

from agents import FunctionTool, RunContextWrapper
from agents.mcp import MCPUtil
from chatkit.types import ProgressUpdateEvent

from desktop.chat.agent_context import DesktopAgentContext
from desktop.chat.tools.base import record_failure
from desktop.mcp.connection import PROGRESS, ServerConnection
from desktop.mcp.hub import OfferedTool
from desktop.tool_keys import mcp_key

_LOST = ("connection closed", "connection lost", "server not initialized", "closedresource")


def _failure_text(error: Exception) -> str:
    text = str(error)
    cause = error.__cause__
    if cause is not None and str(cause) and str(cause) not in text:
        text = f"{text} ({cause})"
    low = text.lower()
    if "timed out" in low or "timeout" in low or isinstance(error, TimeoutError):
        return "the server didn't answer in time"
    if any(m in low for m in _LOST):
        return "the server stopped"
    return text[:300] or type(error).__name__


def _failed(conn: ServerConnection) -> Any:
    def failed(ctx: RunContextWrapper[Any], error: Exception) -> str:
        reason = _failure_text(error)
        if reason == "the server stopped":
            conn.lost("it stopped during a tool call")
        return record_failure(ctx, reason)

    return failed


def _with_progress(tool: FunctionTool, label: str) -> None:
    invoke = tool.on_invoke_tool

    async def on_invoke(ctx: Any, arguments: str) -> Any:
        ac = getattr(ctx, "context", None)
        if not isinstance(ac, DesktopAgentContext):
            return await invoke(ctx, arguments)

        async def report(progress: float, total: float | None, message: str | None) -> None:
            share = f" {progress / total:.0%}" if total else ""
            text = f"{label}{share}" + (f": {message[:120]}" if message else "")
            await ac.stream(ProgressUpdateEvent(icon="bolt", text=text))

        token = PROGRESS.set(report)
        try:
            return await invoke(ctx, arguments)
        finally:
            PROGRESS.reset(token)

    tool.on_invoke_tool = on_invoke


def function_tool(offered: OfferedTool, *, asks: bool) -> FunctionTool:
    """`asks`: calls wait for the user's approval (decided for this run by the chat's rules)."""
    conn = offered.connection
    server = conn.server
    assert server is not None, "offered tools come from connected servers"
    tool = MCPUtil.to_function_tool(
        offered.tool,
        server,
        convert_schemas_to_strict=False,
        failure_error_function=_failed(conn),
        tool_name_override=offered.public_name,
    )
    tool.needs_approval = asks
    _with_progress(tool, f"{offered.server}: {offered.tool.name}")
    return tool


def label(offered: OfferedTool) -> tuple[str, str, str]:
    """(tool key, the tool as a person reads it, where it comes from) for steps and cards."""
    title = getattr(offered.tool, "title", None) or offered.tool.name
    return (
        mcp_key(offered.server, offered.tool.name),
        str(title),
        f"MCP server “{offered.server}”",
    )
