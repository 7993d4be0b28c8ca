"""`@` mentions: GET /api/entities (a stable interface), previews, and a mentioned chat's or
file's content reaching the model (both API flavours)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.support.fake_provider import FakeProvider
from tests.support.live import LiveServer, user_input


def upload_and_send(server: LiveServer, name: str, body: bytes) -> str:
    att = server.call("attachments.create", name=name, size=len(body), mime_type="text/plain")
    server.client.put(f"/api/attachments/{att['id']}/upload", content=body)
    server.stream("threads.create", input=user_input("Here is a file", [att["id"]]))
    return str(att["id"])


def entities(server: LiveServer, q: str) -> list[dict[str, Any]]:
    response = server.client.get("/api/entities", params={"q": q})
    assert response.status_code == 200, response.text
    return response.json()["entities"]  # type: ignore[no-any-return]


def tagged(text: str, entity: dict[str, Any]) -> dict[str, Any]:
    message = user_input(text)
    message["content"].append(
        {
            "type": "input_tag",
            "id": entity["id"],
            "text": entity["title"],
            "data": entity["data"],
            "group": entity["group"],
            "interactive": True,
        }
    )
    return message


def test_entities_find_chats_and_files(server: LiveServer, provider: FakeProvider) -> None:
    provider.reply("Use a 6 mm drill bit.")
    chat_id, _ = server.create_thread("Which drill bit for wall plugs?")
    file_id = upload_and_send(server, "shelf-measurements.txt", b"width 80 cm\nheight 30 cm\n")
    (chat,) = entities(server, "drill")
    assert chat == {
        "id": f"chat:{chat_id}",
        "title": "Fake title",
        "icon": "book-open",
        "group": "Chats",
        "interactive": True,
        "data": {"type": "chat", "thread_id": chat_id, "date": chat["data"]["date"]},
    }
    files = [e for e in entities(server, "shelf") if e["group"] == "Files"]
    assert [f["id"] for f in files] == [f"file:{file_id}"]
    assert files[0]["title"] == "shelf-measurements.txt"
    # nothing typed yet: the most recent chats
    assert [e["group"] for e in entities(server, "")][:2] == ["Chats", "Chats"]
    # LIKE's own wildcards are plain characters here
    assert [e for e in entities(server, "%") if e["group"] == "Files"] == []
    assert server.client.get("/api/entities", params={"q": "x" * 300}).status_code == 400
    # token-guarded like every API call
    bare = httpx.get(f"{server.url}/api/entities", params={"q": "drill"})
    assert bare.status_code == 401


def test_previews(server: LiveServer, provider: FakeProvider) -> None:
    provider.reply("Knead for ten minutes.")
    chat_id, _ = server.create_thread("How long do I knead bread?")
    preview = server.client.get(f"/api/entities/chat:{chat_id}/preview").json()["preview"]
    assert preview["type"] == "Basic"
    text = json.dumps(preview)
    assert "Fake title" in text and "Knead for ten minutes." in text
    file_id = upload_and_send(server, "notes.txt", b"hello")
    preview = server.client.get(f"/api/entities/file:{file_id}/preview").json()["preview"]
    assert "notes.txt" in json.dumps(preview)
    assert server.client.get("/api/entities/chat:thr_nope/preview").status_code == 404
    assert server.client.get("/api/entities/other:1/preview").status_code == 404


def test_a_mentioned_chat_reaches_the_model(server: LiveServer, provider: FakeProvider) -> None:
    provider.reply("The password policy needs 12 characters.")
    server.create_thread("What is our password policy?")
    (chat,) = entities(server, "password")
    provider.reply("Summarised.")
    events = server.stream("threads.create", input=tagged("Summarise ", chat))
    assert not [e for e in events if e["type"] == "error"]
    sent = json.dumps(provider.chat_requests()[-1].body)
    assert "The password policy needs 12 characters." in sent
    assert "<mention type=chat" in sent
    # the tag is stored with the message and shown as one
    user = next(
        e["item"]
        for e in events
        if e["type"] == "thread.item.done" and e["item"]["type"] == "user_message"
    )
    assert user["content"][1]["type"] == "input_tag" and user["content"][1]["id"] == chat["id"]


def test_a_mentioned_file_reaches_the_model(server: LiveServer, provider: FakeProvider) -> None:
    upload_and_send(server, "recipe.txt", b"Two cups of flour and one egg.")
    (file,) = [e for e in entities(server, "recipe") if e["group"] == "Files"]
    provider.reply("Noted.")
    server.stream("threads.create", input=tagged("What is in ", file))
    sent = json.dumps(provider.chat_requests()[-1].body)
    assert "Two cups of flour and one egg." in sent
