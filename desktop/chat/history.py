"""What a turn sends of the thread: the newest items that fit the budget, and our own ids for
the assistant messages that stream back."""

from __future__ import annotations

from collections.abc import Callable

from chatkit.store import Store
from chatkit.types import (
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    ClientToolCallItem,
    ThreadItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemRemovedEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
    UserMessageTextContent,
)

from desktop.context import RequestContext
from desktop.settings.config import ProviderConfig


def user_text(item: UserMessageItem) -> str:
    return " ".join(p.text for p in item.content if isinstance(p, UserMessageTextContent)).strip()


def item_chars(item: ThreadItem) -> int:
    if isinstance(item, UserMessageItem):
        return len(user_text(item)) + 1000 * len(item.attachments)
    if isinstance(item, AssistantMessageItem):
        return sum(len(p.text) for p in item.content)
    return 200


class History:
    def __init__(self, store: Store[RequestContext]) -> None:
        self._store = store

    async def load(
        self, thread: ThreadMetadata, cfg: ProviderConfig, context: RequestContext
    ) -> list[ThreadItem]:
        """The newest items that fit the budget, oldest first. The newest item always fits."""
        page = await self._store.load_thread_items(
            thread.id, None, cfg.history_max_items, "desc", context
        )
        kept: list[ThreadItem] = []
        budget = cfg.history_max_chars
        for item in page.data:
            budget -= item_chars(item)
            if kept and budget < 0:
                break
            kept.append(item)
        kept.reverse()
        return kept


class AssistantIds:
    """Gives each streamed assistant message and client tool call an id of ours.

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
        if isinstance(event, ThreadItemDoneEvent) and isinstance(event.item, ClientToolCallItem):
            # On Chat Completions every call arrives as `__fake_id__`: the second call in a
            # thread would overwrite the first.
            return ThreadItemDoneEvent(item=event.item.model_copy(update={"id": self._new_id()}))
        if isinstance(event, ThreadItemRemovedEvent) and event.item_id in self._live:
            return ThreadItemRemovedEvent(item_id=self._live.pop(event.item_id))
        return event
