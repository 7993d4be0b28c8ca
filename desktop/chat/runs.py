"""Running the agent for a turn: building it with this chat's tools (built-in and MCP, as the
approval rules allow), streaming the run into the chat, pausing it for approvals and resuming it,
and turning failures into chat errors."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any, cast
from urllib.parse import urlsplit

import openai
from agents import Agent, Runner, RunState
from chatkit.agents import stream_agent_response
from chatkit.errors import CustomStreamError
from chatkit.types import (
    DurationSummary,
    NoticeEvent,
    ProgressUpdateEvent,
    ThreadItemDoneEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    WorkflowItem,
)

from desktop.chat import page_calls
from desktop.chat.activity import ToolActivity, show_pending_widgets, tool_error_message
from desktop.chat.agent import build_agent, builtin_labels
from desktop.chat.agent_context import DesktopAgentContext
from desktop.chat.approval_flow import ApprovalFlow
from desktop.chat.approvals import ToolRules
from desktop.chat.history import AssistantIds
from desktop.chat.images import StoredImages
from desktop.chat.paused_state import resumable
from desktop.chat.provider import (
    ProviderClients,
    rejects_tools,
    scrubbed,
    stopped_endless,
    translate,
)
from desktop.chat.reply_cap import MAX_REPLY_CHARS, MAX_REPLY_PIECES, ReplyCap, cut_note
from desktop.chat.sources import AnnotationSafeResult, with_sources
from desktop.chat.tools.mcp_tools import function_tool as mcp_function_tool
from desktop.chat.tools.mcp_tools import label as mcp_label
from desktop.chat.tools.registry import ToolRegistry
from desktop.context import RequestContext
from desktop.mcp.hub import McpHub
from desktop.settings.config import ProviderConfig
from desktop.store.approvals import ClaimedRun
from desktop.store.assistants import Assistant
from desktop.store.chat_store import SQLiteStore

log = logging.getLogger(__name__)
# How long a turn waits for MCP servers still starting; later turns get them once they are up.
MCP_WAIT_S = 15.0


def _closed(item: WorkflowItem) -> WorkflowItem:
    if item.workflow.summary is None:
        seconds = int((datetime.now() - item.created_at).total_seconds())
        item.workflow.summary = DurationSummary(duration=seconds)
    item.workflow.expanded = False
    return item


class AgentRuns:
    def __init__(
        self,
        store: SQLiteStore,
        clients: ProviderClients,
        tools: ToolRegistry,
        mcp: McpHub | None,
        approvals: ApprovalFlow,
    ) -> None:
        self._store = store
        self.clients = clients
        self.tools = tools
        self.mcp = mcp
        self._approvals = approvals
        self._activity = ToolActivity()
        # (characters, pieces) one turn may stream; see reply_cap.
        self.reply_cap = (MAX_REPLY_CHARS, MAX_REPLY_PIECES)
        # (base URL, model) pairs that refused a request offering tools: later turns skip them.
        self._toolless: set[tuple[str, str]] = set()

    async def agent(
        self,
        thread: ThreadMetadata,
        assistant: Assistant,
        cfg: ProviderConfig,
        with_tools: bool,
        context: RequestContext,
    ) -> tuple[Agent[DesktopAgentContext], DesktopAgentContext]:
        rules = ToolRules(dict(cfg.tool_policies), cfg.always_ask_tools)
        offered = (
            await self.mcp.offered(assistant.tools, wait_s=MCP_WAIT_S)
            if self.mcp and with_tools
            else []
        )
        keys = {o.public_name: mcp_label(o)[0] for o in offered}
        offered = [o for o in offered if not rules.blocked(keys[o.public_name])]
        agent = build_agent(
            assistant,
            cfg.model,
            self.tools,
            with_tools=with_tools,
            hosted=cfg.runs_hosted_tools,
            extra_tools=[
                mcp_function_tool(o, asks=rules.asks(keys[o.public_name], thread)) for o in offered
            ],
            blocked=rules.blocked,
            asks=lambda name: rules.asks(name, thread),
            allowed=rules.explicitly_allowed,
        )
        ac = DesktopAgentContext(
            thread=thread,
            store=self._store,
            request_context=context,
            web_allowed_hosts=cfg.web_allowed_hosts,
            tool_labels=builtin_labels() | {o.public_name: mcp_label(o) for o in offered},
        )
        return agent, ac

    async def execute(
        self,
        thread: ThreadMetadata,
        assistant: Assistant,
        cfg: ProviderConfig,
        context: RequestContext,
        ids: AssistantIds,
        run_input: Callable[[Agent[Any], DesktopAgentContext], Awaitable[Any]],
        *,
        fresh: bool,
        failed: Callable[[], None] = lambda: None,
    ) -> AsyncIterator[ThreadStreamEvent]:
        """One run of the agent, streamed into the chat; paused for approvals if a tool call
        waits for the user. `fresh`: a new turn (not a resumed one), which may be asked again
        without tools if the model refuses them. `failed` runs first when the run fails."""
        with_tools = bool(assistant.tools) and (cfg.base_url, cfg.model) not in self._toolless
        ac: DesktopAgentContext | None = None
        cap = ReplyCap(*self.reply_cap)
        try:
            run_config = dataclasses.replace(
                self.clients.run_config(cfg),
                tool_not_found_behavior="return_error_to_model",
                tool_error_formatter=tool_error_message,
            )
            starting = self.mcp.starting(assistant.tools) if self.mcp and with_tools else []
            if starting:
                yield ProgressUpdateEvent(
                    icon="bolt", text=f"Starting tool servers: {', '.join(starting)}…"
                )
            while True:
                agent, ac = await self.agent(thread, assistant, cfg, with_tools, context)
                result = Runner.run_streamed(
                    agent,
                    await run_input(agent, ac),
                    context=ac,
                    run_config=run_config,
                    hooks=self._activity,
                )
                try:
                    safe = AnnotationSafeResult(result).as_result()
                    images = StoredImages(self._store.attachments, thread.id, context)
                    stream = cast(
                        AsyncGenerator[ThreadStreamEvent, None],
                        stream_agent_response(ac, safe, converter=images),
                    )
                    async with contextlib.aclosing(stream) as events:
                        async for event in events:
                            event = with_sources(ids(event), ac.sources)
                            if cap.passes(event):
                                result.cancel()
                                for done in cap.cut():
                                    yield done
                                yield NoticeEvent(level="warning", message=cut_note())
                                break
                            page_calls.note_issued(thread, event)
                            yield event
                except (asyncio.CancelledError, GeneratorExit):
                    # Stopped (or the app is quitting): the model must stop too. The SDK stops
                    # it only when the stop lands while it waits for the next event.
                    result.cancel()
                    raise
                except openai.BadRequestError as exc:
                    untouched = not ids.streamed_text and not ac.tools_used
                    if not (fresh and with_tools and untouched and rejects_tools(exc)):
                        raise
                    # Some local models refuse any request that offers tools: answer without.
                    self._toolless.add((cfg.base_url, cfg.model))
                    with_tools = False
                    yield NoticeEvent(level="info", message=self._toolless_notice(cfg))
                    continue
                break
            await show_pending_widgets(ac)
            if result.interruptions:
                async for event in self._approvals.pause(
                    thread, result, ac, assistant_id=assistant.id, model=cfg.model, context=context
                ):
                    yield event
        except (asyncio.CancelledError, CustomStreamError):
            raise
        except Exception as exc:
            if stopped_endless(exc) and ac is not None:
                # The reading stopped ahead of the chat: keep what the chat had, as a cut.
                for done in cap.cut():
                    yield done
                if ac.workflow_item is not None:
                    yield ThreadItemDoneEvent(item=_closed(ac.workflow_item))
                yield NoticeEvent(level="warning", message=cut_note())
                return
            error = translate(exc, cfg, streamed=ids.streamed_text)
            failed()
            if ac is not None and ac.workflow_item is not None:
                # Keep the steps that ran before the failure.
                yield ThreadItemDoneEvent(item=_closed(ac.workflow_item))
            if error is None:
                log.exception("reply failed")
                raise
            # The cause in the log, not only its type: "UserError" alone says nothing.
            cause = scrubbed(str(exc), cfg.api_key, limit=500)
            log.warning("reply failed: %s (%s: %s)", error.code, type(exc).__name__, cause)
            raise CustomStreamError(error.message, allow_retry=error.allow_retry) from exc

    @staticmethod
    def _toolless_notice(cfg: ProviderConfig) -> str:
        host = urlsplit(cfg.base_url).netloc or cfg.base_url
        return (
            f"The model {cfg.model} at {host} doesn't accept tools, so it answered without them "
            "(searching your chats, and the other tools of this assistant, are off for it "
            "until the app restarts)."
        )

    async def resume(
        self,
        thread: ThreadMetadata,
        run: ClaimedRun,
        assistant: Assistant,
        cfg: ProviderConfig,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        """Go on with a paused run, with the user's decisions applied."""
        ids = AssistantIds(lambda: self._store.generate_item_id("message", thread, context))

        async def paused_state(agent: Agent[Any], ac: DesktopAgentContext) -> Any:
            try:
                state = await RunState.from_string(
                    agent, resumable(run.state), context_deserializer=lambda _: ac
                )
            except Exception as exc:
                log.warning("a paused run couldn't resume: %s", type(exc).__name__)
                raise CustomStreamError(
                    "The paused reply couldn't go on: its tools are no longer available (a "
                    "server stopped, or the assistant changed). Send your message again.",
                    allow_retry=False,
                ) from exc
            ApprovalFlow.apply(state, run)
            return state

        async for event in self.execute(
            thread, assistant, cfg, context, ids, paused_state, fresh=False
        ):
            yield event
