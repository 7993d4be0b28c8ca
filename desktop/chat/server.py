"""The ChatKit server: runs the agent for each turn and turns failures into chat messages."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import openai
from agents import Agent, Runner, RunState
from chatkit.actions import Action
from chatkit.agents import stream_agent_response
from chatkit.errors import CustomStreamError
from chatkit.server import ChatKitServer, NonStreamingResult, StreamingResult
from chatkit.store import NotFoundError
from chatkit.types import (
    AudioInput,
    ChatKitReq,
    DurationSummary,
    FeedbackKind,
    HiddenContextItem,
    NoticeEvent,
    SyncCustomActionResponse,
    ThreadItemDoneEvent,
    ThreadMetadata,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsCustomActionReq,
    ThreadsRetryAfterItemReq,
    ThreadStreamEvent,
    ThreadsUpdateReq,
    TranscriptionResult,
    UserMessageInput,
    UserMessageItem,
    UserMessageTextContent,
    WidgetItem,
    WorkflowItem,
    is_streaming_req,
)

from desktop.chat.activity import ToolActivity, show_pending_widgets, tool_error_message
from desktop.chat.agent import build_agent, builtin_labels
from desktop.chat.agent_context import DesktopAgentContext
from desktop.chat.approval_cards import ACTION as APPROVAL_ACTION
from desktop.chat.approval_flow import ApprovalFlow
from desktop.chat.approvals import ToolRules
from desktop.chat.choices import ChatChoice
from desktop.chat.converter import DesktopConverter, sendable_attachments
from desktop.chat.history import AssistantIds, History, user_text
from desktop.chat.images import StoredImages
from desktop.chat.models import ModelCatalog
from desktop.chat.protocol import parse_request
from desktop.chat.provider import ProviderClients, rejects_tools, translate
from desktop.chat.sources import AnnotationSafeResult, with_sources
from desktop.chat.titles import Titles, clean_title, fallback_title
from desktop.chat.tools.catalog import CATALOG
from desktop.chat.tools.mcp_tools import function_tool as mcp_function_tool
from desktop.chat.tools.mcp_tools import label as mcp_label
from desktop.chat.tools.registry import ToolRegistry
from desktop.context import RequestContext
from desktop.errors import DesktopError, InvalidRequestError, NotFound
from desktop.mcp.hub import McpHub
from desktop.settings.config import ProviderConfig
from desktop.store.approvals import ClaimedRun
from desktop.store.assistants import Assistant, Assistants
from desktop.store.chat_store import SQLiteStore

log = logging.getLogger(__name__)


def _closed(item: WorkflowItem) -> WorkflowItem:
    if item.workflow.summary is None:
        seconds = int((datetime.now() - item.created_at).total_seconds())
        item.workflow.summary = DurationSummary(duration=seconds)
    item.workflow.expanded = False
    return item


class DesktopChatServer(ChatKitServer[RequestContext]):
    def __init__(
        self,
        store: SQLiteStore,
        config: Callable[[], ProviderConfig],
        clients: ProviderClients | None = None,
        mcp: McpHub | None = None,
    ) -> None:
        super().__init__(store, store.attachments)
        self.db = store
        self._config = config
        self.clients = clients or ProviderClients()
        self.titles = Titles(store, self.clients)
        self.history = History(store)
        self.assistants = Assistants(store.database, CATALOG, lambda: self._config().system_prompt)
        self.models = ModelCatalog(self.clients)
        self.tools = ToolRegistry()
        self.mcp = mcp
        self.approval_flow = ApprovalFlow(store)
        self._activity = ToolActivity()
        # (base URL, model) pairs that refused a request offering tools: later turns skip them.
        self._toolless: set[tuple[str, str]] = set()

    # ------------------------------------------------------------------ requests

    async def process(
        self, request: str | bytes | bytearray, context: RequestContext
    ) -> StreamingResult | NonStreamingResult:
        return await self.handle(
            parse_request(bytes(request) if isinstance(request, bytearray) else request), context
        )

    async def handle(
        self, request: ChatKitReq, context: RequestContext
    ) -> StreamingResult | NonStreamingResult:
        """Run a parsed request. Problems found before a stream starts raise DesktopError."""
        await self._check(request)
        if isinstance(request, ThreadsUpdateReq):
            request.params.title = clean_title(request.params.title)
        if is_streaming_req(request):
            return StreamingResult(self._process_streaming(request, context))
        return NonStreamingResult(await self._process_non_streaming(request, context))

    async def _check(self, request: ChatKitReq) -> None:
        """Refuse bad references up front, so they get a 4xx instead of a broken stream."""
        ctx = RequestContext()
        try:
            if isinstance(request, ThreadsCreateReq | ThreadsAddUserMessageReq):
                if isinstance(request, ThreadsAddUserMessageReq):
                    await self.store.load_thread(request.params.thread_id, ctx)
                await self._check_input(request.params.input)
                options = request.params.input.inference_options
                if options.model:
                    await self.models.check(self._config(), options.model)
            elif isinstance(request, ThreadsRetryAfterItemReq):
                item = await self.store.load_item(
                    request.params.thread_id, request.params.item_id, ctx
                )
                if not isinstance(item, UserMessageItem):
                    raise InvalidRequestError("Only a user message can be retried.")
            elif isinstance(request, ThreadsCustomActionReq):
                await self.store.load_thread(request.params.thread_id, ctx)
        except NotFoundError as exc:
            raise NotFound(str(exc) + ".") from exc

    async def _check_input(self, message: UserMessageInput) -> None:
        has_text = any(
            not isinstance(p, UserMessageTextContent) or p.text.strip() for p in message.content
        )
        if not has_text and not message.attachments:
            raise InvalidRequestError("The message is empty.")
        for attachment_id in message.attachments:
            try:
                await self.db.attachments.attachment_file(attachment_id)
            except (NotFoundError, DesktopError) as exc:
                raise InvalidRequestError(
                    f"Attachment {attachment_id[:80]} was not found or its upload did not finish."
                ) from exc

    # ------------------------------------------------------------------ turns

    async def respond(
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        choice = ChatChoice.of(thread)
        if input_user_message is not None:
            async for event in self.approval_flow.expire(thread, context):
                yield event
            choice = choice.picked(input_user_message.inference_options)
            choice.save(thread)  # saved with the thread at the end of the turn
        assistant = await self.assistants.resolve(choice.assistant_id)
        cfg = self._config_for(choice.model or assistant.model)
        title_task = self.titles.start(thread, input_user_message, cfg)
        ids = AssistantIds(lambda: self.store.generate_item_id("message", thread, context))
        prepared: list[Any] = []

        async def history_input(agent: Agent[Any], ac: DesktopAgentContext) -> Any:
            if not prepared:  # once, even if the turn is asked again without tools
                history = await self.history.load(thread, cfg, context)
                sizes = await self.db.attachment_sizes(
                    [a.id for item in history for a in getattr(item, "attachments", None) or []]
                )
                converter = DesktopConverter(self.db, sendable_attachments(history, sizes))
                prepared.append(await converter.to_agent_input(history))
            return prepared[0]

        def failed() -> None:
            if title_task is not None:
                title_task.cancel()
                if input_user_message is not None and thread.title is None:
                    thread.title = fallback_title(user_text(input_user_message))

        try:
            async for event in self._execute(
                thread, assistant, cfg, context, ids, history_input, fresh=True, failed=failed
            ):
                yield event
        except asyncio.CancelledError:
            # Stopped by the user: the title can still arrive on its own.
            if title_task is not None:
                self.titles.keep(thread.id, title_task, context)
            raise
        except Exception:
            failed()
            raise
        if title_task is not None:
            await self.titles.finish(thread, title_task, context)

    def _config_for(self, model: str | None) -> ProviderConfig:
        base = self._config()
        return dataclasses.replace(base, model=model or base.model)

    async def _agent(
        self,
        thread: ThreadMetadata,
        assistant: Assistant,
        cfg: ProviderConfig,
        with_tools: bool,
        context: RequestContext,
    ) -> tuple[Agent[DesktopAgentContext], DesktopAgentContext]:
        rules = ToolRules(dict(cfg.tool_policies), cfg.always_ask_tools)
        offered = await self.mcp.offered(assistant.tools) if self.mcp and with_tools else []
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
        )
        ac = DesktopAgentContext(
            thread=thread,
            store=self.store,
            request_context=context,
            web_allowed_hosts=cfg.web_allowed_hosts,
            tool_labels=builtin_labels() | {o.public_name: mcp_label(o) for o in offered},
        )
        return agent, ac

    async def _execute(
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
        try:
            run_config = dataclasses.replace(
                self.clients.run_config(cfg),
                tool_not_found_behavior="return_error_to_model",
                tool_error_formatter=tool_error_message,
            )
            while True:
                agent, ac = await self._agent(thread, assistant, cfg, with_tools, context)
                result = Runner.run_streamed(
                    agent,
                    await run_input(agent, ac),
                    context=ac,
                    run_config=run_config,
                    hooks=self._activity,
                )
                try:
                    safe = AnnotationSafeResult(result).as_result()
                    images = StoredImages(self.db.attachments, thread.id, context)
                    async for event in stream_agent_response(ac, safe, converter=images):
                        yield with_sources(ids(event), ac.sources)
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
                async for event in self.approval_flow.pause(
                    thread, result, ac, assistant_id=assistant.id, model=cfg.model, context=context
                ):
                    yield event
        except (asyncio.CancelledError, CustomStreamError):
            raise
        except Exception as exc:
            error = translate(exc, cfg, streamed=ids.streamed_text)
            failed()
            if ac is not None and ac.workflow_item is not None:
                # Keep the steps that ran before the failure.
                yield ThreadItemDoneEvent(item=_closed(ac.workflow_item))
            if error is None:
                log.exception("reply failed")
                raise
            log.warning("reply failed: %s (%s)", error.code, type(exc).__name__)
            raise CustomStreamError(error.message, allow_retry=error.allow_retry) from exc

    async def _resume(
        self, thread: ThreadMetadata, run: ClaimedRun, context: RequestContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        """Go on with a run the user answered every approval card of."""
        assistant = await self.assistants.resolve(run.assistant_id)
        cfg = self._config_for(run.model or assistant.model)
        ids = AssistantIds(lambda: self.store.generate_item_id("message", thread, context))

        async def paused_state(agent: Agent[Any], ac: DesktopAgentContext) -> Any:
            try:
                state = await RunState.from_string(
                    agent, run.state, context_deserializer=lambda _: ac
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

        async for event in self._execute(
            thread, assistant, cfg, context, ids, paused_state, fresh=False
        ):
            yield event

    @staticmethod
    def _toolless_notice(cfg: ProviderConfig) -> str:
        host = urlsplit(cfg.base_url).netloc or cfg.base_url
        return (
            f"The model {cfg.model} at {host} doesn't accept tools, so it answered without them "
            "(searching your chats, and the other tools of this assistant, are off for it "
            "until the app restarts)."
        )

    async def aclose(self) -> None:
        """Cancel background work and close provider connections."""
        await self.titles.aclose()
        await self.clients.aclose()

    # ------------------------------------------------------------------ other hooks

    async def add_feedback(
        self, thread_id: str, item_ids: list[str], feedback: FeedbackKind, context: RequestContext
    ) -> None:
        await self.db.feedback.save(thread_id, item_ids, feedback)

    async def transcribe(
        self, audio_input: AudioInput, context: RequestContext
    ) -> TranscriptionResult:
        raise InvalidRequestError("Dictation isn't available in ChatKit Desktop.")

    async def action(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        if action.type == APPROVAL_ACTION:
            events, run = await self.approval_flow.answer(thread, action.payload, sender)
            for event in events:
                yield event
            if run is not None:
                async for event in self._resume(thread, run, context):
                    yield event
            return
        # A widget action becomes context the model can see, then the assistant replies to it.
        note = HiddenContextItem(
            id=self.store.generate_item_id("message", thread, context),
            thread_id=thread.id,
            created_at=datetime.now(),
            content=(
                f"The user performed the action '{action.type}' with payload "
                f"{action.payload!r}" + (f" on widget {sender.id}." if sender else ".")
            ),
        )
        yield ThreadItemDoneEvent(item=note)
        async for event in self.respond(thread, None, context):
            yield event

    async def sync_action(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: RequestContext,
    ) -> SyncCustomActionResponse:
        return SyncCustomActionResponse(updated_item=None)
