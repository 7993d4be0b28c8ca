"""read_web_page: one http(s) page as readable text; the page becomes a source of the answer."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from agents import FunctionTool, RunContextWrapper
from chatkit.types import ProgressUpdateEvent, URLSource

from desktop.chat.agent_context import DesktopAgentContext
from desktop.chat.tools.base import ToolProblem, define
from desktop.chat.web_fetch import FetchRefused, Page, fetch_page

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


def build() -> FunctionTool:
    return define(read_web_page, name="read_web_page", timeout_s=30)
