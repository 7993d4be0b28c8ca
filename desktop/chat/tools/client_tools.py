"""Tools that run in the page: switch the theme, copy text, open a link in the system browser.

Each one hands its call to the page (chatkit's ClientToolCall): the turn stops there and resumes
when the page posts the result (`threads.add_client_tool_output`)."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from agents import FunctionTool, RunContextWrapper
from chatkit.agents import ClientToolCall

from desktop.chat.agent_context import DesktopAgentContext
from desktop.chat.tools.base import ToolProblem, define

HANDED_OVER = "The app is doing it; its answer follows."
MAX_CLIPBOARD_CHARS = 100_000


def _hand_over(ctx: RunContextWrapper[DesktopAgentContext], name: str, **arguments: object) -> str:
    ctx.context.client_tool_call = ClientToolCall(name=name, arguments=dict(arguments))
    return HANDED_OVER


async def set_theme(
    ctx: RunContextWrapper[DesktopAgentContext], theme: Literal["light", "dark", "system"]
) -> str:
    """Switch the app between light and dark (or follow the system), as the user asks.

    Args:
        theme: "light", "dark" or "system".
    """
    return _hand_over(ctx, "set_theme", theme=theme)


async def copy_to_clipboard(ctx: RunContextWrapper[DesktopAgentContext], text: str) -> str:
    """Put text on the user's clipboard, when they ask for it to be copied.

    Args:
        text: Exactly the text to copy.
    """
    if len(text) > MAX_CLIPBOARD_CHARS:
        raise ToolProblem(f"the text is longer than {MAX_CLIPBOARD_CHARS:,} characters")
    return _hand_over(ctx, "copy_to_clipboard", text=text)


async def open_link(ctx: RunContextWrapper[DesktopAgentContext], url: str) -> str:
    """Open a web page in the user's browser (never inside this app).

    Args:
        url: An http:// or https:// address.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ToolProblem("only http:// and https:// addresses can be opened")
    return _hand_over(ctx, "open_link", url=url.strip())


def build_set_theme() -> FunctionTool:
    return define(set_theme, name="set_theme", timeout_s=5)


def build_copy_to_clipboard() -> FunctionTool:
    return define(copy_to_clipboard, name="copy_to_clipboard", timeout_s=5)


def build_open_link() -> FunctionTool:
    return define(open_link, name="open_link", timeout_s=5)
