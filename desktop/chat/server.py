"""The ChatKit server: runs the agent for each turn and turns failures into chat messages."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import openai
from agents import Runner
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
from desktop.chat.agent import build_agent
from desktop.chat.agent_context import DesktopAgentContext
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
from desktop.chat.tools.registry import ToolRegistry
from desktop.context import RequestContext
from desktop.errors import DesktopError, InvalidRequestError, NotFound
from desktop.settings.config import ProviderConfig
from desktop.store.assistants import Assistants
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
            choice = choice.picked(input_user_message.inference_options)
            choice.save(thread)  # saved with the thread at the end of the turn
        assistant = await self.assistants.resolve(choice.assistant_id)
        base = self._config()
        cfg = dataclasses.replace(base, model=choice.model or assistant.model or base.model)
        title_task = self.titles.start(thread, input_user_message, cfg)
        ids = AssistantIds(lambda: self.store.generate_item_id("message", thread, context))
        agent_context: DesktopAgentContext | None = None
        try:
            history = await self.history.load(thread, cfg, context)
            sizes = await self.db.attachment_sizes(
                [a.id for item in history for a in getattr(item, "attachments", None) or []]
            )
            converter = DesktopConverter(self.db, sendable_attachments(history, sizes))
            agent_input = await converter.to_agent_input(history)
            run_config = dataclasses.replace(
                self.clients.run_config(cfg),
                tool_not_found_behavior="return_error_to_model",
                tool_error_formatter=tool_error_message,
            )
            with_tools = bool(assistant.tools) and (cfg.base_url, cfg.model) not in self._toolless
            while True:
                agent = build_agent(
                    assistant,
                    cfg.model,
                    self.tools,
                    with_tools=with_tools,
                    hosted=cfg.runs_hosted_tools,
                )
                agent_context = DesktopAgentContext(
                    thread=thread,
                    store=self.store,
                    request_context=context,
                    web_allowed_hosts=cfg.web_allowed_hosts,
                )
                result = Runner.run_streamed(
                    agent,
                    agent_input,
                    context=agent_context,
                    run_config=run_config,
                    hooks=self._activity,
                )
                try:
                    safe = AnnotationSafeResult(result).as_result()
                    images = StoredImages(self.db.attachments, thread.id, context)
                    async for event in stream_agent_response(agent_context, safe, converter=images):
                        yield with_sources(ids(event), agent_context.sources)
                except openai.BadRequestError as exc:
                    untouched = not ids.streamed_text and not agent_context.tools_used
                    if not (with_tools and untouched and rejects_tools(exc)):
                        raise
                    # Some local models refuse any request that offers tools: answer without.
                    self._toolless.add((cfg.base_url, cfg.model))
                    with_tools = False
                    yield NoticeEvent(level="info", message=self._toolless_notice(cfg))
                    continue
                break
            await show_pending_widgets(agent_context)
        except asyncio.CancelledError:
            # Stopped by the user: the title can still arrive on its own.
            if title_task is not None:
                self.titles.keep(thread.id, title_task, context)
            raise
        except Exception as exc:
            error = translate(exc, cfg, streamed=ids.streamed_text)
            if title_task is not None:
                title_task.cancel()
                if input_user_message is not None and thread.title is None:
                    thread.title = fallback_title(user_text(input_user_message))
            if agent_context is not None and agent_context.workflow_item is not None:
                # Keep the steps that ran before the failure.
                yield ThreadItemDoneEvent(item=_closed(agent_context.workflow_item))
            if error is None:
                log.exception("reply failed")
                raise
            log.warning("reply failed: %s (%s)", error.code, type(exc).__name__)
            raise CustomStreamError(error.message, allow_retry=error.allow_retry) from exc
        if title_task is not None:
            await self.titles.finish(thread, title_task, context)

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
