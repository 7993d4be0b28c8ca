"""Issue-driven hardening: what an adversarial review found, one test per finding.

Model output, other local users and other local web pages are the attackers here.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from chatkit.types import FileAttachment, UserMessageItem

from desktop.chat.converter import MAX_TURN_ATTACHMENT_BYTES, sendable_attachments
from desktop.fileio import remove_tree
from desktop.shell.window import stays_in_app
from desktop.store import MAX_PENDING_UPLOADS, SQLiteStore
from tests.support.fake_provider import FakeProvider
from tests.support.headless import ROOT, start_headless
from tests.support.live import API_KEY, TOKEN, LiveServer, live_server, user_input


@pytest.fixture
def api() -> str:
    return "chat_completions"


def run(coro: Any) -> Any:
    # The live server owns its own loop; store calls from a test run on a fresh one.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ---------------------------------------------------------------- the session cookie


def test_cookie_is_per_instance_and_is_not_the_token(
    data_dir: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    # One browser, signed in to both: cookies ignore ports, so names must not collide.
    with (
        live_server(data_dir, env) as one,
        live_server(other, env) as two,
        httpx.Client() as browser,
    ):
        for server in (one, two):
            answer = browser.get(f"{server.url}/?token={TOKEN}", follow_redirects=False)
            name, _, rest = answer.headers["set-cookie"].partition("=")
            assert name == f"chatkit_desktop_session_{server.port}"
            assert TOKEN not in rest
        for server in (one, two):
            assert browser.get(f"{server.url}/api/settings").status_code == 200
        # The cookie's value is no Bearer token.
        value = browser.cookies.get(f"chatkit_desktop_session_{one.port}")
        assert value
        refused = httpx.get(f"{one.url}/api/settings", headers={"Authorization": f"Bearer {value}"})
        assert refused.status_code == 401


def test_one_time_sign_in_code(server: LiveServer) -> None:
    code = server.app.state.desktop.sign_in_codes.issue()
    with httpx.Client(base_url=server.url) as first:
        answer = first.get(f"/?code={code}", follow_redirects=False)
        assert answer.status_code == 303 and "set-cookie" in answer.headers
        assert first.get("/api/settings").status_code == 200
    with httpx.Client(base_url=server.url) as second:
        again = second.get(f"/?code={code}", follow_redirects=False)
        assert "set-cookie" not in again.headers
        assert second.get("/api/settings").status_code == 401


# ---------------------------------------------------------------- the token never on disk


def test_upload_headers_are_never_stored(server: LiveServer) -> None:
    created = server.call("attachments.create", name="a.txt", size=5, mime_type="text/plain")
    assert created["upload_descriptor"]["headers"]["Authorization"] == f"Bearer {TOKEN}"
    thread_id, _ = server.create_thread("look")
    server.stream(
        "threads.add_user_message", thread_id=thread_id, input=user_input("unfinished upload")
    )
    # Pending, then done: neither state keeps the token.
    blob = b"".join(p.read_bytes() for p in server.data_dir.glob("chats.db*"))
    assert TOKEN.encode() not in blob
    upload = server.client.put(created["upload_descriptor"]["url"], content=b"hello")
    assert upload.status_code == 200, upload.text
    blob = b"".join(p.read_bytes() for p in server.data_dir.glob("chats.db*"))
    assert TOKEN.encode() not in blob


def test_data_dir_and_every_file_are_private_also_for_old_installs(
    tmp_path: Path, provider: FakeProvider
) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    store = SQLiteStore(data / "chats.db")
    store.open()
    store.close()
    (data / "attachments" / "atc_0000000000000000").write_bytes(b"x")
    for path in [data / "chats.db", *(data / "attachments").iterdir()]:
        path.chmod(0o644)
    (data / "attachments").chmod(0o755)
    env = {
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": provider.base_url,
        "CHATKIT_DESKTOP_TOKEN": TOKEN,
    }
    proc, port = start_headless(data, env)
    try:
        answer = httpx.post(
            f"http://127.0.0.1:{port}/chatkit",
            headers={"Authorization": f"Bearer {TOKEN}"},
            content=json.dumps({"type": "threads.create", "params": {"input": user_input("hi")}}),
            timeout=30,
        )
        assert answer.status_code == 200
        for path in [data, *data.rglob("*")]:
            expected = 0o700 if path.is_dir() else 0o600
            assert mode(path) & 0o077 == 0, f"{path} is {oct(mode(path))}"
            assert mode(path) == expected, f"{path} is {oct(mode(path))}"
        assert (data / "chats.db-wal").exists() and (data / ".instance.json").exists()
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


# ---------------------------------------------------------------- the key stays home


def test_testing_another_address_never_sends_the_saved_key(
    data_dir: Path, provider: FakeProvider
) -> None:
    saved = "sk-saved-KEY-that-stays-home-1234"
    elsewhere = FakeProvider().start()
    with live_server(data_dir, {}) as server, _stopping(elsewhere):
        response = server.client.put(
            "/api/settings",
            json={
                "api_key": saved,
                "settings": {"provider": "custom", "base_url": provider.base_url},
            },
        )
        assert response.status_code == 200
        result = server.client.post(
            "/api/settings/test",
            json={"settings": {"provider": "custom", "base_url": elsewhere.base_url}},
        ).json()
        seen = [r.headers.get("authorization", "") for r in elsewhere.requests]
        assert seen, "the test did reach the other address"
        assert not any(saved in h or API_KEY in h for h in seen)
        assert result["ok"] is True  # the fake answers without a key
        # The saved address still gets the saved key.
        assert server.client.post("/api/settings/test", json={}).json()["ok"] is True
        assert provider.requests[-1].headers["authorization"] == f"Bearer {saved}"


@contextmanager
def _stopping(fake: FakeProvider) -> Iterator[FakeProvider]:
    try:
        yield fake
    finally:
        fake.stop()


# ---------------------------------------------------------------- robustness


@pytest.mark.parametrize(
    "path,method",
    [
        ("/chatkit", "POST"),
        ("/api/settings", "PUT"),
        ("/api/log", "POST"),
        ("/api/ui-state", "PUT"),
    ],
)
def test_deeply_nested_json_is_a_400(server: LiveServer, path: str, method: str) -> None:
    body = b"[" * 5000 + b"]" * 5000
    response = server.client.request(method, path, content=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize("path,method", [("/api/settings", "PUT"), ("/api/log", "POST")])
def test_api_bodies_are_capped(server: LiveServer, path: str, method: str) -> None:
    huge = json.dumps({"message": "x" * (2 * 1024 * 1024)}).encode()
    response = server.client.request(method, path, content=huge)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"

    def chunks() -> Iterator[bytes]:
        # No Content-Length: the cap applies while the body arrives.
        for _ in range(64):
            yield b"x" * 16384

    streamed = server.client.request(method, path, content=chunks())
    assert streamed.status_code == 413


def test_page_log_lines_cannot_be_forged(
    server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    forged = "oops\n2026-01-01 00:00:00,000 ERROR desktop: FORGED\r\u2028x"
    with caplog.at_level(logging.INFO, logger="desktop.page"):
        response = server.client.post("/api/log", json={"message": forged, "source": "a\nb"})
        assert response.status_code == 204
    (record,) = [r for r in caplog.records if r.name == "desktop.page"]
    text = record.getMessage()
    assert "\n" not in text and "\r" not in text and "\u2028" not in text
    assert "FORGED" in text


def test_pending_uploads_are_capped(server: LiveServer) -> None:
    for _ in range(MAX_PENDING_UPLOADS):
        server.call("attachments.create", name="a.txt", size=5, mime_type="text/plain")
    refused = server.post(
        {
            "type": "attachments.create",
            "params": {"name": "a.txt", "size": 5, "mime_type": "text/plain"},
        }
    )
    assert refused.status_code == 400
    assert "waiting to be sent" in refused.json()["error"]["message"]


def test_a_turn_sends_only_the_newest_attachments_that_fit() -> None:
    now = datetime.now()

    def message(item_id: str, *attachment_ids: str) -> UserMessageItem:
        return UserMessageItem(
            id=item_id,
            thread_id="t",
            created_at=now,
            content=[],
            attachments=[
                FileAttachment(id=a, name=a, mime_type="application/pdf") for a in attachment_ids
            ],
            inference_options={},  # type: ignore[arg-type]
        )

    third = MAX_TURN_ATTACHMENT_BYTES // 3 + 1
    items = [message("m1", "old"), message("m2", "mid"), message("m3", "new")]
    sizes = {"old": third, "mid": third, "new": third}
    assert sendable_attachments(items, sizes) == {"mid", "new"}
    assert sendable_attachments(items, {"old": 10, "mid": 10, "new": 10}) == {"old", "mid", "new"}
    small = FileAttachment(id="s", name="s", mime_type="text/plain")
    assert small.id not in sendable_attachments(items, sizes)


def test_titles_lose_bidi_and_control_characters(server: LiveServer) -> None:
    thread_id, _ = server.create_thread()
    updated = server.call(
        "threads.update", thread_id=thread_id, title="invoice\u202egpj.exe\u2066\x07 ok"
    )
    assert updated["title"] == "invoice gpj.exe ok"


# ---------------------------------------------------------------- files that aren't ours


def test_another_apps_sqlite_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db = sqlite3.connect(data / "chats.db")
    db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    db.execute("INSERT INTO notes (body) VALUES ('mine')")
    db.commit()
    db.close()
    before = hashlib.sha256((data / "chats.db").read_bytes()).hexdigest()
    proc = _run_cli(data)
    assert proc.returncode == 1
    assert "another program's database" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert hashlib.sha256((data / "chats.db").read_bytes()).hexdigest() == before
    assert not (data / "chats.db-wal").exists()
    assert sqlite3.connect(data / "chats.db").execute("PRAGMA journal_mode").fetchone() == (
        "delete",
    )


def test_read_only_history_is_refused_at_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = SQLiteStore(data / "chats.db")
    store.open()
    store.close()
    (data / "chats.db").chmod(0o400)
    proc = _run_cli(data)
    assert proc.returncode == 1
    assert "read-only" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


@pytest.mark.parametrize("broken", ["logs-is-a-file", "settings-is-a-folder"])
def test_odd_files_in_the_data_dir_get_one_clear_line(tmp_path: Path, broken: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    if broken == "logs-is-a-file":
        (data / "logs").write_text("not a folder")
        expected = "log"
    else:
        (data / "settings.json").mkdir()
        expected = "settings file"
    proc = _run_cli(data)
    assert proc.returncode != 0
    assert expected in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def _run_cli(data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "desktop", "--no-window", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "OPENAI_API_KEY": API_KEY},
    )


# ---------------------------------------------------------------- feedback and page state


def test_feedback_is_returned_changed_and_cleared(server: LiveServer) -> None:
    thread_id, events = server.create_thread()
    reply = next(
        e["item"]["id"]
        for e in events
        if e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message"
    )
    path = f"/api/threads/{thread_id}/feedback"
    assert server.client.get(path).json() == {"feedback": {}}
    server.call("items.feedback", thread_id=thread_id, item_ids=[reply], kind="positive")
    assert server.client.get(path).json() == {"feedback": {reply: "positive"}}
    server.call("items.feedback", thread_id=thread_id, item_ids=[reply], kind="negative")
    assert server.client.get(path).json() == {"feedback": {reply: "negative"}}
    assert server.client.delete(f"{path}/{reply}").status_code == 204
    assert server.client.get(path).json() == {"feedback": {}}
    assert server.client.get("/api/threads/thr_nope/feedback").status_code == 404


def test_page_state_persists_and_is_validated(data_dir: Path, env: dict[str, str]) -> None:
    with live_server(data_dir, env) as server:
        assert server.client.get("/api/ui-state").json() == {"chatkit_unreachable": False}
        saved = server.client.put("/api/ui-state", json={"chatkit_unreachable": True})
        assert saved.json() == {"chatkit_unreachable": True}
        for bad in ({"anything": 1}, {"chatkit_unreachable": "yes"}, [1]):
            assert server.client.put("/api/ui-state", json=bad).status_code == 400
    with live_server(data_dir, env) as server:
        assert server.client.get("/api/ui-state").json() == {"chatkit_unreachable": True}


# ---------------------------------------------------------------- the window stays on the app


@pytest.mark.parametrize(
    "url,allowed",
    [
        ("http://127.0.0.1:5000/", True),
        ("http://127.0.0.1:5000/settings?x=1", True),
        ("data:text/html,hello", True),
        ("about:blank", True),
        ("http://127.0.0.1:5001/", False),
        ("http://localhost:5000/", False),
        ("https://example.com/", False),
        ("file:///etc/passwd", False),
        ("javascript:alert(1)", False),
    ],
)
def test_window_navigation_guard(url: str, allowed: bool) -> None:
    assert stays_in_app(url, "http://127.0.0.1:5000/?token=x") is allowed
    assert stays_in_app(url, None) is True


@pytest.fixture
def deep_data(tmp_path: Path) -> Iterator[Path]:
    """A data dir with a folder deeper than Python recurses (a hostile backup's attachments),
    removed afterwards whatever happens: pytest's own clean-up of old runs would recurse."""
    data = tmp_path / "data"
    nested_deep(data / "backups" / "evil" / "attachments")
    try:
        yield data
    finally:
        remove_tree(data)


def nested_deep(folder: Path, depth: int = 1_400) -> None:
    folder.mkdir(parents=True)
    here = os.getcwd()
    try:
        os.chdir(folder)
        for _ in range(depth):
            os.mkdir("d")
            os.chdir("d")
    finally:
        os.chdir(here)


def test_a_folder_nested_thousands_deep_never_stops_a_command(deep_data: Path) -> None:
    """Every command makes the data dir private first: that walk must not recurse."""
    data = deep_data
    (data / "chats.db").write_bytes(b"")
    done = subprocess.run(
        [sys.executable, "-m", "desktop", "backup", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert "Traceback" not in done.stderr and "RecursionError" not in done.stderr
    assert done.returncode == 0, done.stderr


def test_deleting_everything_removes_a_folder_nested_thousands_deep(deep_data: Path) -> None:
    data = deep_data
    with live_server(data, {}) as app:
        erased = app.client.post("/api/data/erase", json={"confirm": "delete"})
        assert erased.status_code == 200, erased.text
    assert not (data / "backups" / "evil").exists()
