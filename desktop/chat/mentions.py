"""`@` mentions, resolved once: when the user sends a message, each tag is read from what the app
itself lists (the user's chats and files, the resources an MCP server lists), and the text that
went to the model is stored with the tag. Later turns send that stored text again and never read
the source a second time, so a tag that arrives some other way (an import, a restored file, an
edited request) can't make the app read anything: it is content, never a reference to follow."""

from __future__ import annotations

import asyncio
from pathlib import Path

from chatkit.store import NotFoundError
from chatkit.types import UserMessageInput, UserMessageTagContent

from desktop import attachment_rules as rules
from desktop.errors import DesktopError
from desktop.mcp import resources
from desktop.mcp.hub import McpHub
from desktop.store.chat_store import SQLiteStore

# What a mentioned chat or file brings into the prompt at most (the model can search for more).
MAX_TAG_CHARS = 4_000
# Where the text sent for a tag is kept, inside the tag's `data`.
SENT_KEY = "sent"
# How long the mentions of one message may take to read.
READ_TIMEOUT_S = 10.0


def sent_text(tag: UserMessageTagContent) -> str:
    """What this tag sent to the model when the user sent it."""
    sent = tag.data.get(SENT_KEY)
    if isinstance(sent, str):
        return sent[:MAX_TAG_CHARS]
    return f"[{tag.text} was mentioned; its content was not recorded with the message.]"


class Mentions:
    def __init__(self, store: SQLiteStore, mcp: McpHub | None) -> None:
        self._store = store
        self._mcp = mcp

    async def resolve(self, message: UserMessageInput) -> None:
        """Read every tag of a message the user is sending, in place, before it is saved."""
        tags = [p for p in message.content if isinstance(p, UserMessageTagContent)]
        # Together, and briefly: this runs before the reply's stream starts, so nothing could
        # show a slow MCP server's wait or stop it.
        texts = await asyncio.gather(*(self._read_in_time(tag) for tag in tags))
        for tag, text in zip(tags, texts, strict=True):
            # Whatever the request carried under the key is replaced, never trusted.
            tag.data = {**tag.data, SENT_KEY: text}

    async def _read_in_time(self, tag: UserMessageTagContent) -> str:
        try:
            async with asyncio.timeout(READ_TIMEOUT_S):
                return await self._read(tag)
        except TimeoutError:
            return f"[{tag.text} couldn't be read within {READ_TIMEOUT_S:g} s.]"

    async def _read(self, tag: UserMessageTagContent) -> str:
        kind = str(tag.data.get("type", ""))
        if kind == "chat":
            found = await self._store.entities.chat_text(
                str(tag.data.get("thread_id", "")), MAX_TAG_CHARS
            )
            if found is not None:
                title, text = found
                return f"The chat “{title or 'New chat'}” (newest messages):\n{text}"
        elif kind == "file":
            return await self._file_excerpt(str(tag.data.get("attachment_id", "")), tag.text)
        elif kind == "mcp_resource" and self._mcp is not None:
            server, uri = str(tag.data.get("server", "")), str(tag.data.get("uri", ""))
            content = await resources.read_text(self._mcp, server, uri, MAX_TAG_CHARS)
            if content is not None:
                return f"The resource {uri} of the MCP server {server}:\n{content}"
        return f"[{tag.text} is not available.]"

    async def _file_excerpt(self, attachment_id: str, name: str) -> str:
        try:
            stored, path = await self._store.attachments.attachment_file(attachment_id)
        except (NotFoundError, DesktopError):
            return f"[The file {name} is not available.]"
        if not rules.is_text(stored.mime_type):
            return f"[The file {stored.name} ({stored.mime_type}) was mentioned; its content can't be shown as text here.]"
        data = await asyncio.to_thread(_head, path, MAX_TAG_CHARS * 4)
        text = data.decode("utf-8", errors="replace")[:MAX_TAG_CHARS]
        return f"The file {stored.name} (start):\n{text}"


def _head(path: Path, size: int) -> bytes:
    with path.open("rb") as f:
        return f.read(size)
