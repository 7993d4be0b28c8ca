"""The agent runtime below the HTTP layer: the builder, the step hooks and a tool's time limit,
against the fake provider through the real openai client (both API flavours)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from agents import Runner
from chatkit.agents import stream_agent_response
from chatkit.types import ThreadItemDoneEvent, ThreadMetadata, WorkflowItem

from desktop.chat.activity import ToolActivity
from desktop.chat.agent import build_agent
from desktop.chat.agent_context import DesktopAgentContext
from desktop.chat.provider import ProviderClients
from desktop.chat.tools.base import define
from desktop.chat.tools.registry import ToolRegistry
from desktop.context import RequestContext
from desktop.settings.config import ProviderConfig
from desktop.store import SQLiteStore
from desktop.store.assistants import Assistant
from tests.support.fake_provider import FakeProvider, tool_outputs


async def hang() -> str:
    """Waits far longer than its time limit."""
    await asyncio.sleep(30)
    return "too late"


async def test_a_tool_that_hangs_times_out_into_a_failed_step(
    tmp_path: Path, provider: FakeProvider, api: str
) -> None:
    registry = ToolRegistry({"hang": lambda: define(hang, name="hang", timeout_s=0.3)})
    assistant = Assistant("a", "Waiter", "Be brief.", None, ("hang",), False, 0.0)
    agent = build_agent(assistant, "fake-model", registry)
    assert [t.name for t in agent.tools] == ["hang"]
    cfg = ProviderConfig(
        base_url=provider.base_url,
        api=api,  # type: ignore[arg-type]
        model="fake-model",
        system_prompt="",
        timeout_s=10,
        max_retries=0,
        history_max_items=10,
        history_max_chars=10_000,
        generate_titles=False,
        api_key="sk-test-key",
    )
    store = SQLiteStore(tmp_path / "chats.db")
    clients = ProviderClients()
    try:
        thread = ThreadMetadata(id="thr_1", created_at=datetime.now())
        await store.save_thread(thread, RequestContext())
        context = DesktopAgentContext(thread=thread, store=store, request_context=RequestContext())
        provider.call_tools(("hang", {}))
        provider.reply("It took too long.")
        started = time.monotonic()
        result = Runner.run_streamed(
            agent, "hi", context=context, run_config=clients.run_config(cfg), hooks=ToolActivity()
        )
        events: list[Any] = [e async for e in stream_agent_response(context, result)]
        assert time.monotonic() - started < 5
    finally:
        await clients.aclose()
        store.close()
    (output,) = tool_outputs(provider.chat_requests()[-1].body)
    assert output.startswith("The tool failed: it took too long")
    (workflow,) = [
        e.item
        for e in events
        if isinstance(e, ThreadItemDoneEvent) and isinstance(e.item, WorkflowItem)
    ]
    (task,) = workflow.workflow.tasks
    assert task.title == "hang failed: it took too long"


def test_without_tools_the_agent_offers_none() -> None:
    assistant = Assistant("a", "Helper", "Hi.", "m", ("search_chats", "current_time"), True, 0.0)
    registry = ToolRegistry()
    assert [t.name for t in build_agent(assistant, "m", registry).tools] == [
        "search_chats",
        "current_time",
    ]
    assert build_agent(assistant, "m", registry, with_tools=False).tools == []


def test_hosted_tools_only_where_openai_runs_them() -> None:
    assistant = Assistant("a", "Web", "Hi.", None, ("web_search", "search_chats"), False, 0.0)
    registry = ToolRegistry()
    assert [t.name for t in build_agent(assistant, "m", registry).tools] == ["search_chats"]
    offered = build_agent(assistant, "m", registry, hosted=True).tools
    assert [t.name for t in offered] == ["web_search", "search_chats"]


async def test_generated_images_are_kept_as_files_of_the_chat(tmp_path: Path) -> None:
    import base64

    from desktop.chat.images import StoredImages

    store = SQLiteStore(tmp_path / "chats.db")
    try:
        thread = ThreadMetadata(id="thr_img", created_at=datetime.now())
        await store.save_thread(thread, RequestContext())
        png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 2000
        encoded = base64.b64encode(png).decode()
        images = StoredImages(store.attachments, thread.id, RequestContext())
        preview = await images.base64_image_to_url("ig_1", encoded, partial_image_index=0)
        assert preview.startswith("data:image/png;base64,")
        url = await images.base64_image_to_url("ig_1", encoded)
        attachment_id = url.removeprefix("/api/attachments/").removesuffix("/content")
        stored, path = await store.attachments.attachment_file(attachment_id)
        assert path.read_bytes() == png and stored.mime_type == "image/png"
        await store.delete_thread(thread.id, RequestContext())  # goes with its chat
        assert not path.exists()
    finally:
        store.close()
