"""POST /chatkit with the JSON the ChatKit web component sends, for every request type.

Each test runs twice: against the Responses API and against Chat Completions.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from chatkit.types import (
    StructuredInputFreeform,
    StructuredInputItem,
    WidgetItem,
)

from desktop.context import RequestContext
from tests.support.fake_provider import FakeProvider, tool_outputs
from tests.support.live import LiveServer, live_server, user_input
from tests.test_client_tools import make_assistant, pending_call, start

CTX = RequestContext()


def kinds(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


def assistant_text(events: list[dict[str, Any]]) -> str:
    done = [
        e
        for e in events
        if e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message"
    ]
    assert len(done) == 1, kinds(events)
    return "".join(part["text"] for part in done[0]["item"]["content"])


def test_create_streams_the_documented_events_and_persists(
    server: LiveServer, provider: FakeProvider
) -> None:
    provider.reply("Hi! How can I help?")
    thread_id, events = server.create_thread("Hello there")
    assert kinds(events)[:3] == ["thread.created", "thread.item.done", "stream_options"]
    assert events[1]["item"]["type"] == "user_message"
    assert "thread.item.added" in kinds(events)
    deltas = [
        e["update"]["delta"]
        for e in events
        if e["type"] == "thread.item.updated"
        and e["update"]["type"] == "assistant_message.content_part.text_delta"
    ]
    assert "".join(deltas) == "Hi! How can I help?"
    assert assistant_text(events) == "Hi! How can I help?"
    assert kinds(events)[-1] == "thread.updated"
    assert events[-1]["thread"]["title"] == "Fake title"
    items = server.items(thread_id)
    assert [i["type"] for i in items] == ["user_message", "assistant_message"]
    assert server.call("threads.get_by_id", thread_id=thread_id)["title"] == "Fake title"
    # the key went to the provider, and nowhere else
    assert (
        provider.chat_requests()[0].headers["authorization"]
        == f"Bearer {server.env['OPENAI_API_KEY']}"
    )


def test_multi_turn_sends_history_and_ids_are_unique(
    server: LiveServer, provider: FakeProvider
) -> None:
    provider.reply("First answer", "Second answer", "Third answer")
    thread_id, _ = server.create_thread("one")
    server.stream("threads.add_user_message", thread_id=thread_id, input=user_input("two"))
    events = server.stream(
        "threads.add_user_message", thread_id=thread_id, input=user_input("three")
    )
    assert assistant_text(events) == "Third answer"
    items = server.items(thread_id)
    assert [i["type"] for i in items] == ["user_message", "assistant_message"] * 3
    ids = [i["id"] for i in items]
    assert len(set(ids)) == 6 and "__fake_id__" not in ids
    last = provider.chat_requests()[-1].body
    sent = json.dumps(last)
    for text in ("one", "First answer", "two", "Second answer", "three"):
        assert text in sent
    assert last.get("instructions") or any(
        m.get("role") == "system" for m in last.get("messages", [])
    )


def test_list_update_and_delete_threads(server: LiveServer) -> None:
    first, _ = server.create_thread("first")
    second, _ = server.create_thread("second")
    listed = server.call("threads.list", limit=10, order="desc")
    assert [t["id"] for t in listed["data"]] == [second, first]
    page = server.call("threads.list", limit=1, order="desc")
    assert page["has_more"] and page["after"] == second
    assert [
        t["id"]
        for t in server.call("threads.list", limit=1, after=page["after"], order="desc")["data"]
    ] == [first]
    updated = server.call("threads.update", thread_id=first, title="Renamed")
    assert updated["title"] == "Renamed"
    assert server.call("threads.delete", thread_id=second) == {}
    assert [t["id"] for t in server.call("threads.list", limit=10, order="desc")["data"]] == [first]
    assert (
        server.post({"type": "threads.get_by_id", "params": {"thread_id": second}}).status_code
        == 404
    )


def test_items_list_pages(server: LiveServer) -> None:
    thread_id, _ = server.create_thread("one")
    server.stream("threads.add_user_message", thread_id=thread_id, input=user_input("two"))
    page = server.call("items.list", thread_id=thread_id, limit=3, order="asc")
    assert len(page["data"]) == 3 and page["has_more"]
    rest = server.call("items.list", thread_id=thread_id, limit=3, order="asc", after=page["after"])
    assert len(rest["data"]) == 1 and not rest["has_more"]


def test_retry_after_item_replaces_the_answer(server: LiveServer, provider: FakeProvider) -> None:
    provider.reply("bad answer", "better answer")
    thread_id, events = server.create_thread("question")
    user_id = events[1]["item"]["id"]
    retried = server.stream("threads.retry_after_item", thread_id=thread_id, item_id=user_id)
    assert assistant_text(retried) == "better answer"
    items = server.items(thread_id)
    assert [i["type"] for i in items] == ["user_message", "assistant_message"]
    assert items[1]["content"][0]["text"] == "better answer"


def test_feedback_is_recorded(server: LiveServer) -> None:
    thread_id, events = server.create_thread("question")
    answer = [e for e in events if e["type"] == "thread.item.done"][-1]["item"]["id"]
    assert (
        server.call("items.feedback", thread_id=thread_id, item_ids=[answer], kind="positive") == {}
    )
    assert asyncio.run(server.store.feedback.load(thread_id)) == {answer: "positive"}


def test_text_and_image_attachments_reach_the_model(
    server: LiveServer, provider: FakeProvider
) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    text_att = server.call(
        "attachments.create", name="notes.md", size=21, mime_type="text/markdown"
    )
    image_att = server.call(
        "attachments.create", name="pic.png", size=len(png), mime_type="image/png"
    )
    assert image_att["type"] == "image" and image_att["preview_url"].endswith(
        f"/api/attachments/{image_att['id']}/content"
    )
    for att, body in ((text_att, b"# Notes\nremember milk"), (image_att, png)):
        descriptor = att["upload_descriptor"]
        response = server.client.request(
            descriptor["method"], descriptor["url"], content=body, headers=descriptor["headers"]
        )
        assert response.status_code == 200, response.text
        assert "upload_descriptor" not in response.json()
    preview = server.client.get(f"/api/attachments/{image_att['id']}/content")
    assert preview.status_code == 200 and preview.content == png
    assert preview.headers["content-type"] == "image/png"
    events = server.stream(
        "threads.create", input=user_input("what is this?", [text_att["id"], image_att["id"]])
    )
    user_item = events[1]["item"]
    assert [a["id"] for a in user_item["attachments"]] == [text_att["id"], image_att["id"]]
    sent = json.dumps(provider.chat_requests()[-1].body)
    assert "remember milk" in sent
    assert "data:image/png;base64," in sent
    # the thread's attachments are deleted with it
    thread_id = events[0]["thread"]["id"]
    server.call("threads.delete", thread_id=thread_id)
    assert not (server.data_dir / "attachments" / image_att["id"]).exists()
    assert server.client.get(f"/api/attachments/{image_att['id']}/content").status_code == 404


def test_attachment_delete(server: LiveServer) -> None:
    att = server.call("attachments.create", name="a.txt", size=3, mime_type="text/plain")
    server.client.put(f"/api/attachments/{att['id']}/upload", content=b"abc")
    assert (server.data_dir / "attachments" / att["id"]).exists()
    assert server.call("attachments.delete", attachment_id=att["id"]) == {}
    assert not (server.data_dir / "attachments" / att["id"]).exists()


def test_multipart_upload_is_accepted(server: LiveServer) -> None:
    att = server.call("attachments.create", name="a.txt", size=5, mime_type="text/plain")
    response = server.client.post(
        f"/api/attachments/{att['id']}/upload", files={"file": ("a.txt", b"hello", "text/plain")}
    )
    assert response.status_code == 200, response.text
    assert server.client.get(f"/api/attachments/{att['id']}/content").content == b"hello"


def test_client_tool_output_continues_the_turn(server: LiveServer, provider: FakeProvider) -> None:
    # A chat with an earlier turn, then a page tool the server itself calls.
    helper = make_assistant(server, ["set_theme"])
    provider.reply("Hello.")
    thread_id, _ = start(server, helper, "hi")
    provider.call_tools(("set_theme", {"theme": "dark"}))
    events = server.stream(
        "threads.add_user_message", thread_id=thread_id, input=user_input("dark")
    )
    call = pending_call(events)
    provider.reply("It's dark now.")
    events = server.stream(
        "threads.add_client_tool_output", thread_id=thread_id, result={"theme": "dark"}
    )
    assert assistant_text(events) == "It's dark now."
    stored = asyncio.run(server.store.load_item(thread_id, call["id"], CTX))
    assert stored.status == "completed" and stored.output == {"theme": "dark"}
    assert "dark" in " ".join(tool_outputs(provider.chat_requests()[-1].body))


def test_structured_input_answer_continues_the_turn(
    server: LiveServer, provider: FakeProvider
) -> None:
    thread_id, _ = server.create_thread("ask me")
    item = StructuredInputItem(
        id="si_1",
        thread_id=thread_id,
        created_at=datetime.now(),
        inputs=[StructuredInputFreeform(id="q1", question="Your name?")],
    )
    asyncio.run(server.store.add_thread_item(thread_id, item, CTX))
    provider.reply("Nice to meet you, Ada.")
    events = server.stream(
        "threads.add_structured_input",
        thread_id=thread_id,
        item_id="si_1",
        input={"status": "answered", "answers": {"q1": {"values": ["Ada"]}}},
    )
    assert "thread.item.replaced" in kinds(events)
    assert assistant_text(events) == "Nice to meet you, Ada."


def test_widget_actions(server: LiveServer, provider: FakeProvider) -> None:
    thread_id, _ = server.create_thread("show a widget")
    widget = WidgetItem.model_validate(
        {
            "id": "wid_1",
            "thread_id": thread_id,
            "created_at": datetime.now(),
            "widget": {
                "type": "Card",
                "children": [
                    {
                        "type": "Button",
                        "label": "Yes",
                        "onClickAction": {"type": "confirm", "payload": {"v": 1}},
                    }
                ],
            },
        }
    )
    asyncio.run(server.store.add_thread_item(thread_id, widget, CTX))
    provider.reply("Confirmed.")
    events = server.stream(
        "threads.custom_action",
        thread_id=thread_id,
        item_id="wid_1",
        action={"type": "confirm", "payload": {"v": 1}},
    )
    assert assistant_text(events) == "Confirmed."
    assert "confirm" in json.dumps(provider.chat_requests()[-1].body)
    assert (
        server.call(
            "threads.sync_custom_action",
            thread_id=thread_id,
            item_id="wid_1",
            action={"type": "confirm", "payload": {}},
        )
        == {}
    )


def test_transcribe_is_a_clear_400(server: LiveServer) -> None:
    response = server.post(
        {"type": "input.transcribe", "params": {"audio_base64": "AAAA", "mime_type": "audio/webm"}}
    )
    assert response.status_code == 400
    assert "Dictation" in response.json()["error"]["message"]


def test_history_survives_a_restart(
    data_dir: Path, env: dict[str, str], provider: FakeProvider
) -> None:
    provider.reply("Stored answer")
    with live_server(data_dir, env) as first:
        thread_id, _ = first.create_thread("Keep this")
    with live_server(data_dir, env) as second:
        thread = second.call("threads.get_by_id", thread_id=thread_id)
        texts = [i["content"][0]["text"] for i in thread["items"]["data"]]
        assert texts == ["Keep this", "Stored answer"]
        provider.reply("Still here")
        events = second.stream(
            "threads.add_user_message", thread_id=thread_id, input=user_input("again")
        )
        assert assistant_text(events) == "Still here"
        assert "Stored answer" in json.dumps(provider.chat_requests()[-1].body)


def test_title_falls_back_to_first_words_when_title_call_fails(
    server: LiveServer, provider: FakeProvider
) -> None:
    provider.title = ""  # an empty title from the model counts as a failure
    _, events = server.create_thread("Plan a three day trip to Lisbon in spring please")
    assert events[-1]["type"] == "thread.updated"
    assert events[-1]["thread"]["title"] == "Plan a three day trip to"


def test_slow_title_never_holds_the_reply_and_lands_later(
    server: LiveServer, provider: FakeProvider
) -> None:
    provider.title_delay_s = 4
    provider.reply("Quick answer")
    thread_id, events = server.create_thread("a question")
    assert assistant_text(events) == "Quick answer"
    assert "thread.updated" not in kinds(events)
    title = None
    for _ in range(100):
        title = server.call("threads.get_by_id", thread_id=thread_id).get("title")
        if title:
            break
        time.sleep(0.1)
    assert title == "Fake title"


def test_pdf_attachment_is_sent_as_a_file(server: LiveServer, provider: FakeProvider) -> None:
    pdf = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
    att = server.call(
        "attachments.create", name="report.pdf", size=len(pdf), mime_type="application/pdf"
    )
    assert att["type"] == "file"
    assert server.client.put(f"/api/attachments/{att['id']}/upload", content=pdf).status_code == 200
    events = server.stream("threads.create", input=user_input("summarize", [att["id"]]))
    assert not [e for e in events if e["type"] == "error"]
    sent = json.dumps(provider.chat_requests()[-1].body)
    assert "data:application/pdf;base64," in sent and "report.pdf" in sent
