"""A generic Store contract, run against every Store implementation we ship (as chatkit does)."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from chatkit.store import NotFoundError, Store
from chatkit.types import (
    Annotation,
    AssistantMessageContent,
    AssistantMessageItem,
    ClientToolCallItem,
    CustomTask,
    EndOfTurnItem,
    FileAttachment,
    GeneratedImage,
    GeneratedImageItem,
    HiddenContextItem,
    ImageAttachment,
    InferenceOptions,
    LockedStatus,
    SDKHiddenContextItem,
    StructuredInputFreeform,
    StructuredInputItem,
    StructuredInputMultipleChoice,
    StructuredInputMultipleChoiceOption,
    TaskItem,
    ThoughtTask,
    ThreadItem,
    ThreadMetadata,
    URLSource,
    UserMessageItem,
    UserMessageTagContent,
    UserMessageTextContent,
    WidgetItem,
    Workflow,
    WorkflowItem,
)
from pydantic import AnyUrl

from desktop.context import RequestContext
from desktop.store import SQLiteStore

CTX = RequestContext()
NOON = datetime(2026, 1, 1, 12, 0, 0)


def thread(thread_id: str, **extra: Any) -> ThreadMetadata:
    return ThreadMetadata(id=thread_id, created_at=NOON, **extra)


def user_message(thread_id: str, item_id: str, text: str = "hi") -> UserMessageItem:
    return UserMessageItem(
        id=item_id,
        thread_id=thread_id,
        created_at=NOON,
        content=[UserMessageTextContent(text=text)],
        inference_options=InferenceOptions(),
    )


def every_item_type(t: str) -> list[ThreadItem]:
    """One of each ThreadItem kind chatkit defines, with non-default fields set."""
    return [
        UserMessageItem(
            id="u1",
            thread_id=t,
            created_at=NOON,
            content=[
                UserMessageTextContent(text="hello"),
                UserMessageTagContent(id="tag1", text="doc", data={"k": 1}, interactive=True),
            ],
            attachments=[
                FileAttachment(id="atc_1", name="a.txt", mime_type="text/plain", thread_id=t),
                ImageAttachment(
                    id="atc_2",
                    name="b.png",
                    mime_type="image/png",
                    preview_url=AnyUrl("http://127.0.0.1:1/p.png"),
                ),
            ],
            quoted_text="quoted",
            inference_options=InferenceOptions(model="m"),
        ),
        AssistantMessageItem(
            id="a1",
            thread_id=t,
            created_at=NOON,
            content=[
                AssistantMessageContent(
                    text="see source",
                    annotations=[
                        Annotation(source=URLSource(url="https://example.org", title="Ex"), index=3)
                    ],
                )
            ],
        ),
        WidgetItem.model_validate(
            {
                "id": "w1",
                "thread_id": t,
                "created_at": NOON,
                "copy_text": "copy",
                "widget": {
                    "type": "Card",
                    "children": [
                        {"type": "Title", "value": "T"},
                        {"type": "Text", "value": "body", "streaming": False},
                        {"type": "Row", "children": [{"type": "Badge", "label": "new"}]},
                        {
                            "type": "Button",
                            "label": "Go",
                            "onClickAction": {"type": "go", "payload": {"x": 1}},
                        },
                    ],
                },
            }
        ),
        WidgetItem.model_validate(
            {
                "id": "w2",
                "thread_id": t,
                "created_at": NOON,
                "widget": {
                    "type": "ListView",
                    "children": [
                        {"type": "ListViewItem", "children": [{"type": "Text", "value": "row"}]},
                    ],
                },
            }
        ),
        ClientToolCallItem(
            id="c1",
            thread_id=t,
            created_at=NOON,
            call_id="call_1",
            name="tool",
            arguments={"a": [1, 2]},
            status="completed",
            output={"ok": True},
        ),
        WorkflowItem(
            id="wf1",
            thread_id=t,
            created_at=NOON,
            workflow=Workflow(
                type="reasoning", tasks=[ThoughtTask(content="thinking")], expanded=True
            ),
        ),
        TaskItem(
            id="tk1", thread_id=t, created_at=NOON, task=CustomTask(title="Did", content="it")
        ),
        HiddenContextItem(id="h1", thread_id=t, created_at=NOON, content={"secret": "ctx"}),
        SDKHiddenContextItem(id="sh1", thread_id=t, created_at=NOON, content="sdk ctx"),
        GeneratedImageItem(
            id="g1",
            thread_id=t,
            created_at=NOON,
            image=GeneratedImage(id="img", url="data:image/png;base64,AAAA"),
        ),
        StructuredInputItem(
            id="s1",
            thread_id=t,
            created_at=NOON,
            inputs=[
                StructuredInputMultipleChoice(
                    id="q1",
                    question="Pick",
                    multiple=True,
                    options=[StructuredInputMultipleChoiceOption(value="a")],
                ),
                StructuredInputFreeform(id="q2", question="Why?"),
            ],
        ),
        EndOfTurnItem(id="e1", thread_id=t, created_at=NOON),
    ]


async def all_pages(store: Store[RequestContext], limit: int, order: str = "desc") -> list[str]:
    seen: list[str] = []
    after = None
    while True:
        page = await store.load_threads(limit, after, order, CTX)
        seen.extend(t.id for t in page.data)
        if not page.has_more:
            return seen
        after = page.after


class StoreContract(ABC):
    """Behaviour every Store must have. Subclass it and provide `make_store`."""

    @abstractmethod
    def make_store(self, tmp_path: Path) -> Store[RequestContext]: ...

    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[Store[RequestContext]]:
        store = self.make_store(tmp_path)
        yield store
        close = getattr(store, "close", None)
        if close:
            close()

    # ---- threads

    async def test_thread_round_trips_with_title_status_and_metadata(
        self, store: Store[RequestContext]
    ) -> None:
        original = thread(
            "t1",
            title="Trip plans",
            status=LockedStatus(reason="archived"),
            metadata={"pinned": True, "tags": ["a"]},
            allowed_image_domains=["x.org"],
        )
        await store.save_thread(original, CTX)
        assert await store.load_thread("t1", CTX) == original

    async def test_save_thread_updates_in_place(self, store: Store[RequestContext]) -> None:
        await store.save_thread(thread("t1"), CTX)
        await store.save_thread(thread("t1", title="Renamed"), CTX)
        assert (await store.load_thread("t1", CTX)).title == "Renamed"
        assert await all_pages(store, 10) == ["t1"]

    async def test_missing_thread_raises_not_found(self, store: Store[RequestContext]) -> None:
        with pytest.raises(NotFoundError):
            await store.load_thread("nope", CTX)

    async def test_threads_listed_most_recently_active_first(
        self, store: Store[RequestContext]
    ) -> None:
        for name in ("a", "b", "c"):
            await store.save_thread(thread(name), CTX)
        assert await all_pages(store, 10) == ["c", "b", "a"]
        await store.add_thread_item("a", user_message("a", "m1"), CTX)
        assert await all_pages(store, 10) == ["a", "c", "b"]
        assert await all_pages(store, 10, order="asc") == ["b", "c", "a"]

    async def test_rename_does_not_reorder(self, store: Store[RequestContext]) -> None:
        for name in ("a", "b"):
            await store.save_thread(thread(name), CTX)
        await store.save_thread(thread("a", title="new title"), CTX)
        assert await all_pages(store, 10) == ["b", "a"]

    @pytest.mark.parametrize("limit", [1, 2, 3, 7])
    async def test_paging_with_equal_timestamps_neither_skips_nor_repeats(
        self, store: Store[RequestContext], limit: int
    ) -> None:
        names = [f"t{i:02d}" for i in range(10)]
        for name in names:
            await store.save_thread(thread(name), CTX)  # all share one created_at
        for order in ("desc", "asc"):
            seen = await all_pages(store, limit, order)
            assert sorted(seen) == sorted(names)
            assert len(seen) == len(set(seen))

    async def test_page_cursor_is_last_id_and_exclusive(self, store: Store[RequestContext]) -> None:
        for name in ("a", "b", "c"):
            await store.save_thread(thread(name), CTX)
        first = await store.load_threads(2, None, "desc", CTX)
        assert [t.id for t in first.data] == ["c", "b"]
        assert first.has_more and first.after == "b"
        second = await store.load_threads(2, first.after, "desc", CTX)
        assert [t.id for t in second.data] == ["a"]
        assert not second.has_more
        # The last page names no cursor: clients stop on it (chatkit's own store suite).
        assert second.after is None
        for order in ("asc", "desc"):
            whole = await store.load_threads(10, None, order, CTX)
            assert not whole.has_more and whole.after is None

    async def test_threads_becoming_active_while_paging_are_not_skipped_or_repeated(
        self, store: Store[RequestContext]
    ) -> None:
        names = [f"t{i:02d}" for i in range(12)]
        for name in names:
            await store.save_thread(thread(name), CTX)
        seen: list[str] = []
        page = await store.load_threads(4, None, "desc", CTX)
        seen += [t.id for t in page.data]
        # A thread not yet seen, the cursor thread itself, and an already seen one become active.
        cursor = page.after
        assert cursor is not None
        for name in (names[2], cursor, names[-1]):
            await store.add_thread_item(name, user_message(name, f"m-{name}"), CTX)
        while page.has_more:
            page = await store.load_threads(4, page.after, "desc", CTX)
            seen += [t.id for t in page.data]
        assert len(seen) == len(set(seen)), seen
        assert sorted(seen) == sorted(names)

    async def test_delete_thread_removes_items(self, store: Store[RequestContext]) -> None:
        await store.save_thread(thread("t1"), CTX)
        await store.add_thread_item("t1", user_message("t1", "m1"), CTX)
        await store.delete_thread("t1", CTX)
        with pytest.raises(NotFoundError):
            await store.load_thread("t1", CTX)
        with pytest.raises(NotFoundError):
            await store.load_item("t1", "m1", CTX)
        assert await all_pages(store, 10) == []

    # ---- items

    async def test_every_item_type_round_trips(self, store: Store[RequestContext]) -> None:
        await store.save_thread(thread("t1"), CTX)
        items = every_item_type("t1")
        for item in items:
            await store.add_thread_item("t1", item, CTX)
        for item in items:
            assert await store.load_item("t1", item.id, CTX) == item
        page = await store.load_thread_items("t1", None, 100, "asc", CTX)
        assert page.data == items

    async def test_item_ids_are_scoped_to_their_thread(self, store: Store[RequestContext]) -> None:
        for name in ("t1", "t2"):
            await store.save_thread(thread(name), CTX)
            await store.add_thread_item(name, user_message(name, "__fake_id__", text=name), CTX)
        one = await store.load_item("t1", "__fake_id__", CTX)
        two = await store.load_item("t2", "__fake_id__", CTX)
        assert isinstance(one, UserMessageItem) and isinstance(two, UserMessageItem)
        assert (one.content[0].text, two.content[0].text) == ("t1", "t2")
        await store.delete_thread_item("t1", "__fake_id__", CTX)
        assert await store.load_item("t2", "__fake_id__", CTX) == two

    async def test_item_paging_both_orders(self, store: Store[RequestContext]) -> None:
        await store.save_thread(thread("t1"), CTX)
        ids = [f"m{i}" for i in range(7)]
        for item_id in ids:
            await store.add_thread_item("t1", user_message("t1", item_id), CTX)
        for order, expected in (("asc", ids), ("desc", ids[::-1])):
            seen: list[str] = []
            after = None
            while True:
                page = await store.load_thread_items("t1", after, 3, order, CTX)
                seen += [i.id for i in page.data]
                if not page.has_more:
                    assert page.after is None
                    break
                assert page.after == page.data[-1].id
                after = page.after
            assert seen == expected

    async def test_item_page_from_a_cursor_to_the_end(self, store: Store[RequestContext]) -> None:
        await store.save_thread(thread("t1"), CTX)
        for i in range(5):
            await store.add_thread_item("t1", user_message("t1", f"m{i}"), CTX)
        rest = await store.load_thread_items("t1", "m1", 3, "asc", CTX)
        assert [i.id for i in rest.data] == ["m2", "m3", "m4"]
        assert not rest.has_more and rest.after is None
        head = await store.load_thread_items("t1", None, 2, "asc", CTX)
        assert [i.id for i in head.data] == ["m0", "m1"]
        assert head.has_more and head.after == "m1"

    async def test_save_item_upserts_without_moving_it(self, store: Store[RequestContext]) -> None:
        await store.save_thread(thread("t1"), CTX)
        for item_id in ("m1", "m2"):
            await store.add_thread_item("t1", user_message("t1", item_id), CTX)
        await store.save_item("t1", user_message("t1", "m1", text="edited"), CTX)
        page = await store.load_thread_items("t1", None, 10, "asc", CTX)
        assert [i.id for i in page.data] == ["m1", "m2"]
        assert page.data[0].content[0].text == "edited"  # type: ignore[union-attr]

    async def test_missing_item_raises_not_found(self, store: Store[RequestContext]) -> None:
        await store.save_thread(thread("t1"), CTX)
        with pytest.raises(NotFoundError):
            await store.load_item("t1", "nope", CTX)

    async def test_item_in_unknown_thread_is_refused(self, store: Store[RequestContext]) -> None:
        with pytest.raises(NotFoundError):
            await store.add_thread_item("ghost", user_message("ghost", "m1"), CTX)

    # ---- attachment metadata

    async def test_attachment_metadata_round_trips(self, store: Store[RequestContext]) -> None:
        attachment = FileAttachment(
            id="atc_1", name="notes.txt", mime_type="text/plain", metadata={"k": "v"}
        )
        await store.save_attachment(attachment, CTX)
        assert await store.load_attachment("atc_1", CTX) == attachment
        await store.delete_attachment("atc_1", CTX)
        await store.delete_attachment("atc_1", CTX)  # twice: the server calls both stores
        with pytest.raises(NotFoundError):
            await store.load_attachment("atc_1", CTX)

    # ---- concurrency

    async def test_many_concurrent_writes_and_reads(self, store: Store[RequestContext]) -> None:
        async def one(i: int) -> None:
            await store.save_thread(thread(f"t{i}"), CTX)
            for j in range(5):
                await store.add_thread_item(f"t{i}", user_message(f"t{i}", f"m{j}"), CTX)
                await store.load_threads(5, None, "desc", CTX)

        await asyncio.gather(*(one(i) for i in range(30)))
        assert len(await all_pages(store, 7)) == 30
        page = await store.load_thread_items("t7", None, 10, "asc", CTX)
        assert [i.id for i in page.data] == [f"m{j}" for j in range(5)]


class TestSQLiteStore(StoreContract):
    def make_store(self, tmp_path: Path) -> Store[RequestContext]:
        return SQLiteStore(tmp_path / "chats.db")

    async def test_data_survives_reopening(self, tmp_path: Path) -> None:
        first = SQLiteStore(tmp_path / "chats.db")
        await first.save_thread(thread("t1", title="kept"), CTX)
        for item in every_item_type("t1"):
            await first.add_thread_item("t1", item, CTX)
        first.close()
        second = SQLiteStore(tmp_path / "chats.db")
        try:
            assert (await second.load_thread("t1", CTX)).title == "kept"
            page = await second.load_thread_items("t1", None, 100, "asc", CTX)
            assert page.data == every_item_type("t1")
        finally:
            second.close()

    async def test_pragmas(self, tmp_path: Path) -> None:
        store = SQLiteStore(tmp_path / "chats.db")
        await store.save_thread(thread("t1"), CTX)

        def pragmas(db: Any) -> tuple[Any, ...]:
            return (
                db.execute("PRAGMA journal_mode").fetchone()[0],
                db.execute("PRAGMA foreign_keys").fetchone()[0],
                db.execute("PRAGMA busy_timeout").fetchone()[0],
            )

        try:
            assert await store.database.read(pragmas) == ("wal", 1, 10000)
            assert await store.database.write(pragmas) == ("wal", 1, 10000)
        finally:
            store.close()

    async def test_sqlite_runs_off_the_event_loop_thread(self, tmp_path: Path) -> None:
        import threading

        store = SQLiteStore(tmp_path / "chats.db")
        loop_thread = threading.current_thread()
        threads: list[threading.Thread] = []
        store.database._conn_orig = store.database._conn  # type: ignore[attr-defined]

        def spy(read_only: bool) -> Any:
            threads.append(threading.current_thread())
            return store.database._conn_orig(read_only)  # type: ignore[attr-defined]

        store.database._conn = spy  # type: ignore[method-assign]
        try:
            await store.save_thread(thread("t1"), CTX)
            await store.load_threads(10, None, "desc", CTX)
            await store.add_thread_item("t1", user_message("t1", "m1"), CTX)
            await store.load_thread_items("t1", None, 10, "asc", CTX)
        finally:
            store.close()
        assert threads and loop_thread not in threads
