"""Tool calls as visible steps: each call becomes a task in a collapsible workflow item ("Searching
your chats…" -> "Searched your chats"), and a failed call a failed step. Works for every tool the
agent runs, so tools added later (MCP) show up the same way."""

from __future__ import annotations

import time
from typing import Any

from agents import Agent, RunContextWrapper, RunHooks, Tool
from agents.run_config import ToolErrorFormatterArgs
from chatkit.types import CustomTask

from desktop.chat.agent_context import DesktopAgentContext
from desktop.chat.tools.catalog import step_info


def _call_id(context: RunContextWrapper[Any], tool: Tool) -> str:
    return str(getattr(context, "tool_call_id", None) or tool.name)


def _seconds(elapsed: float) -> str:
    return f"{elapsed:.1f} s" if elapsed < 10 else f"{elapsed:.0f} s"


class ToolActivity(RunHooks[DesktopAgentContext]):
    async def on_tool_start(
        self, context: RunContextWrapper[DesktopAgentContext], agent: Agent[Any], tool: Tool
    ) -> None:
        ac = context.context
        info = step_info(tool.name)
        call_id = _call_id(context, tool)
        ac.tools_used.append(tool.name)
        await ac.add_workflow_task(
            CustomTask(title=info.running, icon=info.icon, status_indicator="loading")
        )
        assert ac.workflow_item is not None
        ac.steps[call_id] = (ac.workflow_item.id, len(ac.workflow_item.workflow.tasks) - 1)
        ac.started[call_id] = time.monotonic()

    async def on_tool_end(
        self,
        context: RunContextWrapper[DesktopAgentContext],
        agent: Agent[Any],
        tool: Tool,
        result: Any,
    ) -> None:
        ac = context.context
        info = step_info(tool.name)
        call_id = _call_id(context, tool)
        elapsed = time.monotonic() - ac.started.pop(call_id, time.monotonic())
        failure = ac.failures.pop(call_id, None)
        task = CustomTask(
            title=f"{info.failed}: {failure}" if failure else info.done,
            icon="info" if failure else info.icon,
            content=_seconds(elapsed),
            status_indicator="complete",
        )
        where = ac.steps.pop(call_id, None)
        if where and ac.workflow_item and ac.workflow_item.id == where[0]:
            await ac.update_workflow_task(task, where[1])
        else:
            await ac.add_workflow_task(task)

    async def on_llm_start(
        self,
        context: RunContextWrapper[DesktopAgentContext],
        agent: Agent[Any],
        system_prompt: str | None,
        input_items: list[Any],
    ) -> None:
        await show_pending_widgets(context.context)


async def show_pending_widgets(ac: DesktopAgentContext) -> None:
    """Widgets the tools produced, once their steps are done: before the model answers."""
    widgets, ac.pending_widgets = ac.pending_widgets, []
    for widget, copy_text in widgets:
        await ac.stream_widget(widget, copy_text=copy_text)


async def tool_error_message(args: ToolErrorFormatterArgs[Any]) -> str | None:
    """A call to a tool the agent doesn't have: a failed step for the user, and a result that
    lets the model carry on."""
    if args.kind != "tool_not_found":
        return None
    ac = args.run_context.context
    if isinstance(ac, DesktopAgentContext):
        info = step_info(args.tool_name)
        await ac.add_workflow_task(
            CustomTask(
                title=f"{info.failed}: no such tool", icon="info", status_indicator="complete"
            )
        )
    return (
        f"There is no tool named {args.tool_name[:80]}. Use only the tools you were given, "
        "or answer without one."
    )
