"""Shared by the MCP tests: writing mcp.json for the test server, waiting for it, and reading
approval cards out of a stream."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from tests.support.live import LiveServer

SERVER_SCRIPT = Path(__file__).parent / "support" / "mcp_server.py"


def stdio_entry(notes: Path, **extra: Any) -> dict[str, Any]:
    env = {"NOTES_DIR": str(notes), "NOTES_PID_FILE": str(notes / "pids.txt")}
    env.update(extra.pop("env", {}))
    return {"command": sys.executable, "args": [str(SERVER_SCRIPT), "stdio"], "env": env, **extra}


def write_config(data_dir: Path, servers: dict[str, dict[str, Any]]) -> None:
    (data_dir / "mcp.json").write_text(json.dumps({"mcpServers": servers}))


def wait_for(
    server: LiveServer, name: str, states: tuple[str, ...] = ("connected",), timeout: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    entry: dict[str, Any] = {}
    while time.monotonic() < deadline:
        view = server.client.get("/api/mcp").json()
        entry = next((s for s in view["servers"] if s["name"] == name), {})
        if entry.get("state") in states:
            return entry
        time.sleep(0.1)
    raise AssertionError(f"server {name} never reached {states}: {entry}")


def done_items(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [
        e["item"] for e in events if e["type"] == "thread.item.done" and e["item"]["type"] == kind
    ]


def cards(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [w for w in done_items(events, "widget") if w["widget"].get("key") == "approval"]


def replaced(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["item"] for e in events if e["type"] == "thread.item.replaced"]


def card_text(card: dict[str, Any]) -> str:
    return json.dumps(card["widget"], ensure_ascii=False)


def answer(
    server: LiveServer, thread_id: str, card: dict[str, Any], decision: str
) -> list[dict[str, Any]]:
    return server.stream(
        "threads.custom_action",
        thread_id=thread_id,
        item_id=card["id"],
        action={"type": "approval.decide", "payload": {"decision": decision}},
    )


def send(server: LiveServer, thread_id: str | None, text: str) -> tuple[str, list[dict[str, Any]]]:
    message = {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
    }
    if thread_id is None:
        events = server.stream("threads.create", input=message)
        return events[0]["thread"]["id"], events
    return thread_id, server.stream("threads.add_user_message", thread_id=thread_id, input=message)


def tool_names(body: dict[str, Any]) -> list[str]:
    return [
        str(tool.get("name") or (tool.get("function") or {}).get("name"))
        for tool in body.get("tools") or []
    ]
