"""read_web_page: one http(s) page as readable text; the page becomes a source of the answer."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any
from urllib.parse import parse_qsl, unquote, unquote_plus, urlsplit

from agents import FunctionTool, RunContextWrapper
from chatkit.types import ProgressUpdateEvent, URLSource

from desktop.chat.agent_context import DesktopAgentContext
from desktop.chat.approvals import allowed_in_chat
from desktop.chat.tools.base import ToolProblem, define
from desktop.chat.web_fetch import FetchRefused, Page, fetch_page

TOOL_NAME = "read_web_page"
MAX_TEXT_CHARS = 20_000
# What is rarely the page's content: menus, page headers and footers, sidebars, forms.
_BOILERPLATE = "//nav | //header | //footer | //aside | //form | //noscript | //svg"


def readable(page: Page) -> tuple[str, str]:
    """(title, text) of a fetched page."""
    raw = page.body.decode("utf-8", errors="replace")
    if page.content_type == "text/plain":
        return "", raw
    import html_text  # lxml underneath: loaded on the first page read, not with the chat server

    tree = html_text.parse_html(raw)
    title = " ".join((tree.findtext(".//title") or "").split())
    for node in tree.xpath(_BOILERPLATE):
        node.drop_tree()
    return title, html_text.extract_text(tree, guess_layout=True)


async def read_web_page(ctx: RunContextWrapper[DesktopAgentContext], url: str) -> str:
    """Read one web page (http or https) and return its text, for questions about that page.

    Args:
        url: The page's full address.
    """
    ac = ctx.context
    host = urlsplit(url).hostname or url[:60]
    await ac.stream(ProgressUpdateEvent(icon="globe", text=f"Reading {host}…"))
    try:
        page = await fetch_page(url.strip(), ac.web_allowed_hosts)
    except FetchRefused as exc:
        raise ToolProblem(str(exc)) from exc
    title, text = await asyncio.to_thread(readable, page)
    text = text.strip()
    cut = len(text) > MAX_TEXT_CHARS or page.truncated
    text = text[:MAX_TEXT_CHARS]
    ac.sources.append(URLSource(url=page.url, title=title or host, group="Web pages"))
    head = f"Page: {title or '(no title)'}\nAddress: {page.url}\n\n"
    tail = "\n\n[The page is longer; this is its beginning.]" if cut else ""
    return head + (text or "(The page has no readable text.)") + tail


# An address can carry the chat's words out as easily as it brings a page in: a page or a file
# the model read can tell it to "look up" https://attacker/?q=<what the user pasted>. Ordinary
# reading (an article, docs, a search) stays quiet; an address with room for a payload (a long
# query, path, host name or fragment, or a user name in it) waits for the user, whose approval
# card shows the whole address. Lengths are of the decoded text, so a path in another script
# (percent-encoded, three times longer on the wire) counts as what it says. Settings' explicit
# "Allow" for the tool turns this off (agent.py).
_QUIET_QUERY = 128
_QUIET_VALUE = 64
_QUIET_PATH = 160
_QUIET_SEGMENT = 80
_QUIET_HOST = 64
_QUIET_LABEL = 40


def carries_data(url: str) -> bool:
    """Whether an address has room to send a message-sized piece of the chat out."""
    parts = urlsplit(url.strip())
    try:
        userinfo = parts.username is not None or parts.password is not None
    except ValueError:
        return True
    host = parts.hostname or ""
    query = unquote_plus(parts.query)
    path = unquote(parts.path)
    return (
        userinfo
        or len(host) > _QUIET_HOST
        or any(len(label) > _QUIET_LABEL for label in host.split("."))
        or len(query) > _QUIET_QUERY
        or any(len(value) > _QUIET_VALUE for _, value in parse_qsl(parts.query, True))
        or len(path) > _QUIET_PATH
        or any(len(segment) > _QUIET_SEGMENT for segment in path.split("/"))
        or len(unquote(parts.fragment)) > _QUIET_QUERY
    )


async def _asks_if_it_carries_data(
    ctx: RunContextWrapper[DesktopAgentContext], params: dict[str, Any], call_id: str
) -> bool:
    if TOOL_NAME in allowed_in_chat(getattr(ctx.context, "thread", None)):
        return False  # the user chose "Always allow" for this chat
    return carries_data(str(params.get("url", "")))


def build() -> FunctionTool:
    tool = define(read_web_page, name=TOOL_NAME, timeout_s=30)
    return dataclasses.replace(tool, needs_approval=_asks_if_it_carries_data)
