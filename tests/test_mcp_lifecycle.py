"""MCP servers' lives: a change to mcp.json reconnects only what changed, and the app leaves no
child process behind however it ends (a clean quit, SIGTERM, or a crash: SIGKILL)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.mcp_helpers import stdio_entry, wait_for, write_config
from tests.support.headless import start_headless
from tests.support.live import live_server

TOKEN = "mcp-lifecycle-token-abcdefghijklmnopqrstuvwxyz"


def pids(notes: Path) -> list[int]:
    path = notes / "pids.txt"
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by a parent that is itself gone) counts as gone.
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().split(") ", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_until(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def test_a_change_reconnects_only_that_server(
    data_dir: Path, env: dict[str, str], tmp_path: Path
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    write_config(data_dir, {"a": stdio_entry(a), "b": stdio_entry(b)})
    with live_server(data_dir, env) as live:
        wait_for(live, "a")
        wait_for(live, "b")
        assert wait_until(lambda: len(pids(a)) == 1 and len(pids(b)) == 1, 10)
        # Edited through Settings: a gets a new argument.
        entry = stdio_entry(a)
        entry["env"]["EXTRA"] = "1"
        response = live.client.put("/api/mcp/servers/a", content=json.dumps({"entry": entry}))
        assert response.status_code == 200, response.text
        assert wait_until(lambda: len(pids(a)) == 2, 15)
        wait_for(live, "a")
        assert not alive(pids(a)[0]) and alive(pids(b)[0]) and len(pids(b)) == 1
        # Edited by hand: b is disabled, then the file is broken for a moment (nothing stops).
        doc = json.loads((data_dir / "mcp.json").read_text())
        doc["mcpServers"]["b"]["disabled"] = True
        (data_dir / "mcp.json").write_text(json.dumps(doc))
        assert wait_until(lambda: not alive(pids(b)[0]), 15)
        assert wait_for(live, "b", ("disabled",))["state"] == "disabled"
        (data_dir / "mcp.json").write_text("{ broken")

        def reported() -> bool:
            return "not valid JSON" in str(live.client.get("/api/mcp").json().get("error"))

        assert wait_until(reported, 30)
        assert alive(pids(a)[-1])


@pytest.mark.parametrize("ending", ["quit", "sigterm", "sigkill"])
def test_no_child_process_outlives_the_app(tmp_path: Path, ending: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    notes = [tmp_path / f"n{i}" for i in range(2)]
    for folder in notes:
        folder.mkdir()
    write_config(data, {f"s{i}": stdio_entry(folder) for i, folder in enumerate(notes)})
    proc, port = start_headless(
        data,
        {"CHATKIT_DESKTOP_TOKEN": TOKEN, "OPENAI_API_KEY": "sk-lifecycle-000000"},
        stderr=subprocess.DEVNULL,
    )
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    try:

        def all_connected() -> bool:
            servers = client.get("/api/mcp").json()["servers"]
            return len(servers) == 2 and all(s["state"] == "connected" for s in servers)

        assert wait_until(all_connected, 30)
        children = [p for folder in notes for p in pids(folder)]
        assert len(children) == 2 and all(alive(p) for p in children)
        if ending == "quit":
            proc.send_signal(signal.SIGINT)  # Ctrl+C: how a headless app is quit
        elif ending == "sigterm":
            proc.terminate()
        else:
            proc.kill()
        proc.wait(30)
        # A crash gives no chance to clean up: the servers see their input close and exit.
        assert wait_until(lambda: not any(alive(p) for p in children), 10), children
    finally:
        client.close()
        if proc.poll() is None:
            proc.kill()


async def test_a_server_that_dies_while_idle_is_noticed_and_restarted_on_next_use(
    tmp_path: Path,
) -> None:
    import asyncio

    from desktop.mcp.hub import McpHub

    notes = tmp_path / "notes"
    notes.mkdir()
    write_config(tmp_path, {"notes": stdio_entry(notes)})
    hub = McpHub(tmp_path / "mcp.json", tmp_path / "stderr", ping_interval_s=0.2)
    try:
        await hub.start()
        offered = await hub.offered(["mcp:*"])
        assert {t.tool.name for t in offered} >= {"echo", "write_note"}
        await asyncio.sleep(1)  # several pings: a live server stays connected
        conn = hub.connection("notes")
        assert conn is not None

        def state() -> str:  # read afresh each time (the connection changes it)
            return str(hub.status()["servers"][0]["state"])

        assert state() == "connected"
        (first,) = pids(notes)
        os.kill(first, signal.SIGKILL)
        for _ in range(100):
            if state() == "stopped":
                break
            await asyncio.sleep(0.1)
        assert state() == "stopped" and "stopped answering" in (conn.error or "")
        offered = await hub.offered(["mcp:notes"])  # the next use starts it again
        assert state() == "connected" and offered and len(pids(notes)) == 2
    finally:
        await hub.aclose()
    assert not any(alive(p) for p in pids(notes))
