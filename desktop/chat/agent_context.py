"""The context every agent run carries: chatkit's AgentContext plus what this app's tools and
step hooks share during one run."""

from __future__ import annotations

from typing import Any

from chatkit.agents import AgentContext
from pydantic import Field

from desktop.context import RequestContext


class DesktopAgentContext(AgentContext[RequestContext]):
    # Tool call id -> why it failed (set by the tool's failure handler, read by the step hooks).
    failures: dict[str, str] = Field(default_factory=dict)
    # Tool call id -> (workflow item id, task index) of its visible step.
    steps: dict[str, tuple[str, int]] = Field(default_factory=dict)
    # Tool call id -> when it started (monotonic seconds).
    started: dict[str, float] = Field(default_factory=dict)
    # Widgets tools produced, shown once the turn's tool steps are done (so the steps stay in
    # one workflow rather than being split by each widget).
    pending_widgets: list[tuple[Any, str | None]] = Field(default_factory=list)
    # Names of tools that ran (or were attempted) in this run.
    tools_used: list[str] = Field(default_factory=list)
    # Sources the tools found (chats, pages, files), listed under the answer.
    sources: list[Any] = Field(default_factory=list)
    # Hosts on this machine or the local network that read_web_page may read (Settings).
    web_allowed_hosts: tuple[str, ...] = ()
    # Public tool name -> (tool key, label, where it comes from) for the approval cards.
    tool_labels: dict[str, tuple[str, str, str]] = Field(default_factory=dict)
