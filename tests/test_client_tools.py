"""Tools that run in the page, through POST /chatkit in both API flavours: the turn stops at the
call, the page's result resumes it, and every call keeps its own id."""

from __future__ import annotations

import json
from typing import Any

from tests.mcp_helpers import answer, card_text, cards
from tests.support.fake_provider import FakeProvider, tool_outputs
from tests.support.live import LiveServer


def make_assistant(server: LiveServer, tools: list[str]) -> str:
    body = {"name": "Helper", "instructions": "Help.", "tools": tools}
    return str(server.client.post("/api/assistants", content=json.dumps(body)).json()["id"])


def start(server: LiveServer, assistant: str, text: str) -> tuple[str, list[dict[str, Any]]]:
    message = {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {"tool_choice": {"id": f"assistant:{assistant}"}},
    }
    events = server.stream("threads.create", input=message)
    return events[0]["thread"]["id"], events


def pending_calls(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        e["item"]
        for e in events
        if e["type"] == "thread.item.done" and e["item"]["type"] == "client_tool_call"
    ]


def pending_call(events: list[dict[str, Any]]) -> dict[str, Any]:
    (call,) = pending_calls(events)
    return call


def test_a_page_tool_pauses_the_turn_and_the_result_resumes_it(
    server: LiveServer, provider: FakeProvider
) -> None:
    helper = make_assistant(server, ["set_theme", "search_chats"])
    provider.call_tools(("set_theme", {"theme": "dark"}))
    thread_id, events = start(server, helper, "Switch to dark mode")
    call = pending_call(events)
    assert (call["name"], call["arguments"], call["status"]) == (
        "set_theme",
        {"theme": "dark"},
        "pending",
    )
    assert call["id"] != "__fake_id__"
    # one call at a time when page tools are on
    assert provider.chat_requests()[-1].body.get("parallel_tool_calls") is False
    provider.reply("Done, it's dark now.")
    events = server.stream(
        "threads.add_client_tool_output", thread_id=thread_id, result={"theme": "dark"}
    )
    (output,) = tool_outputs(provider.chat_requests()[-1].body)
    assert json.loads(output) == {"theme": "dark"}
    assert [e for e in events if e["type"] == "thread.item.done"][-1]["item"]["type"] == (
        "assistant_message"
    )
    stored = {i["type"]: i for i in server.items(thread_id)}
    assert stored["client_tool_call"]["status"] == "completed"
    assert stored["client_tool_call"]["output"] == {"theme": "dark"}
    # the resumed turn ran the chat's assistant, not the default one
    assert "Help." in json.dumps(provider.chat_requests()[-1].body)


def test_two_page_tool_calls_in_a_thread_keep_their_own_ids(
    server: LiveServer, provider: FakeProvider
) -> None:
    helper = make_assistant(server, ["copy_to_clipboard", "open_link"])
    provider.call_tools(("copy_to_clipboard", {"text": "hello"}))
    thread_id, events = start(server, helper, "Copy hello")
    # Tools that act outside the chat ask first; once approved, the page gets the call.
    (card,) = cards(events)
    assert "Copy to the clipboard" in card_text(card) and pending_calls(events) == []
    first = pending_call(answer(server, thread_id, card, "approve"))
    provider.reply("Copied.")
    server.stream("threads.add_client_tool_output", thread_id=thread_id, result={"ok": True})
    provider.call_tools(("open_link", {"url": "https://example.org/"}))
    events = server.stream(
        "threads.add_user_message",
        thread_id=thread_id,
        input={
            "content": [{"type": "input_text", "text": "Open example.org"}],
            "attachments": [],
            "inference_options": {},
        },
    )
    (card,) = cards(events)
    second = pending_call(answer(server, thread_id, card, "always"))
    assert second["id"] != first["id"]
    calls = [i for i in server.items(thread_id) if i["type"] == "client_tool_call"]
    assert [c["name"] for c in calls] == ["copy_to_clipboard", "open_link"]


def test_a_bad_link_is_refused_before_the_page_sees_it(
    server: LiveServer, provider: FakeProvider
) -> None:
    helper = make_assistant(server, ["open_link"])
    body = {"settings": {"tool_policies": {"open_link": "allow"}}}
    assert server.client.put("/api/settings", content=json.dumps(body)).status_code == 200
    provider.call_tools(("open_link", {"url": "file:///etc/passwd"}))
    provider.reply("I can't open that.")
    _, events = start(server, helper, "Open my passwords")
    assert not [
        e
        for e in events
        if e["type"] == "thread.item.done" and e["item"]["type"] == "client_tool_call"
    ]
    (output,) = tool_outputs(provider.chat_requests()[-1].body)
    assert "only http:// and https:// addresses" in output
