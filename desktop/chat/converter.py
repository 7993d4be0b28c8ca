"""Thread history -> model input, for both the Responses API and Chat Completions."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from agents import TResponseInputItem
from chatkit.agents import ThreadItemConverter
from chatkit.store import NotFoundError
from chatkit.types import (
    AssistantMessageItem,
    Attachment,
    CustomTask,
    ThreadItem,
    UserMessageTagContent,
    WidgetItem,
    WorkflowItem,
)
from openai.types.responses import (
    EasyInputMessageParam,
    ResponseInputContentParam,
    ResponseInputFileParam,
    ResponseInputImageParam,
    ResponseInputTextParam,
)

from desktop import attachment_rules as rules
from desktop.chat.approval_cards import CARD_KEY as APPROVAL_CARD
from desktop.chat.mentions import sent_text
from desktop.store.chat_store import SQLiteStore

# Text files are inlined into the prompt; past this many characters they are cut.
MAX_INLINE_TEXT_CHARS = 100_000
# The file bytes one turn may send (each is read and base64-encoded for the request). Newer
# attachments come first; older ones past this are named but not sent.
MAX_TURN_ATTACHMENT_BYTES = 20 * 1024 * 1024


def _flatten(item: TResponseInputItem) -> TResponseInputItem:
    """A message whose parts are all text becomes one string: the same input to the model, but
    the openai client validates every nested part of every history item on each request, and
    that walk cost ~1 ms per item."""
    raw = cast(dict[str, Any], item)
    if not isinstance(item, dict) or raw.get("type", "message") != "message":
        return item
    content = raw.get("content")
    if not isinstance(content, list) or not content:
        return item
    if not all(isinstance(p, dict) and p.get("type") == "input_text" for p in content):
        return item
    text = "\n\n".join(str(p.get("text", "")) for p in content)
    return cast(TResponseInputItem, {"type": "message", "role": raw["role"], "content": text})


def _data_url(mime: str, data: bytes) -> str:
    # One encoded copy: the prefix is joined as bytes, then decoded once.
    return (f"data:{mime};base64,".encode() + base64.b64encode(data)).decode("ascii")


def sendable_attachments(items: Sequence[ThreadItem], sizes: dict[str, int]) -> set[str]:
    """The attachments of `items` (oldest first) that fit the turn's budget, newest first."""
    allowed: set[str] = set()
    budget = MAX_TURN_ATTACHMENT_BYTES
    for item in reversed(items):
        for attachment in reversed(getattr(item, "attachments", None) or []):
            size = sizes.get(attachment.id, 0)
            if size <= budget:
                budget -= size
                allowed.add(attachment.id)
    return allowed


class DesktopConverter(ThreadItemConverter):
    """Converts one turn's history. `sendable` names the attachments whose bytes fit the turn's
    budget (None: all of them)."""

    def __init__(self, store: SQLiteStore, sendable: set[str] | None = None) -> None:
        self.store = store
        self.sendable = sendable

    async def attachment_to_message_content(
        self, attachment: Attachment
    ) -> ResponseInputContentParam:
        if self.sendable is not None and attachment.id not in self.sendable:
            return ResponseInputTextParam(
                type="input_text",
                text=f"[The earlier attachment '{attachment.name}' is not included in this "
                "request, to keep it within the size limit.]",
            )
        try:
            stored, path = await self.store.attachments.attachment_file(attachment.id)
            data = await asyncio.to_thread(Path.read_bytes, path)
        except (NotFoundError, OSError):
            return ResponseInputTextParam(
                type="input_text",
                text=f"[The attached file '{attachment.name}' is no longer available.]",
            )
        mime = stored.mime_type
        if mime in rules.IMAGE_TYPES:
            return ResponseInputImageParam(
                type="input_image", detail="auto", image_url=_data_url(mime, data)
            )
        if mime == rules.PDF:
            return ResponseInputFileParam(
                type="input_file", filename=stored.name, file_data=_data_url(mime, data)
            )
        text = data.decode("utf-8", errors="replace")
        note = ""
        if len(text) > MAX_INLINE_TEXT_CHARS:
            text, note = text[:MAX_INLINE_TEXT_CHARS], "\n[... the rest of the file was cut ...]"
        return ResponseInputTextParam(
            type="input_text",
            text=f"Attached file '{stored.name}' ({mime}):\n<file>\n{text}{note}\n</file>",
        )

    async def to_agent_input(
        self, thread_items: Sequence[ThreadItem] | ThreadItem
    ) -> list[TResponseInputItem]:
        return [_flatten(item) for item in await super().to_agent_input(thread_items)]

    async def assistant_message_to_input(self, item: AssistantMessageItem) -> TResponseInputItem:
        # A plain-string assistant message is valid input for both API flavours; chatkit's default
        # (output_text parts) fails on Chat Completions with "Unknown content".
        return EasyInputMessageParam(
            type="message",
            role="assistant",
            content="".join(part.text for part in item.content),
        )

    async def workflow_to_input(self, item: WorkflowItem) -> TResponseInputItem | None:
        # One line per workflow rather than chatkit's message per step (with its timing).
        steps = [t.title for t in item.workflow.tasks if isinstance(t, CustomTask) and t.title]
        if not steps:
            return None
        return EasyInputMessageParam(
            type="message",
            role="user",
            content=f"[Earlier in this chat, tools were used: {'; '.join(steps)}.]",
        )

    async def widget_to_input(
        self, item: WidgetItem
    ) -> TResponseInputItem | list[TResponseInputItem] | None:
        # An approval card reads as what was asked and decided, not as the card's JSON.
        if getattr(item.widget, "key", None) == APPROVAL_CARD and item.copy_text:
            return EasyInputMessageParam(type="message", role="user", content=f"[{item.copy_text}]")
        return await super().widget_to_input(item)

    async def tag_to_message_content(self, tag: UserMessageTagContent) -> ResponseInputTextParam:
        """A mentioned chat, file or resource: the text it sent when the user sent the message."""
        kind = str(tag.data.get("type", ""))
        return ResponseInputTextParam(
            type="input_text",
            text=f"<mention type={kind or 'unknown'} name={json.dumps(tag.text)}>\n{sent_text(tag)}\n</mention>",
        )
