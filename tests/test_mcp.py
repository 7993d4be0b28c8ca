"""MCP servers and approvals end to end: a real MCP server written for the tests (stdio and
Streamable HTTP), configured through mcp.json, driven through POST /chatkit in both API
flavours against the fake provider."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from desktop.chat.approval_flow import DECLINED
from tests.mcp_helpers import (
    SERVER_SCRIPT,
    answer,
    card_text,
    cards,
    done_items,
    replaced,
    send,
    stdio_entry,
    tool_names,
    wait_for,
    write_config,
)
from tests.support.fake_provider import FakeProvider, tool_outputs
from tests.support.live import LiveServer, live_server
from tests.test_mentions import tagged


@pytest.fixture
def mcp_live(data_dir: Path, env: dict[str, str], notes: Path) -> Iterator[LiveServer]:
    write_config(data_dir, {"notes": stdio_entry(notes, timeout=3)})
    with live_server(data_dir, env) as live:
        wait_for(live, "notes")
        yield live


def set_settings(server: LiveServer, **changes: object) -> None:
    response = server.client.put("/api/settings", content=json.dumps({"settings": changes}))
    assert response.status_code == 200, response.text


def test_tools_are_offered_under_names_that_carry_the_server(
    mcp_live: LiveServer, provider: FakeProvider
) -> None:
    provider.reply("Hello.")
    send(mcp_live, None, "hi")
    names = tool_names(provider.chat_requests()[-1].body)
    assert {"mcp_notes__echo", "mcp_notes__write_note", "mcp_notes__slow"} <= set(names)
    assert "search_chats" in names  # the built-in tools stay


def test_a_call_waits_for_approval_and_runs_once_approved(
    mcp_live: LiveServer, provider: FakeProvider, notes: Path
) -> None:
    text = "line one\n" + "x" * 3000 + "\nlast line"
    provider.call_tools(("mcp_notes__write_note", {"name": "a.txt", "text": text}))
    thread_id, events = send(mcp_live, None, "Write my note")
    (card,) = cards(events)
    shown = card_text(card)
    assert "write_note" in shown and "MCP server “notes”" in shown
    arguments = card["widget"]["children"][2]["value"]
    assert json.dumps(text) in arguments  # the arguments in full, never cut
    assert not (notes / "a.txt").exists()  # nothing ran before the click
    requests_before = len(provider.chat_requests())

    provider.reply("Written.")
    events = answer(mcp_live, thread_id, card, "approve")
    (redrawn,) = replaced(events)
    assert "Approved at" in card_text(redrawn) and "Button" not in card_text(redrawn)
    assert (notes / "a.txt").read_text() == text
    (output,) = tool_outputs(provider.chat_requests()[-1].body)
    assert f"wrote {len(text)} characters" in output
    assert done_items(events, "assistant_message")[-1]["content"][0]["text"] == "Written."

    # A second click (or a second window) runs nothing again and shows what was decided.
    again = answer(mcp_live, thread_id, card, "deny")
    assert "Approved at" in card_text(replaced(again)[0])
    assert len(provider.chat_requests()) == requests_before + 1
    stored = {i["id"]: i for i in mcp_live.items(thread_id)}
    assert "Approved at" in card_text(stored[card["id"]])


def test_deny_tells_the_model_and_the_chat_goes_on(
    mcp_live: LiveServer, provider: FakeProvider, notes: Path
) -> None:
    provider.call_tools(("mcp_notes__write_note", {"name": "b.txt", "text": "no"}))
    thread_id, events = send(mcp_live, None, "Write it")
    (card,) = cards(events)
    provider.reply("Alright, I won't.")
    events = answer(mcp_live, thread_id, card, "deny")
    assert "Denied at" in card_text(replaced(events)[0])
    assert not (notes / "b.txt").exists()
    (output,) = tool_outputs(provider.chat_requests()[-1].body)
    assert output == DECLINED
    provider.reply("Sure.")
    _, events = send(mcp_live, thread_id, "Thanks")
    assert done_items(events, "assistant_message")[-1]["content"][0]["text"] == "Sure."
    # Later turns read the card as a short sentence, not as widget JSON.
    history = json.dumps(provider.chat_requests()[-1].body)
    assert "Approval request for the tool write_note" in history and "the user denied" in history
    assert "onClickAction" not in history


def test_a_pending_approval_survives_a_restart(
    data_dir: Path, env: dict[str, str], notes: Path, provider: FakeProvider
) -> None:
    write_config(data_dir, {"notes": stdio_entry(notes)})
    provider.call_tools(("mcp_notes__write_note", {"name": "c.txt", "text": "after restart"}))
    with live_server(data_dir, env) as first:
        wait_for(first, "notes")
        thread_id, events = send(first, None, "Write it later")
        (card,) = cards(events)
    assert not (notes / "c.txt").exists()
    provider.reply("Done after the restart.")
    with live_server(data_dir, env) as second:
        wait_for(second, "notes")
        events = answer(second, thread_id, card, "approve")
        assert (notes / "c.txt").read_text() == "after restart"
        assert done_items(events, "assistant_message")[-1]["content"][0]["text"] == (
            "Done after the restart."
        )
        # exactly once: a second answer after the resume runs nothing
        count = len(provider.chat_requests())
        answer(second, thread_id, card, "approve")
        assert len(provider.chat_requests()) == count


def test_a_newer_message_makes_the_card_stale(
    mcp_live: LiveServer, provider: FakeProvider, notes: Path
) -> None:
    provider.call_tools(("mcp_notes__write_note", {"name": "d.txt", "text": "stale"}))
    thread_id, events = send(mcp_live, None, "Write it")
    (card,) = cards(events)
    provider.reply("Something else then.")
    _, events = send(mcp_live, thread_id, "Never mind")
    (stale,) = replaced(events)
    assert stale["id"] == card["id"] and "Not run: a newer message was sent" in card_text(stale)
    count = len(provider.chat_requests())
    events = answer(mcp_live, thread_id, card, "approve")
    assert "Not run" in card_text(replaced(events)[0])
    assert len(provider.chat_requests()) == count
    assert not (notes / "d.txt").exists()


def test_always_allow_in_this_chat_is_remembered_with_the_chat(
    mcp_live: LiveServer, provider: FakeProvider
) -> None:
    provider.call_tools(("mcp_notes__echo", {"text": "one"}))
    thread_id, events = send(mcp_live, None, "Echo one")
    (card,) = cards(events)
    provider.reply("Echoed.")
    events = answer(mcp_live, thread_id, card, "always")
    assert "Always allowed in this chat" in card_text(replaced(events)[0])
    provider.call_tools(("mcp_notes__echo", {"text": "two"}))
    provider.reply("Echoed again.")
    _, events = send(mcp_live, thread_id, "Echo two")
    assert cards(events) == []
    assert "echo: two" in tool_outputs(provider.chat_requests()[-1].body)[-1]
    # another chat still asks
    provider.call_tools(("mcp_notes__echo", {"text": "three"}))
    _, events = send(mcp_live, None, "Echo three")
    assert len(cards(events)) == 1


def test_the_server_gives_the_page_each_key_it_reads(mcp_live: LiveServer) -> None:
    """The page writes no tool keys of its own: policies and assistants use the ones given."""
    (notes,) = [
        s for s in mcp_live.client.get("/api/mcp").json()["servers"] if s["name"] == "notes"
    ]
    echo = next(t for t in notes["tools"] if t["name"] == "echo")
    assert (notes["key"], echo["key"]) == ("mcp:notes", "mcp:notes/echo")
    created = mcp_live.client.post(
        "/api/assistants",
        json={"name": "Echo", "instructions": "Echo.", "tools": [echo["key"], "current_time"]},
    )
    assert created.status_code == 201, created.text
    listing = mcp_live.client.get("/api/assistants").json()
    assert listing["all_mcp"] == "mcp:*"
    assert listing["tool_labels"][echo["key"]] == "notes/echo (MCP)"
    assert listing["tool_labels"]["current_time"] == "Date and time"


def test_settings_allow_block_and_always_ask(mcp_live: LiveServer, provider: FakeProvider) -> None:
    set_settings(mcp_live, tool_policies={"mcp:notes/echo": "allow"})
    provider.call_tools(("mcp_notes__echo", {"text": "free"}))
    provider.reply("Done.")
    _, events = send(mcp_live, None, "Echo")
    assert cards(events) == []
    assert "echo: free" in tool_outputs(provider.chat_requests()[-1].body)[0]

    set_settings(mcp_live, tool_policies={"mcp:notes": "block", "mcp:notes/echo": "allow"})
    provider.reply("No tools.")
    send(mcp_live, None, "hi")
    names = tool_names(provider.chat_requests()[-1].body)
    assert "mcp_notes__echo" in names and "mcp_notes__write_note" not in names

    # The global switch makes even an allowed or built-in tool ask.
    set_settings(mcp_live, tool_policies={"mcp:notes/echo": "allow"}, always_ask_tools=True)
    provider.call_tools(("current_time", {}))
    _, events = send(mcp_live, None, "What time is it?")
    (card,) = cards(events)
    assert "Date and time" in card_text(card) and "Built-in tool" in card_text(card)


def test_progress_notifications_become_progress_updates(
    mcp_live: LiveServer, provider: FakeProvider
) -> None:
    set_settings(mcp_live, tool_policies={"mcp:notes": "allow"})
    provider.call_tools(("mcp_notes__slow", {"seconds": 0.4}))
    provider.reply("Finished.")
    _, events = send(mcp_live, None, "Take your time")
    progress = [e["text"] for e in events if e["type"] == "progress_update"]
    assert any("step 4 of 4" in p and "notes: slow" in p for p in progress), progress
    assert "done after 0.4 s" in tool_outputs(provider.chat_requests()[-1].body)[0]


def test_a_hung_call_times_out_without_blocking_other_chats(
    mcp_live: LiveServer, provider: FakeProvider
) -> None:
    set_settings(mcp_live, tool_policies={"mcp:notes": "allow"})
    provider.call_tools(("mcp_notes__slow", {"seconds": 30}))
    slow_events: list[dict[str, Any]] = []
    runner = threading.Thread(target=lambda: slow_events.extend(send(mcp_live, None, "slow")[1]))
    runner.start()
    for _ in range(200):  # until the slow chat's model request is in, and its call under way
        if provider.chat_requests():
            break
        time.sleep(0.05)
    time.sleep(0.3)
    provider.reply("Quick answer.")
    _, quick = send(mcp_live, None, "quick")
    # Answered while the other chat's call was still waiting for its server.
    assert runner.is_alive() and not slow_events
    assert done_items(quick, "assistant_message")[-1]["content"][0]["text"] == "Quick answer."
    provider.reply("It timed out.")  # for the slow chat, once its call gave up (after 3 s)
    runner.join(20)
    (workflow,) = done_items(slow_events, "workflow")
    assert "didn't answer in time" in workflow["workflow"]["tasks"][0]["title"]


def test_a_server_that_crashes_is_reported_and_restarted_on_next_use(
    mcp_live: LiveServer, provider: FakeProvider
) -> None:
    set_settings(mcp_live, tool_policies={"mcp:notes": "allow"})
    provider.call_tools(("mcp_notes__crash", {}))
    provider.reply("It crashed.")
    _, events = send(mcp_live, None, "crash it")
    (workflow,) = done_items(events, "workflow")
    assert "failed: the server stopped" in workflow["workflow"]["tasks"][0]["title"]
    entry = wait_for(mcp_live, "notes", ("stopped", "failed"))
    assert "crashing on purpose" in entry["stderr"]
    provider.call_tools(("mcp_notes__echo", {"text": "back"}))
    provider.reply("Back again.")
    _, events = send(mcp_live, None, "echo")
    assert "echo: back" in tool_outputs(provider.chat_requests()[-1].body)[0]
    assert wait_for(mcp_live, "notes")["state"] == "connected"


def test_a_server_that_fails_to_start_shows_why(
    data_dir: Path,
    env: dict[str, str],
    notes: Path,
    provider: FakeProvider,
    caplog: pytest.LogCaptureFixture,
) -> None:
    write_config(
        data_dir,
        {
            "broken": stdio_entry(
                notes, env={"NOTES_FAIL_START": "1", "API_TOKEN": "tok-secret-123"}
            ),
            "missing": {"command": "/nonexistent/mcp-server"},
        },
    )
    with live_server(data_dir, env) as live:
        broken = wait_for(live, "broken", ("failed",))
        assert "can't open the notes folder" in broken["stderr"]
        missing = wait_for(live, "missing", ("failed",))
        assert "not found" in missing["error"]
        page = live.client.get("/api/mcp").text
        assert "tok-secret-123" not in page and broken["env"]["API_TOKEN"] == "••••••••"
        provider.reply("Still fine.")
        _, events = send(live, None, "hi")  # the chat works without them
        assert done_items(events, "assistant_message")
    assert "exited before it was ready" in broken["error"]
    log_text = caplog.text
    # What a server prints stays in its own log file, which the app's log names.
    assert "can't open the notes folder" not in log_text and "broken.stderr.log" in log_text
    assert "tok-secret-123" not in log_text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(params=["http", "sse"])
def remote_server(request: pytest.FixtureRequest, notes: Path) -> Iterator[tuple[str, str]]:
    """The test server over the network: Streamable HTTP, or the older SSE transport."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(SERVER_SCRIPT), request.param, str(port)],
        env={"PATH": "/usr/bin:/bin", "NOTES_DIR": str(notes)},
        stderr=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    path = "/mcp" if request.param == "http" else "/sse"
    yield request.param, f"http://127.0.0.1:{port}{path}"
    proc.terminate()
    proc.wait(10)


def test_a_remote_server(
    data_dir: Path, env: dict[str, str], provider: FakeProvider, remote_server: tuple[str, str]
) -> None:
    transport, url = remote_server
    write_config(
        data_dir, {"remote": {"url": url, "headers": {"Authorization": "Bearer sekrit-42"}}}
    )
    with live_server(data_dir, env) as live:
        entry = wait_for(live, "remote")
        assert entry["transport"] == transport
        assert entry["headers"] == {"Authorization": "••••••••"}
        provider.call_tools(("mcp_remote__add", {"a": 2, "b": 40}))
        thread_id, events = send(live, None, "Add")
        (card,) = cards(events)
        provider.reply("42.")
        answer(live, thread_id, card, "approve")
        assert "42" in tool_outputs(provider.chat_requests()[-1].body)[0]  # 2 + 40, from the server


def test_a_servers_resources_can_be_mentioned(mcp_live: LiveServer, provider: FakeProvider) -> None:
    found = mcp_live.client.get("/api/entities", params={"q": "readme"}).json()["entities"]
    (resource,) = [e for e in found if e["data"]["type"] == "mcp_resource"]
    assert resource["title"] == "Notes readme" and resource["group"] == "From notes"
    assert resource["id"] == "mcp:notes:notes://readme"
    preview = mcp_live.client.get(f"/api/entities/{resource['id']}/preview").json()["preview"]
    assert "shopping lists and ideas" in json.dumps(preview)
    provider.reply("It keeps shopping lists.")
    message = tagged("What is in", resource)
    mcp_live.stream("threads.create", input=message)
    sent = json.dumps(provider.chat_requests()[-1].body)
    assert "The notes folder keeps shopping lists and ideas." in sent
    missing = mcp_live.client.get("/api/entities/mcp:nope:x/preview")
    assert missing.status_code == 404
