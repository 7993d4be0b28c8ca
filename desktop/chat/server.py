"""The ChatKit server: runs the agent for each turn and turns failures into chat messages."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime
from typing import Any

from agents import Agent
from chatkit.actions import Action
from chatkit.server import ChatKitServer, NonStreamingResult, StreamingResult
from chatkit.store import NotFoundError
from chatkit.types import (
    AudioInput,
    ChatKitReq,
    ClientToolCallItem,
    FeedbackKind,
    HiddenContextItem,
    NoticeEvent,
    SyncCustomActionResponse,
    ThreadItemDoneEvent,
    ThreadMetadata,
    ThreadsAddClientToolOutputReq,
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
    is_streaming_req,
)

from desktop.chat import page_calls
from desktop.chat.agent_context import DesktopAgentContext
from desktop.chat.approval_cards import ACTION as APPROVAL_ACTION
from desktop.chat.approval_flow import ApprovalFlow
from desktop.chat.choices import ChatChoice
from desktop.chat.converter import DesktopConverter, sendable_attachments
from desktop.chat.history import AssistantIds, History
from desktop.chat.mentions import Mentions
from desktop.chat.model_choice import ModelChooser
from desktop.chat.models import ModelCatalog
from desktop.chat.protocol import parse_request
from desktop.chat.provider import ProviderClients
from desktop.chat.runs import AgentRuns
from desktop.chat.titles import Titles, clean_title
from desktop.chat.tools.catalog import CATALOG
from desktop.chat.tools.registry import ToolRegistry
from desktop.context import RequestContext
from desktop.errors import DesktopError, InvalidRequestError, NotFound
from desktop.mcp.hub import McpHub
from desktop.settings.config import ProviderConfig
from desktop.store.approvals import ClaimedRun
from desktop.store.assistants import Assistants
from desktop.store.chat_store import SQLiteStore

log = logging.getLogger(__name__)


class DesktopChatServer(ChatKitServer[RequestContext]):
    def __init__(
        self,
        store: SQLiteStore,
        config: Callable[[], ProviderConfig],
        clients: ProviderClients | None = None,
        mcp: McpHub | None = None,
        *,
        move_default: Callable[[str, str], bool] | None = None,
        today: Callable[[], date] = date.today,
    ) -> None:
        super().__init__(store, store.attachments)
        self.db = store
        self._config = config
        self.clients = clients or ProviderClients()
        self.titles = Titles(store, self.clients)
        self.history = History(store)
        self.assistants = Assistants(store.database, CATALOG, lambda: self._config().system_prompt)
        self.models = ModelCatalog(self.clients)
        self.chooser = ModelChooser(self.models, config, store.database, move_default, today)
        self.approval_flow = ApprovalFlow(store)
        self.runs = AgentRuns(store, self.clients, ToolRegistry(), mcp, self.approval_flow)
        self.mentions = Mentions(store, mcp)

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
        if isinstance(request, ThreadsCreateReq | ThreadsAddUserMessageReq):
            # Once, as the user sends it: later turns reuse what was read now.
            await self.mentions.resolve(request.params.input)
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
            elif isinstance(request, ThreadsAddClientToolOutputReq):
                thread = await self.store.load_thread(request.params.thread_id, ctx)
                newest = await self.store.load_thread_items(thread.id, None, 1, "desc", ctx)
                last = next((i for i in newest.data if isinstance(i, ClientToolCallItem)), None)
                page_calls.check_answer(thread, last)
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
        model, notice = await self.chooser.for_turn(thread, choice, assistant.model)
        if notice:
            yield NoticeEvent(level="info", message=notice)
        cfg = self._config_for(model)
        pending_title = self.titles.start(thread, input_user_message, cfg)
        ids = AssistantIds(lambda: self.store.generate_item_id("message", thread, context))
        prepared: list[Any] = []

        async def history_input(agent: Agent[Any], ac: DesktopAgentContext) -> Any:
            if not prepared:  # once, even if the turn is asked again without tools
                history = await self.history.load(thread, cfg, context)
                sizes = await self.db.attachment_sizes(
                    [a.id for item in history for a in getattr(item, "attachments", None) or []]
                )
                sendable = sendable_attachments(history, sizes)
                converter = DesktopConverter(self.db, sendable)
                prepared.append(await converter.to_agent_input(history))
            return prepared[0]

        def failed() -> None:
            if pending_title is not None:
                pending_title.task.cancel()
                if thread.title is None:
                    thread.title = pending_title.fallback

        try:
            async for event in self.runs.execute(
                thread, assistant, cfg, context, ids, history_input, fresh=True, failed=failed
            ):
                yield event
        except asyncio.CancelledError:
            # Stopped by the user: the title can still arrive on its own.
            if pending_title is not None:
                self.titles.keep(thread.id, pending_title, context)
            raise
        except Exception:
            failed()
            raise
        if pending_title is not None:
            await self.titles.finish(thread, pending_title, context)

    def _config_for(self, model: str | None) -> ProviderConfig:
        base = self._config()
        return dataclasses.replace(base, model=model or base.model)

    async def _resume(
        self, thread: ThreadMetadata, run: ClaimedRun, context: RequestContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        """Go on with a run the user answered every approval card of."""
        assistant = await self.assistants.resolve(run.assistant_id)
        use = await self.chooser.choose(run.model or assistant.model or self._config().model)
        if use.notice:  # the paused run's model shut down or left meanwhile
            yield NoticeEvent(level="info", message=use.notice)
        cfg = self._config_for(use.model)
        async for event in self.runs.resume(thread, run, assistant, cfg, context):
            yield event

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
