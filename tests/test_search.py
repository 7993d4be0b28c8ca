"""Search across all chats: the FTS5 index the schema keeps current, and GET /api/search."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    FileAttachment,
    InferenceOptions,
    ThreadMetadata,
    UserMessageItem,
    UserMessageTextContent,
)

from desktop.context import RequestContext
from desktop.store import SQLiteStore
from desktop.store.migrations import MIGRATIONS, migrate
from desktop.store.search import match_query
from tests.support.fake_provider import FakeProvider
from tests.support.live import LiveServer

CTX = RequestContext()
NOW = datetime(2026, 3, 1, 9, 30)


def user(thread_id: str, item_id: str, text: str, files: tuple[str, ...] = ()) -> UserMessageItem:
    return UserMessageItem(
        id=item_id,
        thread_id=thread_id,
        created_at=NOW,
        content=[UserMessageTextContent(text=text)],
        attachments=[FileAttachment(id=f"atc_{n}", name=n, mime_type="text/plain") for n in files],
        inference_options=InferenceOptions(),
    )


def reply(thread_id: str, item_id: str, text: str) -> AssistantMessageItem:
    return AssistantMessageItem(
        id=item_id,
        thread_id=thread_id,
        created_at=NOW,
        content=[AssistantMessageContent(text=text)],
    )


async def test_messages_titles_and_file_names_are_found_and_forgotten(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "chats.db")
    try:
        await store.save_thread(ThreadMetadata(id="thr_a", created_at=NOW, title="Holiday"), CTX)
        await store.save_thread(ThreadMetadata(id="thr_b", created_at=NOW), CTX)
        await store.add_thread_item("thr_a", user("thr_a", "m1", "Cheap flights to Porto?"), CTX)
        await store.add_thread_item("thr_a", reply("thr_a", "m2", "Try the early café train."), CTX)
        await store.add_thread_item(
            "thr_b", user("thr_b", "m3", "Read this", files=("budget-2026.csv",)), CTX
        )

        (hit,) = await store.search.search("porto")
        assert (hit.thread_id, hit.item_id, hit.role, hit.title) == (
            "thr_a",
            "m1",
            "user",
            "Holiday",
        )
        assert ("Porto", True) in hit.excerpt and hit.text == "Cheap flights to Porto?"
        # accents are folded, the last word is a prefix (search as you type)
        assert [h.item_id for h in await store.search.search("cafe")] == ["m2"]
        assert [h.item_id for h in await store.search.search("flig")] == ["m1"]
        assert [h.thread_id for h in await store.search.search("budget")] == ["thr_b"]
        # a title-only match has no message
        (titled,) = await store.search.search("holiday")
        assert titled.item_id is None and titled.excerpt == (("Holiday", True),)
        # FTS5 syntax in the user's words is inert
        assert await store.search.search('NEAR( "x" OR * ') == []
        assert await store.search.search("   ") == []

        # kept current: an edited message, a renamed chat, a deleted chat
        await store.save_item("thr_a", reply("thr_a", "m2", "Take the night bus."), CTX)
        assert await store.search.search("cafe") == []
        assert [h.item_id for h in await store.search.search("night bus")] == ["m2"]
        await store.save_thread(ThreadMetadata(id="thr_b", created_at=NOW, title="Money"), CTX)
        assert [h.thread_id for h in await store.search.search("money")] == ["thr_b"]
        await store.delete_thread("thr_a", CTX)
        assert await store.search.search("porto") == []
        assert await store.search.search("holiday") == []
        await store.delete_thread_item("thr_b", "m3", CTX)
        assert await store.search.search("budget") == []
    finally:
        store.close()


async def test_most_recently_active_chats_come_first(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "chats.db")
    try:
        for n in range(5):
            await store.save_thread(ThreadMetadata(id=f"thr_{n}", created_at=NOW), CTX)
            await store.add_thread_item(f"thr_{n}", user(f"thr_{n}", f"m{n}", f"kiwi {n}"), CTX)
        await store.add_thread_item("thr_1", reply("thr_1", "late", "more kiwi"), CTX)
        hits = await store.search.search("kiwi", limit=3)
        assert [h.thread_id for h in hits] == ["thr_1", "thr_4", "thr_3"]
        assert hits[0].item_id == "late"
    finally:
        store.close()


async def test_the_migration_indexes_chats_that_existed_before_it(tmp_path: Path) -> None:
    path = tmp_path / "chats.db"
    db = sqlite3.connect(path, isolation_level=None)
    migrate(db, MIGRATIONS[:2])
    data = user("thr_old", "m_old", "An old note about quinces").model_dump_json()
    db.execute(
        "INSERT INTO threads VALUES ('thr_old', '2026-01-01', 1, 2, ?)",
        (
            '{"id":"thr_old","created_at":"2026-01-01T00:00:00","title":"Fruit",'
            '"status":{"type":"active"},"metadata":{}}',
        ),
    )
    db.execute(
        "INSERT INTO items VALUES ('thr_old', 'm_old', 2, 'user_message', '2026-01-01', ?)", (data,)
    )
    db.close()
    store = SQLiteStore(path)
    try:
        assert [h.item_id for h in await store.search.search("quinces")] == ["m_old"]
        assert [h.thread_id for h in await store.search.search("fruit")] == ["thr_old"]
    finally:
        store.close()


def test_match_query_quotes_every_word() -> None:
    assert match_query('say "hi" OR NOT') == '"say" "hi" "OR" "NOT"*'
    assert match_query("¿") is None


def test_search_endpoint(server: LiveServer, provider: FakeProvider) -> None:
    provider.reply("Paella needs bomba rice.")
    thread_id, _ = server.create_thread("How do I cook paella?")
    response = server.client.get("/api/search", params={"q": "bomba"})
    assert response.status_code == 200
    (result,) = response.json()["results"]
    assert result["thread_id"] == thread_id and result["role"] == "assistant"
    assert {"text": "bomba", "match": True} in result["excerpt"]
    assert server.client.get("/api/search", params={"q": "x" * 600}).status_code == 400
    assert server.client.get("/api/search", params={"q": ""}).json()["results"] == []
    server.call("threads.delete", thread_id=thread_id)
    assert server.client.get("/api/search", params={"q": "bomba"}).json()["results"] == []
