"""A paused run's saved state, made resumable on both API flavours.

The Agents SDK saves a paused run (`RunState.to_string`) with its input rewritten into the
Responses API's shapes: an earlier answer of the chat becomes an output message with
`output_text` parts and no `id`. Chat Completions' converter refuses such a message ("Unhandled
item type or structure"), so a turn paused for an approval in a chat that already had answers
could never resume there. The history goes back to the shape a fresh turn sends (converter.py:
an assistant message whose content is its text), which both flavours accept.
"""

from __future__ import annotations

import json
from typing import Any


def _as_sent(item: Any) -> Any:
    if not isinstance(item, dict) or item.get("role") != "assistant" or "id" in item:
        return item
    if item.get("type", "message") != "message":
        return item
    parts = item.get("content")
    if not isinstance(parts, list) or not all(
        isinstance(p, dict) and p.get("type") == "output_text" for p in parts
    ):
        return item
    return {
        "type": "message",
        "role": "assistant",
        "content": "".join(p.get("text", "") for p in parts),
    }


def resumable(saved: str) -> str:
    """The saved state with the chat's earlier answers as a fresh turn sends them."""
    try:
        state = json.loads(saved)
    except ValueError:
        return saved  # RunState.from_string says what is wrong with it
    history = state.get("original_input") if isinstance(state, dict) else None
    if not isinstance(history, list):
        return saved
    state["original_input"] = [_as_sent(item) for item in history]
    return json.dumps(state)
