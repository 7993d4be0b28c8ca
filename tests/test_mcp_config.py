"""mcp.json: Claude Desktop's format read and written faithfully, checked, secrets masked; the
import from Claude Desktop; and the approval store's answer-once rules."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from desktop.chat.approvals import ToolRules, allow_in_chat
from desktop.context import RequestContext
from desktop.errors import ConfigError
from desktop.mcp.config import MASK, McpConfigFile, claude_desktop_config, parse_server
from desktop.mcp.hub import public_name
from desktop.mcp.masking import SecretsNeedRetyping
from desktop.store import SQLiteStore
from desktop.store.approvals import WaitingCall
from desktop.tool_keys import selects
from tests.support import hostile_config as hostile


def test_claude_desktop_entries_parse() -> None:
    stdio = parse_server(
        "files",
        {"command": "npx", "args": ["-y", "server-filesystem", "/tmp"], "env": {"A": "1"}},
    )
    assert (stdio.transport, stdio.command, stdio.args, dict(stdio.env)) == (
        "stdio",
        "npx",
        ("-y", "server-filesystem", "/tmp"),
        {"A": "1"},
    )
    assert parse_server("r", {"url": "https://h.example/mcp"}).transport == "http"
    assert parse_server("r", {"url": "https://h.example/sse"}).transport == "sse"
    assert parse_server("r", {"url": "https://h.example/x", "type": "sse"}).transport == "sse"
    assert parse_server("r", {"url": "https://h/x", "type": "streamable-http"}).transport == "http"


@pytest.mark.parametrize(
    ("name", "entry", "message"),
    [
        ("", {"command": "x"}, "Server name"),
        ("a/b", {"command": "x"}, "Server name"),
        ("a", {}, "needs either a command or a url"),
        ("a", {"command": "x", "url": "http://h"}, "needs either a command or a url"),
        ("a", {"command": "x", "args": "not a list"}, "args must be a list"),
        ("a", {"command": "x", "env": {"K": 1}}, "env must map names to text"),
        ("a", {"url": "ftp://h"}, "url must be an http"),
        ("a", {"url": "http://h", "type": "stdio"}, "type must be"),
        ("a", {"command": "x", "timeout": 0}, "timeout must be"),
        ("a", {"command": "x", "disabled": "yes"}, "disabled must be"),
        ("a", [1, 2], "must be an object"),
    ],
)
def test_bad_entries_get_a_clear_reason(name: str, entry: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_server(name, entry)


def test_a_bad_entry_doesnt_stop_the_others(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": {"ok": {"command": "x"}, "bad": {"args": []}}}))
    loaded = McpConfigFile(path).load()
    assert [s.name for s in loaded.servers] == ["ok"] and "bad" in loaded.problems


def test_a_corrupt_file_is_reported_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text('{"mcpServers": {"a": ')
    config = McpConfigFile(path)
    assert "not valid JSON (line 1" in (config.load().error or "")
    with pytest.raises(ConfigError, match="not valid JSON"):
        config.put("b", {"command": "x"})
    assert path.read_text() == '{"mcpServers": {"a": '


def test_edits_keep_masked_secrets_and_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text(
        json.dumps(
            {
                "globalShortcut": "Ctrl+Space",
                "mcpServers": {
                    "db": {
                        "command": "db-server",
                        "env": {"DB_PASSWORD": "hunter2", "MODE": "ro"},
                        "icon": "db.png",
                    }
                },
            }
        )
    )
    config = McpConfigFile(path)
    shown = config.load().servers[0].masked()
    assert shown["env"] == {"DB_PASSWORD": MASK, "MODE": MASK}
    assert "hunter2" not in json.dumps(shown)
    # The page sends the masked values back with one change.
    config.put(
        "db",
        {"command": "db-server", "env": {"DB_PASSWORD": MASK, "MODE": "rw"}, "timeout": 30},
    )
    saved = json.loads(path.read_text())
    entry = saved["mcpServers"]["db"]
    assert entry["env"] == {"DB_PASSWORD": "hunter2", "MODE": "rw"}
    assert entry["timeout"] == 30 and entry["icon"] == "db.png"
    assert saved["globalShortcut"] == "Ctrl+Space"
    assert path.stat().st_mode & 0o077 == 0  # owner-only: it holds secrets
    config.put("database", {"command": "db-server", "env": {"DB_PASSWORD": MASK}}, rename_from="db")
    assert list(json.loads(path.read_text())["mcpServers"]) == ["database"]
    assert json.loads(path.read_text())["mcpServers"]["database"]["env"] == {
        "DB_PASSWORD": "hunter2"
    }


def test_import_from_claude_desktop(tmp_path: Path) -> None:
    claude = claude_desktop_config(tmp_path, {})
    claude.parent.mkdir(parents=True)
    claude.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "files": {"command": "npx", "args": ["-y", "fs"]},
                    "mine": {"command": "other"},
                    "broken": {"nothing": True},
                }
            }
        )
    )
    ours = McpConfigFile(tmp_path / "mcp.json")
    ours.put("mine", {"command": "keep-me"})
    added, skipped = ours.import_from(claude)
    assert added == ["files"] and sorted(skipped) == ["broken", "mine"]
    servers = {s.name: s for s in ours.load().servers}
    assert servers["mine"].command == "keep-me" and servers["files"].args == ("-y", "fs")
    with pytest.raises(ConfigError, match="There is no file"):
        ours.import_from(tmp_path / "nope.json")


def test_tool_names_never_collide_and_fit_the_limit() -> None:
    taken: set[str] = set()
    a = public_name("my files", "read", taken)
    b = public_name("my_files", "read", taken)
    long = public_name("s" * 60, "t" * 60, taken)
    assert a == "mcp_my_files__read" and b != a and len(long) <= 64
    assert selects(["mcp:*"], "x", "y") and selects(["mcp:x"], "x", "y")
    assert selects(["mcp:x/y"], "x", "y") and not selects(["mcp:x/z"], "x", "y")


def test_rules_ask_allow_block() -> None:
    from datetime import datetime

    from chatkit.types import ThreadMetadata

    thread = ThreadMetadata(id="thr_1", created_at=datetime.now())
    rules = ToolRules({"mcp:files": "allow", "mcp:files/delete": "block", "open_link": "allow"})
    assert rules.policy("mcp:files/read") == "allow" and rules.blocked("mcp:files/delete")
    assert rules.policy("mcp:git/commit") == "ask"  # MCP tools ask unless told otherwise
    assert rules.policy("copy_to_clipboard") == "ask" and rules.policy("search_chats") == "allow"
    assert rules.asks("mcp:git/commit", thread)
    allow_in_chat(thread, "mcp:git/commit")
    assert not rules.asks("mcp:git/commit", thread)
    strict = ToolRules(rules.policies, always_ask=True)
    assert strict.asks("mcp:git/commit", thread) and strict.asks("search_chats", thread)
    assert strict.blocked("mcp:files/delete")


async def test_an_approval_is_decided_once_and_its_run_claimed_once(tmp_path: Path) -> None:
    from datetime import datetime

    from chatkit.types import ThreadMetadata

    store = SQLiteStore(tmp_path / "chats.db")
    try:
        await store.save_thread(
            ThreadMetadata(id="thr_1", created_at=datetime.now()), RequestContext()
        )
        calls = [
            WaitingCall("card_a", "call_a", "mcp:x/a"),
            WaitingCall("card_b", "call_b", "mcp:x/b"),
        ]
        await store.approvals.save("thr_1", "{state}", calls, assistant_id="default", model="m")
        assert await store.approvals.waiting("thr_1") == 2
        first, second = await asyncio.gather(
            store.approvals.decide("thr_1", "card_a", "approve"),
            store.approvals.decide("thr_1", "card_a", "deny"),
        )
        assert sorted([first.status, second.status]) == ["decided", "taken"]
        assert first.run is None and second.run is None  # card_b is still open
        results = await asyncio.gather(
            *(store.approvals.decide("thr_1", "card_b", "deny") for _ in range(5))
        )
        claimed = [r.run for r in results if r.run is not None]
        assert len(claimed) == 1 and claimed[0].state == "{state}"
        assert claimed[0].decisions == {"call_a": first.decision, "call_b": "deny"}
        assert (await store.approvals.decide("thr_1", "card_b", "approve")).status == "taken"
        assert (await store.approvals.decide("thr_2", "card_b", "approve")).status == "expired"
        # A newer message expires what still waits.
        await store.approvals.save(
            "thr_1", "{s2}", [WaitingCall("card_c", "c", "k")], assistant_id=None, model=None
        )
        assert await store.approvals.expire("thr_1") == ["card_c"]
        assert (await store.approvals.decide("thr_1", "card_c", "approve")).status == "expired"
        assert await store.approvals.waiting("thr_1") == 0
    finally:
        store.close()


def test_masked_secrets_stay_with_their_destination(tmp_path: Path) -> None:
    remote = hostile.remote_entry("https://tools.example.com/mcp", "sk-remote-SECRET")
    program = hostile.stdio_entry("sk-env-SECRET")
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": {"remote": remote, "program": program}}))
    config = McpConfigFile(path)
    before = path.read_text()
    edits = hostile.mcp_secret_redirects(remote, program, "https://evil.example/mcp", "/tmp")
    for name, body in edits:
        with pytest.raises(SecretsNeedRetyping) as refused:
            config.put(name, body["entry"], rename_from=body.get("rename_from"))
        assert refused.value.fields, body
        assert "SECRET" not in refused.value.message
        assert path.read_text() == before
    # The same destination, spelled or labelled differently, keeps them.
    same = {**hostile.masked(remote), "url": "https://Tools.Example.com/mcp", "type": "sse"}
    config.put("renamed", same, rename_from="remote")
    kept = json.loads(path.read_text())["mcpServers"]["renamed"]
    assert kept["headers"]["Authorization"] == "Bearer sk-remote-SECRET"
    config.put("program", {**hostile.masked(program), "cwd": "", "timeout": 5})
    assert json.loads(path.read_text())["mcpServers"]["program"]["env"]["API_TOKEN"] == (
        "sk-env-SECRET"
    )


def test_a_typed_change_to_what_runs_is_a_new_destination(tmp_path: Path) -> None:
    """PATH, NODE_OPTIONS, PYTHONPATH, LD_PRELOAD... decide which code the command runs: a typed
    change (or removal) of one refuses the masked secrets; the same value, typed or masked, keeps
    them, and so does a change to another variable."""
    program = hostile.stdio_entry("sk-env-SECRET")
    program["env"] |= {"PATH": "/usr/bin:/bin", "DYLD_INSERT_LIBRARIES": "/opt/a.dylib"}
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": {"program": program}}))
    config = McpConfigFile(path)
    masked = hostile.masked(program)["env"]
    for name, value in (
        ("PATH", "/tmp/evil:/usr/bin"),
        ("path", "/tmp/evil"),
        ("PYTHONSTARTUP", "/tmp/evil.py"),
        ("ld_library_path", "/tmp"),
        ("DYLD_INSERT_LIBRARIES", "/tmp/evil.dylib"),
        ("NPM_CONFIG_REGISTRY", "https://evil.example/"),
    ):
        with pytest.raises(SecretsNeedRetyping) as refused:
            config.put("program", hostile.launch_env_edit(program, value, name)["entry"])
        assert refused.value.message.startswith(f"The {name} changed"), name
    without_path = {k: v for k, v in masked.items() if k != "PATH"}
    with pytest.raises(SecretsNeedRetyping, match="The PATH changed"):
        config.put("program", {**program, "env": without_path})
    kept = {**masked, "PATH": "/usr/bin:/bin", "MODE": "rw"}
    config.put("program", {**program, "env": kept})
    saved = json.loads(path.read_text())["mcpServers"]["program"]["env"]
    assert saved == {**program["env"], "MODE": "rw"}
