"""The ChatKit server: runs the agent for each turn and turns failures into chat messages."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

from agents import Agent, Runner
from chatkit.actions import Action
from chatkit.agents import AgentContext, stream_agent_response
from chatkit.errors import CustomStreamError
from chatkit.server import ChatKitServer, NonStreamingResult, StreamingResult
from chatkit.store import NotFoundError
from chatkit.types import (
    AudioInput,
    ChatKitReq,
    FeedbackKind,
    HiddenContextItem,
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
    is_streaming_req,
)

from desktop.chat.converter import DesktopConverter, sendable_attachments
from desktop.chat.history import AssistantIds, History, user_text
from desktop.chat.protocol import parse_request
from desktop.chat.provider import ProviderClients, translate
from desktop.chat.titles import Titles, clean_title, fallback_title
from desktop.context import RequestContext
from desktop.errors import DesktopError, InvalidRequestError, NotFound
from desktop.settings.config import ProviderConfig
from desktop.store.chat_store import SQLiteStore

log = logging.getLogger(__name__)


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
        cfg = self._config()
        title_task = self.titles.start(thread, input_user_message, cfg)
        ids = AssistantIds(lambda: self.store.generate_item_id("message", thread, context))
        try:
            history = await self.history.load(thread, cfg, context)
            sizes = await self.db.attachment_sizes(
                [a.id for item in history for a in getattr(item, "attachments", None) or []]
            )
            converter = DesktopConverter(self.db, sendable_attachments(history, sizes))
            agent_input = await converter.to_agent_input(history)
            run_config = self.clients.run_config(cfg)
            agent = Agent[AgentContext[RequestContext]](
                name="Assistant", instructions=cfg.system_prompt, model=cfg.model
            )
            agent_context = AgentContext[RequestContext](
                thread=thread, store=self.store, request_context=context
            )
            result = Runner.run_streamed(
                agent, agent_input, context=agent_context, run_config=run_config
            )
            async for event in stream_agent_response(agent_context, result):
                yield ids(event)
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
            if error is None:
                log.exception("reply failed")
                raise
            log.warning("reply failed: %s (%s)", error.code, type(exc).__name__)
            raise CustomStreamError(error.message, allow_retry=error.allow_retry) from exc
        if title_task is not None:
            await self.titles.finish(thread, title_task, context)

    async def aclose(self) -> None:
        """Cancel background work and close provider connections."""
        await self.titles.aclose()
        await self.clients.aclose()

    # ------------------------------------------------------------------ other hooks

    async def add_feedback(
        self, thread_id: str, item_ids: list[str], feedback: FeedbackKind, context: RequestContext
    ) -> None:
        await self.db.save_feedback(thread_id, item_ids, feedback)

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
