"""search_chats: finds earlier conversations through the full-text index. The model gets the
matching excerpts; the user sees a list of the chats, each of which opens that chat."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from agents import FunctionTool, RunContextWrapper
from chatkit.types import ProgressUpdateEvent
from chatkit.widgets import DynamicWidgetRoot

from desktop.chat.agent_context import DesktopAgentContext
from desktop.chat.sources import chat_source
from desktop.chat.tools.base import ToolProblem, define
from desktop.store.chat_store import SQLiteStore
from desktop.store.search import SearchHit

# The action a result row sends; the page handles it (it opens the chat), not the server.
OPEN_CHAT_ACTION = "chat.open"
MAX_RESULTS = 10


def _day(created_at: str) -> str:
    try:
        return datetime.fromisoformat(created_at).strftime("%Y-%m-%d")
    except ValueError:
        return created_at[:10]


def _count(n: int) -> str:
    return "1 chat matches" if n == 1 else f"{n} chats match"


def results_widget(query: str, hits: list[SearchHit]) -> DynamicWidgetRoot:
    rows: list[dict[str, Any]] = [
        {
            "type": "ListViewItem",
            "key": hit.thread_id,
            "gap": 1,
            "onClickAction": {
                "type": OPEN_CHAT_ACTION,
                "handler": "client",
                "payload": {"thread_id": hit.thread_id, "item_id": hit.item_id},
            },
            "children": [
                {
                    "type": "Col",
                    "gap": 1,
                    "children": [
                        {
                            "type": "Row",
                            "gap": 2,
                            "children": [
                                {
                                    "type": "Text",
                                    "value": hit.title or "New chat",
                                    "weight": "semibold",
                                },
                                {"type": "Caption", "value": _day(hit.created_at)},
                            ],
                        },
                        {"type": "Caption", "value": hit.text[:200]},
                    ],
                }
            ],
        }
        for hit in hits
    ]
    header = {
        "type": "ListViewItem",
        "key": "header",
        "children": [
            {"type": "Caption", "value": f"{_count(len(hits))} “{query[:80]}”"},
        ],
    }
    return DynamicWidgetRoot.model_validate({"type": "ListView", "children": [header, *rows]})


def excerpts_for_model(query: str, hits: list[SearchHit]) -> str:
    if not hits:
        return f"No earlier chats match “{query}”."
    lines = [f"{_count(len(hits))} “{query}” (newest first):"]
    for hit in hits:
        who = {"user": "the user wrote", "assistant": "you answered"}.get(hit.role or "", "title")
        lines.append(
            f"- “{hit.title or 'New chat'}” ({_day(hit.created_at)}; {who}): {hit.text[:400]}"
        )
    return "\n".join(lines)


async def search_chats(
    ctx: RunContextWrapper[DesktopAgentContext], query: str, limit: int = 5
) -> str:
    """Search the user's earlier chats by the words in them (messages, titles, file names).

    Args:
        query: The words to look for.
        limit: How many chats to return, 1 to 10.
    """
    query = query.strip()
    if not query:
        raise ToolProblem("the search words were empty")
    ac = ctx.context
    store = ac.store
    if not isinstance(store, SQLiteStore):
        raise ToolProblem("chat search is not available here")
    await ac.stream(
        ProgressUpdateEvent(icon="search", text=f"Searching your chats for “{query[:60]}”…")
    )
    hits = [
        h
        # Whole words: the model asks for words, and exact matching is the faster query.
        for h in await store.search.search(query, max(1, min(limit, MAX_RESULTS)) + 1, prefix=False)
        if h.thread_id != ac.thread.id  # the current chat is already in front of the model
    ][: max(1, min(limit, MAX_RESULTS))]
    ac.sources.extend(chat_source(h.thread_id, h.title, h.text, _day(h.created_at)) for h in hits)
    if hits:
        ac.pending_widgets.append(
            (
                results_widget(query, hits),
                f"Chats matching “{query}”: " + ", ".join(h.title or "New chat" for h in hits),
            )
        )
    return excerpts_for_model(query, hits)


def build() -> FunctionTool:
    return define(search_chats, name="search_chats", timeout_s=15)
