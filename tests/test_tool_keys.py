"""The tool-key grammar, in the one module that owns it."""

from __future__ import annotations

import pytest

from desktop.chat.approvals import ToolRules
from desktop.tool_keys import (
    is_mcp_selection,
    mcp_key,
    selected_servers,
    selects,
    server_key_of,
    server_of,
)


def test_keys_are_written_and_read_back() -> None:
    assert mcp_key("files") == "mcp:files"
    assert mcp_key("files", "read_file") == "mcp:files/read_file"
    assert server_of("mcp:files/read_file") == "files" and server_of("mcp:*") == "*"
    assert server_of("copy_to_clipboard") is None
    assert server_key_of("mcp:files/read_file") == "mcp:files"
    assert server_key_of("mcp:files") is None and server_key_of("copy_to_clipboard") is None


@pytest.mark.parametrize(
    ("key", "ok"),
    [
        ("mcp:*", True),
        ("mcp:files", True),
        ("mcp:My server 2/read_file", True),
        ("mcp:files/a/b", False),  # a tool name has no slash
        ("mcp:", False),
        ("mcp:-files", False),
        ("mcp:files/", False),
        ("mcp:files/ read", False),
        ("copy_to_clipboard", False),
        ("mcp:" + "x" * 65, False),
    ],
)
def test_what_an_assistants_list_may_name(key: str, ok: bool) -> None:
    assert is_mcp_selection(key) is ok


def test_a_selection_names_servers_wholly_or_in_part() -> None:
    selection = ["mcp:notes/write_note", "mcp:files", "copy_to_clipboard"]
    assert selected_servers(selection) == {"notes", "files"}
    assert selected_servers(["mcp:*"]) == {"*"}
    assert selects(selection, "notes", "write_note") and not selects(selection, "notes", "erase")
    assert selects(selection, "files", "anything") and not selects(selection, "web", "get")
    assert selects(["mcp:*"], "web", "get")


def test_a_tool_follows_its_servers_policy_unless_it_has_its_own() -> None:
    rules = ToolRules(policies={"mcp:files": "allow", "mcp:files/erase": "block"})
    assert rules.policy("mcp:files/read_file") == "allow"
    assert rules.policy("mcp:files/erase") == "block"
    assert rules.policy("mcp:web/get") == "ask"  # MCP tools ask unless told otherwise
