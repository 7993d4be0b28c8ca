"""Smoke test of the built bundle, the real binary under Xvfb with no network but loopback.

Run after `python packaging/build.py`: `python -m pytest packaging/test_bundle.py`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.mcp_helpers import stdio_entry, write_config
from tests.support.fake_provider import FakeProvider
from tests.test_window import close_like_a_user, screenshot, xvfb  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parent.parent
BINARY = Path(
    os.environ.get("CHATKIT_BUNDLE", ROOT / "dist" / "chatkit-desktop" / "chatkit-desktop")
)
TOKEN = "bundle-smoke-token-0123456789abcdefghij"


def launch(data: Path, screen: str, env: dict[str, str]) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [str(BINARY), "--data-dir", str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "DISPLAY": screen, "CHATKIT_DESKTOP_TOKEN": TOKEN, **env},
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if "window is ready" in line:
            info = (data / ".instance.json").read_text()
            return proc, int(re.search(r'"port": (\d+)', info).group(1))  # type: ignore[union-attr]
    proc.kill()
    raise AssertionError(f"the bundle never loaded its page: {proc.communicate()[1][-3000:]}")


def new_chat(client: httpx.Client, text: str) -> httpx.Response:
    content = [{"type": "input_text", "text": text}]
    message = {"content": content, "attachments": [], "inference_options": {}}
    return client.post("/chatkit", json={"type": "threads.create", "params": {"input": message}})


def call_mcp_tool(client: httpx.Client, provider: FakeProvider) -> None:
    """The bundle starts the MCP server from mcp.json, asks before the call, then runs it."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        servers = client.get("/api/mcp").json()["servers"]
        if servers and servers[0]["state"] in ("connected", "failed"):
            break
        time.sleep(0.2)
    assert servers[0]["state"] == "connected", servers
    provider.call_tools(("mcp_notes__echo", {"text": "from the bundle"}))
    turn = new_chat(client, "echo please")
    events = [json.loads(line[6:]) for line in turn.text.splitlines() if line.startswith("data: ")]
    thread_id = events[0]["thread"]["id"]
    (card,) = [
        e["item"]
        for e in events
        if e["type"] == "thread.item.done" and e["item"]["type"] == "widget"
    ]
    provider.reply("The server said it back.")
    answered = client.post(
        "/chatkit",
        json={
            "type": "threads.custom_action",
            "params": {
                "thread_id": thread_id,
                "item_id": card["id"],
                "action": {"type": "approval.decide", "payload": {"decision": "approve"}},
            },
        },
    )
    assert "The server said it back." in answered.text
    assert "echo: from the bundle" in json.dumps(provider.chat_requests()[-1].body)


def test_bundle_chats_persists_and_exits_cleanly(xvfb: str, tmp_path: Path) -> None:  # noqa: F811
    provider = FakeProvider().start()
    data = tmp_path / "data"
    data.mkdir()
    write_config(data, {"notes": stdio_entry(tmp_path)})
    env = {
        "OPENAI_BASE_URL": provider.base_url,
        "OPENAI_API_KEY": "sk-bundle-test-key-123456",
        "CHATKIT_DESKTOP_MODEL": "fake-model",
        "CHATKIT_DESKTOP_API": "chat_completions",
    }
    try:
        proc, port = launch(data, xvfb, env)
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        page = client.get("/")
        assert page.status_code == 200 and "/assets/" in page.text  # the built-in UI is bundled
        asset = re.search(r'src="(/assets/[^"]+\.js)"', page.text).group(1)  # type: ignore[union-attr]
        assert client.get(asset).status_code == 200
        provider.reply("Hello from the bundle")
        turn = new_chat(client, "hi bundle")
        assert "Hello from the bundle" in turn.text
        call_mcp_tool(client, provider)
        screenshot(xvfb, "bundle-window.png")
        client.close()
        close_like_a_user(xvfb)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err[-3000:]
        assert "Traceback" not in err

        # Restart on the same data dir: the thread is still there. Then onboarding a local provider.
        proc, port = launch(data, xvfb, {})
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        threads = client.post("/chatkit", json={"type": "threads.list", "params": {}}).json()[
            "data"
        ]
        assert [t["title"] for t in threads] == ["Fake title", "Fake title"]
        saved = client.put(
            "/api/settings",
            json={
                "settings": {
                    "provider": "ollama",
                    "base_url": "http://localhost:11434/v1",
                    "api": "chat_completions",
                }
            },
        )
        assert saved.status_code == 200 and saved.json()["needs_onboarding"] is False
        client.close()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err[-3000:]
        # No MCP server outlives the app.
        pids = [int(p) for p in (tmp_path / "pids.txt").read_text().split()]
        time.sleep(1)
        assert not [
            p
            for p in pids
            if Path(f"/proc/{p}").exists()
            and Path(f"/proc/{p}/stat").read_text().split(") ")[1][0] != "Z"
        ]
    finally:
        provider.stop()


def test_bundle_imports_what_it_exports(tmp_path: Path) -> None:
    """The import's streaming parser loads a native backend by name: the frozen app must have it."""
    from tests.support import hostile_import

    source, target = tmp_path / "from", tmp_path / "to"
    source.mkdir()
    target.mkdir()
    exported = tmp_path / "export.json"
    exported.write_text(json.dumps(hostile_import.preapproving_export()))
    run = [str(BINARY), "import", "--data-dir", str(target), str(exported)]
    done = subprocess.run(run, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    again = tmp_path / "again.json"
    run = [str(BINARY), "export", "--data-dir", str(target), "--format", "json", str(again)]
    done = subprocess.run(run, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    (chat,) = json.loads(again.read_text())["threads"]
    # Imported as content: the chat's "always allow" stayed behind.
    assert "allowed_tools" not in chat["thread"]["metadata"]
