"""Every way a turn pauses and goes on, in a chat people actually have: earlier questions and
answers, a tool step and an attachment; in both API flavours; in the same process and after a
restart. Every resumed turn must end in an answer."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.mcp_helpers import answer, cards, done_items, stdio_entry, wait_for, write_config
from tests.support.fake_provider import FakeProvider, tool_outputs
from tests.support.live import LiveServer, live_server, user_input

TOOLS = ["search_chats", "set_theme", "mcp:notes"]


def _errors(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == "error"]


def _answered(events: list[dict[str, Any]], text: str) -> None:
    assert not _errors(events), _errors(events)
    assert done_items(events, "assistant_message")[-1]["content"][0]["text"] == text


def _chat_with_history(live: LiveServer, provider: FakeProvider) -> str:
    """Two earlier turns: one with an attached file, one with a tool step (search_chats)."""
    body = b"Gate code: 2468. Bins go out on Tuesday."
    att = live.call("attachments.create", name="house.txt", size=len(body), mime_type="text/plain")
    live.client.put(f"/api/attachments/{att['id']}/upload", content=body)
    helper = live.client.post(
        "/api/assistants", json={"name": "Helper", "instructions": "Help.", "tools": TOOLS}
    ).json()["id"]
    message = user_input("Here are my house notes", [att["id"]])
    message["inference_options"] = {"tool_choice": {"id": f"assistant:{helper}"}}
    provider.reply("Got them.")
    events = live.stream("threads.create", input=message)
    _answered(events, "Got them.")
    thread_id = str(events[0]["thread"]["id"])
    provider.call_tools(("search_chats", {"query": "bins"}))
    provider.reply("Bins go out on Tuesday.")
    events = live.stream("threads.add_user_message", thread_id=thread_id, input=user_input("Bins?"))
    _answered(events, "Bins go out on Tuesday.")
    assert done_items(events, "workflow")
    return thread_id


def _pause_for_approval(live: LiveServer, provider: FakeProvider, thread_id: str) -> Any:
    provider.call_tools(("mcp_notes__write_note", {"name": "gate.txt", "text": "2468"}))
    events = live.stream(
        "threads.add_user_message", thread_id=thread_id, input=user_input("Note the gate code")
    )
    assert not _errors(events), _errors(events)
    (card,) = cards(events)
    return card


def _pause_for_the_page(live: LiveServer, provider: FakeProvider, thread_id: str) -> Any:
    provider.call_tools(("set_theme", {"theme": "dark"}))
    events = live.stream(
        "threads.add_user_message", thread_id=thread_id, input=user_input("Dark mode")
    )
    assert not _errors(events), _errors(events)
    (call,) = done_items(events, "client_tool_call")
    return call


def _approve(live: LiveServer, thread_id: str, card: Any) -> list[dict[str, Any]]:
    return answer(live, thread_id, card, "approve")


def _always(live: LiveServer, thread_id: str, card: Any) -> list[dict[str, Any]]:
    return answer(live, thread_id, card, "always")


def _deny(live: LiveServer, thread_id: str, card: Any) -> list[dict[str, Any]]:
    return answer(live, thread_id, card, "deny")


def _page_answers(live: LiveServer, thread_id: str, call: Any) -> list[dict[str, Any]]:
    return live.stream(
        "threads.add_client_tool_output", thread_id=thread_id, result={"theme": "dark"}
    )


Pause = Callable[[LiveServer, FakeProvider, str], Any]
Resume = Callable[[LiveServer, str, Any], list[dict[str, Any]]]

WAYS: dict[str, tuple[Pause, Resume, str]] = {
    "approve": (_pause_for_approval, _approve, "wrote 4 characters"),
    "always allow": (_pause_for_approval, _always, "wrote 4 characters"),
    "deny": (_pause_for_approval, _deny, "declined"),
    "page tool": (_pause_for_the_page, _page_answers, "dark"),
}


@pytest.mark.parametrize("restart", [False, True], ids=["same process", "after a restart"])
@pytest.mark.parametrize("way", sorted(WAYS))
def test_a_paused_turn_in_a_chat_with_history_answers(
    data_dir: Path,
    env: dict[str, str],
    notes: Path,
    provider: FakeProvider,
    way: str,
    restart: bool,
) -> None:
    pause, resume, in_tool_output = WAYS[way]
    write_config(data_dir, {"notes": stdio_entry(notes)})
    with live_server(data_dir, env) as live:
        wait_for(live, "notes")
        thread_id = _chat_with_history(live, provider)
        waiting = pause(live, provider, thread_id)
        if not restart:
            provider.reply("All done.")
            events = resume(live, thread_id, waiting)
    if restart:
        with live_server(data_dir, env) as live:
            wait_for(live, "notes")
            provider.reply("All done.")
            events = resume(live, thread_id, waiting)
    _answered(events, "All done.")
    last = provider.chat_requests()[-1].body
    assert in_tool_output in " ".join(tool_outputs(last)).lower()
    # The resumed request carried the chat's history: the file and the earlier answers.
    sent = json.dumps(last)
    assert "Gate code: 2468" in sent and "Bins go out on Tuesday." in sent


def _act_and_retry(live: LiveServer, provider: FakeProvider, thread_id: str) -> None:
    provider.reply("Picked.")
    events = live.stream(
        "threads.custom_action",
        thread_id=thread_id,
        action={"type": "shop.pick", "payload": {"item": "bin bags"}},
    )
    _answered(events, "Picked.")
    assert "bin bags" in json.dumps(provider.chat_requests()[-1].body)
    last_user = [i for i in live.items(thread_id) if i["type"] == "user_message"][-1]
    provider.reply("Again: bins go out on Tuesday.")
    events = live.stream("threads.retry_after_item", thread_id=thread_id, item_id=last_user["id"])
    _answered(events, "Again: bins go out on Tuesday.")
    assert "Gate code: 2468" in json.dumps(provider.chat_requests()[-1].body)


@pytest.mark.parametrize("restart", [False, True], ids=["same process", "after a restart"])
def test_a_widget_action_and_a_retry_in_a_chat_with_history_answer(
    data_dir: Path, env: dict[str, str], notes: Path, provider: FakeProvider, restart: bool
) -> None:
    write_config(data_dir, {"notes": stdio_entry(notes)})
    with live_server(data_dir, env) as live:
        wait_for(live, "notes")
        thread_id = _chat_with_history(live, provider)
        if not restart:
            _act_and_retry(live, provider, thread_id)
    if restart:
        with live_server(data_dir, env) as live:
            _act_and_retry(live, provider, thread_id)
