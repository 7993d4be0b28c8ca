"""How much one turn may stream. A provider (or a model steered by a pasted document) can send
megabytes of tiny deltas; every delta costs the SDK, chatkit and the page work on all the text
so far, so a reply without an end would take minutes of CPU and gigabytes. Past the cap the
model is stopped and the reply is kept, cut, with a line saying so."""

from __future__ import annotations

from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartAdded,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemRemovedEvent,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
)

# About 50,000 tokens of text, and as many streamed pieces: more than models write in one
# answer. Pieces count too, since the cost is per piece: a provider sending one character at a
# time reaches the piece cap long before the text cap (measured: ~0.3 ms of CPU per piece).
MAX_REPLY_CHARS = 200_000
MAX_REPLY_PIECES = 50_000


def cut_note() -> str:
    return (
        "The reply was cut here: it passed what one reply may stream in this app "
        f"({MAX_REPLY_CHARS:,} characters, or {MAX_REPLY_PIECES:,} pieces). "
        "Ask for the rest in parts."
    )


class ReplyCap:
    def __init__(self, chars: int = MAX_REPLY_CHARS, pieces: int = MAX_REPLY_PIECES) -> None:
        self.chars = chars
        self.pieces = pieces
        self.total = 0
        self.count = 0
        # Messages still streaming: (the message as it was added, its text so far by part).
        self._open: dict[str, tuple[AssistantMessageItem, dict[int, list[str]]]] = {}

    def passes(self, event: ThreadStreamEvent) -> bool:
        """Follow one event; True if it would take the turn past the cap (then don't send it)."""
        if isinstance(event, ThreadItemAddedEvent) and isinstance(event.item, AssistantMessageItem):
            parts = {i: [c.text] for i, c in enumerate(event.item.content)}
            self._open[event.item.id] = (event.item, parts)
        elif isinstance(event, ThreadItemUpdatedEvent) and event.item_id in self._open:
            update = event.update
            parts = self._open[event.item_id][1]
            if isinstance(update, AssistantMessageContentPartTextDelta):
                self.total += len(update.delta)
                self.count += 1
                if self.total > self.chars or self.count > self.pieces:
                    return True
                parts.setdefault(update.content_index, []).append(update.delta)
            elif isinstance(update, AssistantMessageContentPartAdded):
                parts[update.content_index] = [update.content.text]
        elif isinstance(event, ThreadItemDoneEvent | ThreadItemRemovedEvent):
            item_id = event.item.id if isinstance(event, ThreadItemDoneEvent) else event.item_id
            self._open.pop(item_id, None)
        return False

    def cut(self) -> list[ThreadItemDoneEvent]:
        """The messages still streaming, finished with what they had and the note."""
        done = []
        for item, parts in self._open.values():
            texts = ["".join(parts[i]) for i in sorted(parts)] or [""]
            texts[-1] += f"\n\n*[{cut_note()}]*"
            content = [AssistantMessageContent(text=text) for text in texts]
            done.append(ThreadItemDoneEvent(item=item.model_copy(update={"content": content})))
        self._open.clear()
        return done
