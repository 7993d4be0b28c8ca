"""Sources under an answer, through POST /chatkit in both API flavours: the model's citations
(which used to end the turn in an error) and the chats search_chats found."""

from __future__ import annotations

from typing import Any

from tests.support.fake_provider import Cited, FakeProvider
from tests.support.live import LiveServer


def final_answer(events: list[dict[str, Any]]) -> dict[str, Any]:
    (item,) = [
        e["item"]
        for e in events
        if e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message"
    ]
    return item  # type: ignore[no-any-return]


def test_cited_pages_become_sources_stored_with_the_answer(
    server: LiveServer, provider: FakeProvider
) -> None:
    provider.reply(
        Cited(
            "Python 3.13 added a free-threaded build.",
            [("https://docs.python.org/3.13/whatsnew/3.13.html", "What's New In Python 3.13")],
        )
    )
    thread_id, events = server.create_thread("What is new in Python 3.13?")
    assert not [e for e in events if e["type"] == "error"]
    (annotation,) = final_answer(events)["content"][0]["annotations"]
    assert annotation["source"]["type"] == "url"
    assert annotation["source"]["url"] == "https://docs.python.org/3.13/whatsnew/3.13.html"
    assert annotation["source"]["title"] == "What's New In Python 3.13"
    stored = [i for i in server.items(thread_id) if i["type"] == "assistant_message"]
    assert stored[0]["content"][0]["annotations"] == [annotation]


def test_chats_found_by_search_chats_are_sources_of_the_answer(
    server: LiveServer, provider: FakeProvider
) -> None:
    provider.reply("Bring a warm jacket.")
    found, _ = server.create_thread("Packing for Iceland")
    provider.call_tools(("search_chats", {"query": "Iceland"}))
    provider.reply("You asked about Iceland before.")
    thread_id, events = server.create_thread("Did I ask about Iceland?")
    annotations = final_answer(events)["content"][0]["annotations"]
    assert [a["source"]["type"] for a in annotations] == ["entity"]
    source = annotations[0]["source"]
    assert source["id"] == f"chat:{found}" and source["data"]["thread_id"] == found
    assert source["interactive"] is True and source["title"] == "Fake title"
    stored = [i for i in server.items(thread_id) if i["type"] == "assistant_message"]
    assert stored[0]["content"][0]["annotations"] == annotations
