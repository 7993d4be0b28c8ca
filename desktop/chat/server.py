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
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    AudioInput,
    ChatKitReq,
    FeedbackKind,
    HiddenContextItem,
    SyncCustomActionResponse,
    ThreadItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemRemovedEvent,
    ThreadItemUpdatedEvent,
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
from desktop.chat.protocol import parse_request
from desktop.chat.provider import ProviderClients, translate
from desktop.context import RequestContext
from desktop.errors import DesktopError, InvalidRequestError, NotFound
from desktop.settings.config import ProviderConfig
from desktop.store.chat_store import SQLiteStore

log = logging.getLogger(__name__)

TITLE_INSTRUCTIONS = (
    "Write a short title (at most 6 words) for a conversation that starts with the user's "
    "message below. Reply with the title only: no quotes, no trailing punctuation."
)
# How long the end of a reply waits for a title still being generated, so that it can be sent
# in the same stream. The reply text itself never waits.
TITLE_GRACE_S = 1.0


# Bidirectional-text controls can make a title display as something else (U+202E reverses
# what follows); control characters have no place in a one-line title.
_TITLE_JUNK = dict.fromkeys(
    [
        *range(0x00, 0x20),
        0x7F,
        0x061C,
        0x200E,
        0x200F,
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
    ],
    " ",
)


def clean_title(title: str, limit: int = 200) -> str:
    return " ".join(title.translate(_TITLE_JUNK).split())[:limit]


def fallback_title(text: str, words: int = 6, limit: int = 60) -> str:
    first = " ".join(clean_title(text, 10_000).split()[:words])
    if len(first) > limit:
        first = first[: limit - 1].rstrip() + "…"
    return first or "New chat"


def _user_text(item: UserMessageItem) -> str:
    return " ".join(p.text for p in item.content if isinstance(p, UserMessageTextContent)).strip()


def _item_chars(item: ThreadItem) -> int:
    if isinstance(item, UserMessageItem):
        return len(_user_text(item)) + 1000 * len(item.attachments)
    if isinstance(item, AssistantMessageItem):
        return sum(len(p.text) for p in item.content)
    return 200


class _AssistantIds:
    """Gives each streamed assistant message an id of ours.

    Chat Completions streams every message as `__fake_id__`, and Responses ids are the provider's;
    neither is guaranteed unique in our store, so every message gets a fresh id on the way out.
    """

    def __init__(self, new_id: Callable[[], str]) -> None:
        self._new_id = new_id
        self._live: dict[str, str] = {}
        self.streamed_text = False

    def __call__(self, event: ThreadStreamEvent) -> ThreadStreamEvent:
        if isinstance(event, ThreadItemAddedEvent) and isinstance(event.item, AssistantMessageItem):
            ours = self._new_id()
            self._live[event.item.id] = ours
            return ThreadItemAddedEvent(item=event.item.model_copy(update={"id": ours}))
        if isinstance(event, ThreadItemUpdatedEvent) and event.item_id in self._live:
            if (
                isinstance(event.update, AssistantMessageContentPartTextDelta)
                and event.update.delta
            ):
                self.streamed_text = True
            # In place: this runs once per streamed token.
            event.item_id = self._live[event.item_id]
            return event
        if isinstance(event, ThreadItemDoneEvent) and isinstance(event.item, AssistantMessageItem):
            ours = self._live.pop(event.item.id, "") or self._new_id()
            return ThreadItemDoneEvent(item=event.item.model_copy(update={"id": ours}))
        if isinstance(event, ThreadItemRemovedEvent) and event.item_id in self._live:
            return ThreadItemRemovedEvent(item_id=self._live.pop(event.item_id))
        return event


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
        self._background: set[asyncio.Task[None]] = set()

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
        title_task = self._start_title(thread, input_user_message, cfg)
        ids = _AssistantIds(lambda: self.store.generate_item_id("message", thread, context))
        try:
            history = await self._history(thread, cfg, context)
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
                self._keep_title(thread.id, title_task, context)
            raise
        except Exception as exc:
            error = translate(exc, cfg, streamed=ids.streamed_text)
            if title_task is not None:
                title_task.cancel()
                if input_user_message is not None and thread.title is None:
                    thread.title = fallback_title(_user_text(input_user_message))
            if error is None:
                log.exception("reply failed")
                raise
            log.warning("reply failed: %s (%s)", error.code, type(exc).__name__)
            raise CustomStreamError(error.message, allow_retry=error.allow_retry) from exc
        if title_task is not None:
            await self._finish_title(thread, title_task, context)

    async def _history(
        self, thread: ThreadMetadata, cfg: ProviderConfig, context: RequestContext
    ) -> list[ThreadItem]:
        """The newest items that fit the budget, oldest first. The newest item always fits."""
        page = await self.store.load_thread_items(
            thread.id, None, cfg.history_max_items, "desc", context
        )
        kept: list[ThreadItem] = []
        budget = cfg.history_max_chars
        for item in page.data:
            budget -= _item_chars(item)
            if kept and budget < 0:
                break
            kept.append(item)
        kept.reverse()
        return kept

    # ------------------------------------------------------------------ titles

    def _start_title(
        self, thread: ThreadMetadata, message: UserMessageItem | None, cfg: ProviderConfig
    ) -> asyncio.Task[str] | None:
        if thread.title is not None or message is None:
            return None
        text = _user_text(message)
        if not cfg.generate_titles or not text:
            return None
        return asyncio.create_task(self._generate_title(text, cfg))

    async def _generate_title(self, text: str, cfg: ProviderConfig) -> str:
        try:
            agent = Agent(name="Titler", instructions=TITLE_INSTRUCTIONS, model=cfg.model)
            result = await Runner.run(
                agent, text[:2000], run_config=self.clients.run_config(cfg), max_turns=1
            )
            title = clean_title(str(result.final_output)).strip("\"'“”. ")
        except (Exception, asyncio.CancelledError) as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            reason = translate(exc, cfg, streamed=False)
            log.info("title generation failed: %s", reason.code if reason else type(exc).__name__)
            title = ""
        return title[:80] if title else fallback_title(text)

    async def _finish_title(
        self, thread: ThreadMetadata, task: asyncio.Task[str], context: RequestContext
    ) -> None:
        done, _ = await asyncio.wait({task}, timeout=TITLE_GRACE_S)
        if done:
            # Setting it here lets chatkit save it and send thread.updated in this stream.
            thread.title = task.result()
            return
        self._keep_title(thread.id, task, context)

    def _keep_title(self, thread_id: str, task: asyncio.Task[str], context: RequestContext) -> None:
        """Let a title still being generated land in the store; clients see it on their next list."""
        saver = asyncio.create_task(self._store_title_later(thread_id, task, context))
        self._background.add(saver)
        saver.add_done_callback(self._background.discard)

    async def _store_title_later(
        self, thread_id: str, task: asyncio.Task[str], context: RequestContext
    ) -> None:
        try:
            title = await task
            thread = await self.store.load_thread(thread_id, context)
            if thread.title is None:
                thread.title = title
                await self.store.save_thread(thread, context)
        except NotFoundError:
            pass
        except Exception:
            log.exception("saving a late title failed")

    async def aclose(self) -> None:
        """Cancel background work and close provider connections."""
        tasks = list(self._background)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
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
