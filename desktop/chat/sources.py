"""Sources under an answer: the model's own citations, made safe to relay, and the sources this
app's tools found (chats from search_chats), attached to the answer so they are stored with it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

from agents import RunResultStreaming
from chatkit.types import (
    Annotation,
    AssistantMessageItem,
    EntitySource,
    FileSource,
    ThreadItemDoneEvent,
    ThreadStreamEvent,
    URLSource,
)

Source = URLSource | FileSource | EntitySource
_ANNOTATION_ADDED = "response.output_text.annotation.added"


class AnnotationSafeResult:
    """A streamed run whose citation events chatkit can read.

    The openai client types a streamed citation with its own copy of the annotation class, which
    chatkit's converter rejects (the turn would end in an error mid-answer). A plain dict passes
    its validation unchanged. chatkit only calls `stream_events()`.
    """

    def __init__(self, result: RunResultStreaming) -> None:
        self._result = result

    async def stream_events(self) -> AsyncIterator[Any]:
        async for event in self._result.stream_events():
            data = getattr(event, "data", None)
            if getattr(data, "type", "") == _ANNOTATION_ADDED:
                annotation = getattr(data, "annotation", None)
                if hasattr(annotation, "model_dump"):
                    data.annotation = annotation.model_dump()  # type: ignore[union-attr]
            yield event

    def as_result(self) -> RunResultStreaming:
        # stream_agent_response is typed for the SDK's result; it only uses stream_events().
        return cast(RunResultStreaming, self)


def with_sources(event: ThreadStreamEvent, sources: list[Source]) -> ThreadStreamEvent:
    """The finished answer with the tools' sources added (once each, after any it cites)."""
    if not sources or not isinstance(event, ThreadItemDoneEvent):
        return event
    item = event.item
    if not isinstance(item, AssistantMessageItem) or not item.content:
        return event
    last = item.content[-1]
    seen = {_key(a.source) for a in last.annotations}
    added = [Annotation(source=s, index=len(last.text)) for s in sources if _key(s) not in seen]
    if not added:
        return event
    content = [
        *item.content[:-1],
        last.model_copy(update={"annotations": [*last.annotations, *added]}),
    ]
    return ThreadItemDoneEvent(item=item.model_copy(update={"content": content}))


def _key(source: Source) -> str:
    if isinstance(source, URLSource):
        return f"url:{source.url}"
    if isinstance(source, EntitySource):
        return f"entity:{source.id}"
    return f"file:{source.filename}"


def chat_source(thread_id: str, title: str | None, excerpt: str, day: str) -> EntitySource:
    return EntitySource(
        id=f"chat:{thread_id}",
        title=title or "New chat",
        description=excerpt[:200],
        timestamp=day,
        group="Your chats",
        icon="book-open",
        interactive=True,
        data={"type": "chat", "thread_id": thread_id},
    )
