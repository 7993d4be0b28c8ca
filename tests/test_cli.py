"""The real command line, as a subprocess: start, serve, stop cleanly, fail clearly."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.fake_provider import FakeProvider, Fault
from tests.support.headless import start_headless
from tests.support.live import API_KEY, parse_sse, user_input

pytestmark = pytest.mark.slow

TOKEN = "cli-test-token-abcdefghijklmnopqrstuvwxyz"
SAVED_KEY = "sk-proj-SAVEDKEY-zyxwvutsrq-5678"


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "desktop", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


class Running:
    def __init__(self, proc: subprocess.Popen[str], port: int) -> None:
        self.proc = proc
        self.port = port
        self.client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=30,
        )

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        self.client.close()
        self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, out, err


@contextmanager
def running(data_dir: Path, env: dict[str, str] | None = None, *extra: str) -> Iterator[Running]:
    proc, port = start_headless(data_dir, {"CHATKIT_DESKTOP_TOKEN": TOKEN, **(env or {})}, *extra)
    run = Running(proc, port)
    try:
        yield run
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_version_and_help() -> None:
    version = run_cli("--version")
    assert version.returncode == 0 and re.match(r"chatkit-desktop \d+\.\d+\.\d+", version.stdout)
    helptext = run_cli("--help")
    assert helptext.returncode == 0
    for word in ("--data-dir", "--no-window", "--port", "Data:", "Logs:"):
        assert word in helptext.stdout


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serves_then_stops_cleanly_on_signal(tmp_path: Path, sig: int) -> None:
    with running(tmp_path / "data") as app:
        assert app.client.get("/api/health").json()["status"] == "ok"
        assert app.client.get("/api/health", headers={"Authorization": ""}).status_code == 401
        code, _out, err = app.stop(sig)
    assert code == 0, err
    assert "Traceback" not in err
    assert (tmp_path / "data" / "chats.db").exists()


def test_quitting_during_a_reply_ends_it_at_once_and_keeps_it(
    tmp_path: Path, provider: FakeProvider, env: dict[str, str]
) -> None:
    """Closing the app mid-reply: the reply so far and a title are saved, the stream ends with
    a last event that says why, and the app quits without waiting on it or printing errors."""
    provider.token_delay_s = 0.05
    provider.title_delay_s = 60  # still being written at quit: the first words stand in
    provider.reply(" ".join(f"word{i}" for i in range(400)))
    data = tmp_path / "data"
    body = json.dumps(
        {
            "type": "threads.create",
            "params": {"input": user_input("Plan a trip to Kyoto in spring")},
        }
    )
    events: list[dict[str, Any]] = []
    with running(data, env) as app:
        with app.client.stream("POST", "/chatkit", content=body) as response:
            lines = response.iter_lines()
            for line in lines:
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))
                if "word5" in line:
                    break
            app.proc.send_signal(signal.SIGTERM)
            events.extend(json.loads(line[6:]) for line in lines if line.startswith("data: "))
        code, _out, err = app.stop()
    assert code == 0, err
    assert "Traceback" not in err and "ERROR" not in err, err
    assert events[-1]["type"] == "error"
    assert events[-1]["message"] == (
        "ChatKit Desktop was closed during this reply. What it had written is saved."
    )
    thread_id = events[0]["thread"]["id"]
    with running(data, env) as again:
        thread = again.client.post(
            "/chatkit",
            content=json.dumps({"type": "threads.get_by_id", "params": {"thread_id": thread_id}}),
        ).json()
        again.stop()
    assert thread["title"] == "Plan a trip to Kyoto in"
    items = thread["items"]["data"]
    assert [i["type"] for i in items] == ["user_message", "assistant_message"]
    reply = items[1]["content"][0]["text"]
    assert reply.startswith("word0 word1") and "word399" not in reply


def test_sign_in_url_sets_a_cookie_and_drops_the_token(tmp_path: Path) -> None:
    with running(tmp_path / "data") as app:
        anonymous = httpx.Client(base_url=f"http://127.0.0.1:{app.port}")
        response = anonymous.get(f"/?token={TOKEN}", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/"
        assert "httponly" in response.headers["set-cookie"].lower()
        assert anonymous.get("/api/health").status_code == 200  # the cookie now signs it in
        assert httpx.get(f"http://127.0.0.1:{app.port}/api/health").status_code == 401
        anonymous.close()
        app.stop()


def test_busy_port_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("--no-window", "--port", str(port), "--data-dir", str(tmp_path / "d"))
    assert result.returncode != 0
    assert (
        result.stderr.strip()
        == f"chatkit-desktop: port {port} is already in use. Choose another with --port, or 0 for any."
    )


def test_unwritable_data_dir_is_one_clear_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = run_cli("--no-window", "--data-dir", str(blocker / "data"))
    assert result.returncode != 0
    assert result.stderr.startswith("chatkit-desktop: can't create the data folder")
    assert "Traceback" not in result.stderr


def test_newer_database_is_refused_clearly(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db = sqlite3.connect(data / "chats.db")
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    db.execute("INSERT INTO _migrations VALUES ('m001_initial', 'x'), ('m777_future', 'x')")
    db.commit()
    db.close()
    result = run_cli("--no-window", "--data-dir", str(data))
    assert result.returncode == 1
    assert "written by a newer version of ChatKit Desktop" in result.stderr
    assert "Traceback" not in result.stderr


def test_data_dir_from_env(tmp_path: Path) -> None:
    data = tmp_path / "from-env"
    with running(tmp_path / "ignored", {"CHATKIT_DESKTOP_DATA_DIR": str(data)}) as app:
        app.stop()
    # --data-dir wins over the env var
    assert (tmp_path / "ignored" / "chats.db").exists() and not data.exists()
    proc = subprocess.Popen(
        [sys.executable, "-m", "desktop", "--no-window", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "CHATKIT_DESKTOP_DATA_DIR": str(data)},
    )
    assert proc.stdout is not None
    proc.stdout.readline()
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert (data / "chats.db").exists()


def test_the_api_key_appears_nowhere(tmp_path: Path) -> None:
    """Responses, stdout, stderr, the log file and the DB never contain the key."""
    provider = FakeProvider().start()
    data = tmp_path / "data"
    env = {
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": provider.base_url,
        "CHATKIT_DESKTOP_MODEL": "fake-model",
    }
    seen: list[bytes] = []
    try:
        with running(data, env, "--debug") as app:

            def post(payload: dict[str, object]) -> bytes:
                response = app.client.post("/chatkit", json=payload)
                seen.append(response.content + str(response.headers).encode())
                return response.content

            first = parse_sse(
                post({"type": "threads.create", "params": {"input": user_input("hello")}})
            )
            thread_id = first[0]["thread"]["id"]
            # A provider that echoes the key back in its error, as real ones do.
            provider.fail(
                Fault(
                    "status",
                    status=401,
                    times=2,
                    body={"error": {"message": f"Incorrect API key provided: {API_KEY}"}},
                )
            )
            post(
                {
                    "type": "threads.add_user_message",
                    "params": {"thread_id": thread_id, "input": user_input("again")},
                }
            )
            provider.fail(
                Fault(
                    "status",
                    status=400,
                    body={"error": {"message": f"bad request for key {API_KEY}"}},
                )
            )
            post(
                {
                    "type": "threads.add_user_message",
                    "params": {"thread_id": thread_id, "input": user_input("more")},
                }
            )
            # A key saved through Settings is masked and kept out of everything the same way.
            saved = app.client.put("/api/settings", json={"api_key": SAVED_KEY})
            seen.append(saved.content)
            assert saved.status_code == 200 and saved.json()["api_key"]["storage"] == "keychain"
            seen.append(app.client.get("/api/settings").content)
            post({"type": "threads.list", "params": {}})
            post({"type": "items.list", "params": {"thread_id": thread_id}})
            seen.append(app.client.get("/").content)
            seen.append(app.client.get("/api/health").content)
            code, out, err = app.stop()
        assert code == 0
        seen += [out.encode(), err.encode()]
        for path in data.rglob("*"):
            if path.is_file():
                seen.append(path.read_bytes())
        assert any(p.name.endswith(".log") for p in data.rglob("*"))
        assert any(b"rejected the API key" in blob for blob in seen)
        for blob in seen:
            for secret in (API_KEY.encode(), SAVED_KEY.encode(), b"SECRETKEY", b"SAVEDKEY"):
                assert secret not in blob
        assert provider.chat_requests()[0].headers["authorization"] == f"Bearer {API_KEY}"
    finally:
        provider.stop()


def test_browser_mode_opens_a_one_time_sign_in_url(tmp_path: Path) -> None:
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "fake-browser"
    browser.write_text(f'#!/bin/sh\necho "$1" >> {opened}\n')
    browser.chmod(0o755)
    proc = subprocess.Popen(
        [sys.executable, "-m", "desktop", "--browser", "--data-dir", str(tmp_path / "data")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "BROWSER": str(browser), "CHATKIT_DESKTOP_TOKEN": TOKEN},
    )
    assert proc.stdout is not None
    port = int(re.search(r"127\.0\.0\.1:(\d+)", proc.stdout.readline()).group(1))  # type: ignore[union-attr]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not opened.exists():
        time.sleep(0.1)
    url = opened.read_text().strip()
    # Other users see a browser's command line: it carries a code that works once, not the token.
    assert TOKEN not in url
    assert re.fullmatch(rf"http://127\.0\.0\.1:{port}/\?code=[\w-]{{20,}}", url), url
    with httpx.Client() as browser_session:
        assert "set-cookie" in browser_session.get(url, follow_redirects=False).headers
        assert browser_session.get(f"http://127.0.0.1:{port}/api/settings").status_code == 200
    assert "set-cookie" not in httpx.get(url, follow_redirects=False).headers
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
