"""Importing a ChatGPT data export: `conversations.json`, or the zip that holds it.

Each conversation becomes a chat holding its active branch (from `current_node` up the `mapping`
tree to the root): user and assistant text, code and code-interpreter output, images (kept as
attachments when the zip has the file, else a visible placeholder); hidden and system messages
are skipped. Every other branch (a regenerated answer, an edited message) becomes a chat of its
own, marked as a branch and listed at the end of the main chat, so branches never mix.

Ids are derived from the export's ids, so importing the same export again adds nothing.
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    FileAttachment,
    ImageAttachment,
    InferenceOptions,
    ThreadItem,
    ThreadMetadata,
    UserMessageItem,
    UserMessageTextContent,
    WidgetItem,
)
from chatkit.widgets import DynamicWidgetRoot
from pydantic import AnyUrl, ValidationError

from desktop.errors import StoreError
from desktop.store.chatgpt_archive import ChatGptArchive
from desktop.store.import_json import ParsedExport, ParsedThread

_HIDDEN_ROLES = {"system"}
_IMAGE_PLACEHOLDER = "[An image from ChatGPT that the export didn't include]"


def _id(prefix: str, *parts: str) -> str:
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:20]
    return f"{prefix}_cg{digest}"


def _time(value: Any, fallback: datetime) -> datetime:
    if isinstance(value, int | float) and value > 0:
        return datetime.fromtimestamp(value, UTC).replace(tzinfo=None)
    return fallback


def _path_to(mapping: dict[str, Any], node_id: str) -> list[str]:
    path: list[str] = []
    seen: set[str] = set()
    while node_id and node_id in mapping and node_id not in seen:
        seen.add(node_id)
        path.append(node_id)
        node_id = mapping[node_id].get("parent") or ""
    return list(reversed(path))


def _leaves(mapping: dict[str, Any]) -> list[str]:
    return [n for n, node in mapping.items() if not node.get("children")]


def _message_text(
    message: dict[str, Any], source: ChatGptArchive, images: list[tuple[str, bytes]]
) -> str:
    content = message.get("content") or {}
    kind = content.get("content_type")
    if kind == "code":
        language = content.get("language") or ""
        language = "" if language == "unknown" else language
        return f"```{language}\n{content.get('text', '')}\n```"
    if kind == "execution_output":
        return f"Output:\n```\n{content.get('text', '')}\n```"
    parts = content.get("parts")
    if not isinstance(parts, list):
        text = content.get("text")
        return text if isinstance(text, str) else ""
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, dict) and "asset_pointer" in part:
            found = source.image(str(part["asset_pointer"]))
            if found is None:
                out.append(_IMAGE_PLACEHOLDER)
            else:
                images.append(found)
    return "\n".join(p for p in out if p).strip()


def _items(
    thread_id: str,
    nodes: list[str],
    mapping: dict[str, Any],
    source: ChatGptArchive,
    start: datetime,
) -> tuple[list[ThreadItem], list[tuple[Any, bytes | None]]]:
    items: list[ThreadItem] = []
    attachments: list[tuple[Any, bytes | None]] = []
    for node_id in nodes:
        message = mapping[node_id].get("message")
        if not isinstance(message, dict):
            continue
        role = (message.get("author") or {}).get("role")
        metadata = message.get("metadata") or {}
        if role in _HIDDEN_ROLES or metadata.get("is_visually_hidden_from_conversation"):
            continue
        images: list[tuple[str, bytes]] = []
        text = _message_text(message, source, images)
        if not text and not images:
            continue
        when = _time(message.get("create_time"), start)
        item_id = _id("msg", thread_id, node_id)
        if role == "user":
            files = []
            for n, (name, data) in enumerate(images):
                mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
                attachment_id = _id("atc", thread_id, node_id, str(n))
                attachment: ImageAttachment | FileAttachment
                if mime.startswith("image/"):
                    # The port changes with each launch; the page asks by the attachment's id.
                    preview = AnyUrl(f"http://localhost/api/attachments/{attachment_id}/content")
                    attachment = ImageAttachment(
                        id=attachment_id,
                        name=name,
                        mime_type=mime,
                        thread_id=thread_id,
                        preview_url=preview,
                    )
                else:
                    attachment = FileAttachment(
                        id=attachment_id, name=name, mime_type=mime, thread_id=thread_id
                    )
                files.append(attachment)
                attachments.append((attachment, data))
            items.append(
                UserMessageItem(
                    id=item_id,
                    thread_id=thread_id,
                    created_at=when,
                    content=[UserMessageTextContent(text=text or "(image)")],
                    attachments=files,
                    inference_options=InferenceOptions(),
                )
            )
        else:
            if images:
                text = (text + "\n\n" if text else "") + f"[{len(images)} image(s) from ChatGPT]"
            items.append(
                AssistantMessageItem(
                    id=item_id,
                    thread_id=thread_id,
                    created_at=when,
                    content=[AssistantMessageContent(text=text)],
                )
            )
    return items, attachments


def _branch_list(thread_id: str, branches: list[tuple[str, str]], when: datetime) -> WidgetItem:
    rows = [
        {
            "type": "ListViewItem",
            "children": [{"type": "Text", "value": title}],
            "onClickAction": {
                "type": "chat.open",
                "payload": {"thread_id": tid},
                "handler": "client",
            },
        }
        for tid, title in branches
    ]
    header = {
        "type": "ListViewItem",
        "children": [{"type": "Caption", "value": "Other branches of this chat in ChatGPT"}],
    }
    widget = DynamicWidgetRoot.model_validate({"type": "ListView", "children": [header, *rows]})
    text = "Other branches of this chat: " + ", ".join(t for _, t in branches)
    return WidgetItem(
        id=_id("msg", thread_id, "branches"),
        thread_id=thread_id,
        created_at=when,
        widget=widget,
        copy_text=text,
    )


def _conversation(n: int, conversation: Any, source: ChatGptArchive) -> Iterator[ParsedThread]:
    if not isinstance(conversation, dict) or not isinstance(conversation.get("mapping"), dict):
        raise StoreError(
            f"Conversation {n} has no message tree (mapping); the file may be damaged."
        )
    mapping: dict[str, Any] = conversation["mapping"]
    key = str(conversation.get("conversation_id") or conversation.get("id") or n)
    start = _time(conversation.get("create_time"), datetime.now())
    updated = _time(conversation.get("update_time"), start)
    main_leaf = str(conversation.get("current_node") or "")
    main_path = _path_to(mapping, main_leaf) if main_leaf in mapping else []
    if not main_path:
        leaves = _leaves(mapping)
        main_path = _path_to(mapping, leaves[-1]) if leaves else []
    items, attachments = _items(_id("thr", key), main_path, mapping, source, start)
    first_user = next(
        (
            c.text
            for i in items
            if isinstance(i, UserMessageItem)
            for c in i.content
            if isinstance(c, UserMessageTextContent)
        ),
        "",
    )
    title = str(conversation.get("title") or "").strip() or (first_user[:60] or "Imported chat")
    main_id = _id("thr", key)
    on_path = set(main_path)
    branches: list[ParsedThread] = []
    for leaf in _leaves(mapping):
        if leaf in on_path:
            continue
        path = _path_to(mapping, leaf)
        branch_id = _id("thr", key, leaf)
        b_items, b_attachments = _items(branch_id, path, mapping, source, start)
        if not b_items:
            continue
        branch = ThreadMetadata(
            id=branch_id,
            created_at=start,
            title=f"{title} (branch {len(branches) + 1})",
            metadata={"imported_from": "chatgpt", "branch_of": main_id},
        )
        branches.append(
            ParsedThread(branch, [(i, i.model_dump_json()) for i in b_items], {}, b_attachments)
        )
    if branches:
        items.append(
            _branch_list(main_id, [(b.thread.id, b.thread.title or "") for b in branches], updated)
        )
    main = ThreadMetadata(
        id=main_id, created_at=start, title=title, metadata={"imported_from": "chatgpt"}
    )
    yield ParsedThread(main, [(i, i.model_dump_json()) for i in items], {}, attachments)
    yield from branches


def parse_chatgpt(path: Path) -> ParsedExport:
    """The export's chats, produced one conversation at a time as the import writes them."""
    source = ChatGptArchive(path)
    return ParsedExport(_threads(source), [], source.position)


def _threads(source: ChatGptArchive) -> Iterator[ParsedThread]:
    try:
        for n, conversation in enumerate(source.conversations(), 1):
            try:
                yield from list(_conversation(n, conversation, source))
            except (ValidationError, TypeError, ValueError, AttributeError, KeyError) as exc:
                title = conversation.get("title") if isinstance(conversation, dict) else None
                raise StoreError(
                    f"Conversation {n} ({str(title or 'untitled')[:60]}) couldn't be read: "
                    f"{type(exc).__name__}; the file may be damaged. Nothing was imported."
                ) from exc
    finally:
        source.close()
