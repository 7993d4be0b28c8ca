"""Which tool calls wait for the user: per tool and per server "ask / allow / block" from
Settings, "always allow in this chat" kept with the chat, and a switch that makes everything ask.

Tools are named by their keys (desktop/tool_keys.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from chatkit.types import ThreadMetadata

from desktop.chat.tools.catalog import CATALOG
from desktop.tool_keys import is_mcp, server_key_of

Policy = Literal["ask", "allow", "block"]
POLICIES: tuple[Policy, ...] = ("ask", "allow", "block")
_CHAT_ALLOWED = "allowed_tools"


def default_policy(key: str) -> Policy:
    """MCP tools ask; built-in tools ask if they change something outside the chat."""
    if is_mcp(key):
        return "ask"
    info = CATALOG.get(key)
    return "ask" if info is not None and info.acts else "allow"


@dataclass(frozen=True)
class ToolRules:
    policies: Mapping[str, Policy] = field(default_factory=dict)
    # Settings' "always ask": every tool that isn't blocked asks, whatever else says.
    always_ask: bool = False

    def policy(self, key: str) -> Policy:
        chosen = self.policies.get(key)
        server_key = server_key_of(key)
        if chosen is None and server_key is not None:
            chosen = self.policies.get(server_key)
        chosen = chosen or default_policy(key)
        if self.always_ask and chosen == "allow":
            return "ask"
        return chosen

    def explicitly_allowed(self, key: str) -> bool:
        """The user chose "Allow" for this very tool in Settings (and not "always ask")."""
        return not self.always_ask and self.policies.get(key) == "allow"

    def blocked(self, key: str) -> bool:
        return self.policy(key) == "block"

    def asks(self, key: str, thread: ThreadMetadata | None) -> bool:
        if self.policy(key) != "ask":
            return False
        return self.always_ask or key not in allowed_in_chat(thread)


def allowed_in_chat(thread: ThreadMetadata | None) -> set[str]:
    if thread is None:
        return set()
    value = thread.metadata.get(_CHAT_ALLOWED)
    return {str(v) for v in value} if isinstance(value, list) else set()


def allow_in_chat(thread: ThreadMetadata, key: str) -> None:
    """Remembered with the chat (saved with the thread)."""
    thread.metadata[_CHAT_ALLOWED] = sorted(allowed_in_chat(thread) | {key})
