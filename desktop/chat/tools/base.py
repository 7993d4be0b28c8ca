"""How this app defines a tool: the Agents SDK's function tool, with a time limit, and failures
turned into a result the model can recover from (and a failed step the user sees)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from agents import FunctionTool, RunContextWrapper, function_tool

from desktop.chat.agent_context import DesktopAgentContext

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 30.0


class ToolProblem(Exception):
    """A tool failure whose message can be shown to the model and the user as it is."""


def _failure_text(error: Exception) -> str:
    if isinstance(error, ToolProblem):
        return str(error)[:300]
    if isinstance(error, TimeoutError):
        return "it took too long"
    text = str(error)
    if text.startswith("Invalid JSON input for tool"):
        return "its arguments were not valid"
    return f"an unexpected {type(error).__name__}"


def record_failure(ctx: RunContextWrapper[Any], reason: str) -> str:
    call_id = getattr(ctx, "tool_call_id", None)
    if isinstance(ctx.context, DesktopAgentContext) and call_id:
        ctx.context.failures[call_id] = reason
    return (
        f"The tool failed: {reason}. Answer without it, or try once more with different "
        "arguments if that could help."
    )


def tool_failed(ctx: RunContextWrapper[Any], error: Exception) -> str:
    if not isinstance(error, ToolProblem):
        log.warning("tool %s failed: %s", getattr(ctx, "tool_name", "?"), type(error).__name__)
    return record_failure(ctx, _failure_text(error))


def tool_timed_out(ctx: RunContextWrapper[Any], error: Exception) -> str:
    return record_failure(ctx, "it took too long")


def define(
    fn: Callable[..., Any], *, name: str, timeout_s: float = DEFAULT_TIMEOUT_S
) -> FunctionTool:
    return function_tool(
        fn,
        name_override=name,
        failure_error_function=tool_failed,
        timeout=timeout_s,
        timeout_behavior="error_as_result",
        timeout_error_function=tool_timed_out,
    )
