"""Tool name -> the tool, built once per server. The catalog says what exists; this module is
where each name gets its implementation."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from agents import CodeInterpreterTool, ImageGenerationTool, Tool, WebSearchTool

from desktop.chat.tools import client_tools, current_time, read_web_page, search_chats
from desktop.chat.tools.catalog import CATALOG

_BUILDERS: dict[str, Callable[[], Tool]] = {
    # Hosted at OpenAI: the agent builder offers them only on OpenAI's Responses API.
    "web_search": lambda: WebSearchTool(),
    "code_interpreter": lambda: CodeInterpreterTool(
        tool_config={"type": "code_interpreter", "container": {"type": "auto"}}
    ),
    "image_generation": lambda: ImageGenerationTool(
        tool_config={"type": "image_generation", "partial_images": 2}
    ),
    "search_chats": search_chats.build,
    "current_time": current_time.build,
    "read_web_page": read_web_page.build,
    "set_theme": client_tools.build_set_theme,
    "copy_to_clipboard": client_tools.build_copy_to_clipboard,
    "open_link": client_tools.build_open_link,
}


class ToolRegistry:
    def __init__(self, builders: dict[str, Callable[[], Tool]] | None = None) -> None:
        """The app's tools, or (`builders`) a set of one's own, as the runtime tests use."""
        if builders is None:
            builders = _BUILDERS
            missing = set(CATALOG) ^ set(builders)
            if missing:  # a catalog entry without a module, or the reverse
                raise RuntimeError(f"tool catalog and registry disagree on: {sorted(missing)}")
        self._tools = {name: build() for name, build in builders.items()}

    def names(self) -> list[str]:
        return list(self._tools)

    def tools(self, names: Iterable[str]) -> list[Tool]:
        return [self._tools[n] for n in names if n in self._tools]
