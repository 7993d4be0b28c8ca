"""Importing a ChatGPT data export: `conversations.json`, or the zip that holds it.

Each conversation becomes a chat holding its active branch (from `current_node` up the `mapping`
tree to the root): user and assistant text, code and code-interpreter output, images (kept as
attachments when the zip has the file, else a visible placeholder, as is one refused by the limits
in chatgpt_images.py, which keep a zip bomb out); hidden and system messages
are skipped. Every other branch (a regenerated answer, an edited message) becomes a chat of its
own, marked as a branch and listed at the end of the main chat, so branches never mix.

Ids are derived from the export's ids, so importing the same export again adds nothing.
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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

from desktop import attachment_rules as rules
from desktop.errors import StoreError
from desktop.store.chatgpt_archive import ChatGptArchive
from desktop.store.chatgpt_images import (
    ArchiveImages,
    Image,
    ImageLimits,
    Refused,
    message_text,
)
from desktop.store.import_json import ParsedExport, ParsedThread

_HIDDEN_ROLES = {"system"}


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


def _items(
    thread_id: str,
    nodes: list[str],
    mapping: dict[str, Any],
    source: ArchiveImages,
    start: datetime,
) -> tuple[list[ThreadItem], list[tuple[Any, bytes | None]]]:
    source.start_chat()
    items: list[ThreadItem] = []
    attachments: list[tuple[Any, bytes | None]] = []
    # The same image in many messages of a chat is one attachment, stored once.
    stored: dict[str, ImageAttachment | FileAttachment] = {}
    for node_id in nodes:
        message = mapping[node_id].get("message")
        if not isinstance(message, dict):
            continue
        role = (message.get("author") or {}).get("role")
        metadata = message.get("metadata") or {}
        if role in _HIDDEN_ROLES or metadata.get("is_visually_hidden_from_conversation"):
            continue
        images: list[Image] = []
        text, named = message_text(message, source, images, read=role == "user")
        if not text and not named:
            continue
        when = _time(message.get("create_time"), start)
        item_id = _id("msg", thread_id, node_id)
        if role == "user":
            files = []
            for image in images:
                if image.digest in stored:
                    files.append(stored[image.digest])
                    continue
                kept = source.store(image)
                if isinstance(kept, Refused):
                    text = f"{text}\n{kept.placeholder()}".strip()
                    continue
                name = rules.clean_name(image.name)
                mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
                attachment_id = _id("atc", thread_id, image.digest)
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
                stored[image.digest] = attachment
                attachments.append((attachment, image.data))
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
            if named:
                text = (text + "\n\n" if text else "") + f"[{named} image(s) from ChatGPT]"
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


def _conversation(n: int, conversation: Any, source: ArchiveImages) -> Iterator[ParsedThread]:
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
    notes = list(source.chat_refused.values())
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
        b_notes = [r.note(f"{title} (branch)") for r in source.chat_refused.values()]
        branch = ThreadMetadata(
            id=branch_id,
            created_at=start,
            title=f"{title} (branch {len(branches) + 1})",
            metadata={"imported_from": "chatgpt", "branch_of": main_id},
        )
        branches.append(
            ParsedThread(
                branch, [(i, i.model_dump_json()) for i in b_items], {}, b_attachments, b_notes
            )
        )
    if branches:
        items.append(
            _branch_list(main_id, [(b.thread.id, b.thread.title or "") for b in branches], updated)
        )
    main = ThreadMetadata(
        id=main_id, created_at=start, title=title, metadata={"imported_from": "chatgpt"}
    )
    main_notes = [r.note(title) for r in notes]
    yield ParsedThread(main, [(i, i.model_dump_json()) for i in items], {}, attachments, main_notes)
    yield from branches


@dataclass(frozen=True)
class ChatGptExport(ParsedExport):
    # How many of the zip's images were refused by the limits so far (each one is a
    # placeholder in its chat saying why).
    images_refused: Callable[[], int] = lambda: 0


def parse_chatgpt(path: Path, limits: ImageLimits | None = None) -> ChatGptExport:
    """The export's chats, produced one conversation at a time as the import writes them."""
    archive = ChatGptArchive(path)
    images = ArchiveImages(archive, limits or ImageLimits())
    return ChatGptExport(
        _threads(archive, images), [], archive.position, lambda: len(images.refused)
    )


def _threads(archive: ChatGptArchive, images: ArchiveImages) -> Iterator[ParsedThread]:
    try:
        for n, conversation in enumerate(archive.conversations(), 1):
            images.next_conversation()
            try:
                yield from list(_conversation(n, conversation, images))
            except (ValidationError, TypeError, ValueError, AttributeError, KeyError) as exc:
                title = conversation.get("title") if isinstance(conversation, dict) else None
                raise StoreError(
                    f"Conversation {n} ({str(title or 'untitled')[:60]}) couldn't be read: "
                    f"{type(exc).__name__}; the file may be damaged. Nothing was imported."
                ) from exc
    finally:
        archive.close()
