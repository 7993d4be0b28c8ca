"""Which page-tool call a chat is waiting on. The server accepts the page's answer only for the
call it made itself in this chat (after any approval it needed), never for a pending call that
merely sits in the history: one an import, a restore or an old version left there is content,
and answering it would make the page act on it."""

from __future__ import annotations

from chatkit.types import ClientToolCallItem, ThreadMetadata, ThreadStreamEvent

from desktop.errors import InvalidRequestError

# In the thread's server-only metadata; an import keeps none of it.
_KEY = "page_call"


def note_issued(thread: ThreadMetadata, event: ThreadStreamEvent) -> None:
    """Remember a call as the server hands it to the page (saved with the thread)."""
    item = getattr(event, "item", None)
    if event.type == "thread.item.done" and isinstance(item, ClientToolCallItem):
        thread.metadata[_KEY] = item.id


def check_answer(thread: ThreadMetadata, last: ClientToolCallItem | None) -> None:
    """Refuse a page answer unless the chat's newest item is the call the server issued."""
    if last is None or last.status != "pending" or thread.metadata.get(_KEY) != last.id:
        raise InvalidRequestError("No tool call in this chat is waiting for the app's answer.")
