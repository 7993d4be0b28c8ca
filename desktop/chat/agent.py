"""The one place an `Agent` is made: from an assistant, the provider settings and the tool
registry (and the small agent that writes titles)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from agents import Agent, FunctionTool, FunctionToolResult, ModelSettings, RunContextWrapper, Tool
from agents.agent import ToolsToFinalOutputResult

from desktop.chat.agent_context import DesktopAgentContext
from desktop.chat.tools.catalog import CATALOG, client_tool_names, hosted_tool_names
from desktop.chat.tools.registry import ToolRegistry
from desktop.store.assistants import Assistant


def build_agent(
    assistant: Assistant,
    model: str,
    registry: ToolRegistry,
    *,
    with_tools: bool = True,
    hosted: bool = False,
    extra_tools: Sequence[Tool] = (),
    blocked: Callable[[str], bool] = lambda _: False,
    asks: Callable[[str], bool] = lambda _: False,
    allowed: Callable[[str], bool] = lambda _: False,
) -> Agent[DesktopAgentContext]:
    """`hosted`: the provider is OpenAI's Responses API, where OpenAI's own tools run (anywhere
    else they would fail the request, so they are left out). `extra_tools`: the MCP tools this
    assistant may use; `blocked`: tools Settings says never to offer; `asks`: built-in tools
    whose calls wait for the user's approval in this chat; `allowed`: tools Settings explicitly
    allows, whose own per-call checks (read_web_page's) then don't ask either."""
    names = [
        n for n in assistant.tools if (hosted or n not in hosted_tool_names()) and not blocked(n)
    ]
    own = [
        _asking(t) if asks(t.name) else _quiet(t) if allowed(t.name) else t
        for t in registry.tools(names)
    ]
    tools: list[Tool] = [*own, *extra_tools] if with_tools else []
    in_page = sorted(client_tool_names() & {t.name for t in tools})
    return Agent[DesktopAgentContext](
        name=assistant.name or "Assistant",
        instructions=assistant.instructions,
        model=model,
        tools=tools,
        # A tool that runs in the page ends the run: the page answers, then the turn resumes.
        # One call at a time then, so that no parallel call's result is left unseen.
        tool_use_behavior=_stop_for_the_page if in_page else "run_llm_again",
        model_settings=ModelSettings(parallel_tool_calls=False) if in_page else ModelSettings(),
    )


def _asking(tool: Tool) -> Tool:
    # A plain True, decided for this run: the SDK treats a callable policy as "ask" whenever
    # argument parsing fills in defaults, which would make allowed tools ask too.
    return (
        dataclasses.replace(tool, needs_approval=True) if isinstance(tool, FunctionTool) else tool
    )


def _quiet(tool: Tool) -> Tool:
    return (
        dataclasses.replace(tool, needs_approval=False) if isinstance(tool, FunctionTool) else tool
    )


def _stop_for_the_page(
    context: RunContextWrapper[Any], results: list[FunctionToolResult]
) -> ToolsToFinalOutputResult:
    """End the run once a page tool was handed over; a page tool that failed here (bad
    arguments) goes back to the model like any other tool result."""
    handed_over = getattr(context.context, "client_tool_call", None) is not None
    return ToolsToFinalOutputResult(is_final_output=handed_over, final_output=None)


def builtin_labels() -> dict[str, tuple[str, str, str]]:
    """Tool name -> (tool key, label, origin) of the built-in tools, for approval cards."""
    return {name: (name, info.label, "Built-in tool") for name, info in CATALOG.items()}


def title_agent(instructions: str, model: str) -> Agent[None]:
    return Agent[None](name="Titler", instructions=instructions, model=model)
