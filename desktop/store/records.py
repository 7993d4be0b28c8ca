"""How store records are shaped: ids, JSON of threads, items and attachments."""

from __future__ import annotations

import secrets
from functools import cache
from typing import Literal

from chatkit.store import StoreItemType
from chatkit.types import Attachment, Thread, ThreadItem, ThreadMetadata
from pydantic import TypeAdapter

Order = Literal["asc", "desc"]


@cache
def item_adapter() -> TypeAdapter[ThreadItem]:
    return TypeAdapter(ThreadItem)


@cache
def attachment_adapter() -> TypeAdapter[Attachment]:
    return TypeAdapter(Attachment)


ID_PREFIXES: dict[StoreItemType, str] = {
    "thread": "thr",
    "message": "msg",
    "tool_call": "tc",
    "task": "tsk",
    "workflow": "wf",
    "attachment": "atc",
    "sdk_hidden_context": "shcx",
}


def new_id(prefix: str) -> str:
    # 64 random bits: chatkit's default 32 bits collide within a large history.
    return f"{prefix}_{secrets.token_hex(8)}"


def metadata_only(thread: ThreadMetadata) -> ThreadMetadata:
    # chatkit sometimes saves a full `Thread`; only its metadata belongs in the threads table.
    if isinstance(thread, Thread):
        return ThreadMetadata(**thread.model_dump(exclude={"items"}))
    return thread


def stored_json(attachment: Attachment) -> str:
    """An attachment as saved: upload headers carry the session token, which is never stored."""
    descriptor = attachment.upload_descriptor
    if descriptor is not None and descriptor.headers:
        attachment = attachment.model_copy(
            update={"upload_descriptor": descriptor.model_copy(update={"headers": {}})}
        )
    return attachment.model_dump_json()


def read_order(order: str) -> Order:
    return "asc" if order == "asc" else "desc"
