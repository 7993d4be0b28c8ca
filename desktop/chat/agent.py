"""The one place an `Agent` is made: from an assistant, the provider settings and the tool
registry (and the small agent that writes titles)."""

from __future__ import annotations

from agents import Agent, ModelSettings, Tool

from desktop.chat.agent_context import DesktopAgentContext
from desktop.chat.tools.registry import ToolRegistry
from desktop.store.assistants import Assistant


def build_agent(
    assistant: Assistant,
    model: str,
    registry: ToolRegistry,
    *,
    with_tools: bool = True,
) -> Agent[DesktopAgentContext]:
    tools: list[Tool] = registry.tools(assistant.tools) if with_tools else []
    return Agent[DesktopAgentContext](
        name=assistant.name or "Assistant",
        instructions=assistant.instructions,
        model=model,
        tools=tools,
        # Without tools, a tool setting is an error on some providers: leave it unset.
        model_settings=ModelSettings(),
    )


def title_agent(instructions: str, model: str) -> Agent[None]:
    return Agent[None](name="Titler", instructions=instructions, model=model)
