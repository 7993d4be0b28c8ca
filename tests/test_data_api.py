"""Settings → Data over HTTP on a running app: export downloads, imports with progress and
cancel, backups and restoring them in place, deleting everything, and the data folder."""

from __future__ import annotations

import io
import json
import stat
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from desktop.errors import DesktopError
from desktop.file_manager import open_folder
from tests.support.fake_provider import FakeProvider
from tests.support.live import LiveServer, live_server

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from data_portability import write_export  # noqa: E402


@pytest.fixture
def env(provider: FakeProvider) -> dict[str, str]:
    # One API flavour is enough: nothing here depends on it.
    return {
        "OPENAI_BASE_URL": provider.base_url,
        "CHATKIT_DESKTOP_MODEL": "fake-model",
        "CHATKIT_DESKTOP_API": "chat_completions",
    }


@pytest.fixture
def opened() -> list[Path]:
    return []


@pytest.fixture
def app(data_dir: Path, env: dict[str, str], opened: list[Path]) -> Iterator[LiveServer]:
    with live_server(data_dir, env, open_folder=opened.append) as live:
        # A key saved the way the user saves one (never in a backup or an export).
        saved = live.client.put("/api/settings", json={"api_key": "sk-test-key-1234"})
        assert saved.status_code == 200, saved.text
        yield live


def titles(app: LiveServer) -> list[str]:
    page = app.call("threads.list", limit=1000, order="asc")
    return [t["title"] or "" for t in page["data"]]


def chat(app: LiveServer, provider: FakeProvider, text: str, title: str) -> str:
    provider.reply(f"A reply about {text}")
    thread_id, _ = app.create_thread(text)
    app.call("threads.update", thread_id=thread_id, title=title)
    return thread_id


def wait_for(
    app: LiveServer, job: dict[str, Any], until: Any, timeout: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = app.client.get(f"/api/data/import/{job['id']}").json()
        if until(job):
            return job
        time.sleep(0.05)
    raise AssertionError(f"the import never got there: {job}")


def upload(app: LiveServer, path: Path, name: str | None = None) -> dict[str, Any]:
    response = app.client.post(
        "/api/data/import",
        content=path.read_bytes(),
        headers={"X-File-Name": name or path.name, "Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


def test_export_downloads_all_chats_or_one(
    app: LiveServer, provider: FakeProvider, data_dir: Path
) -> None:
    first = chat(app, provider, "tide pools", "Tide pools")
    chat(app, provider, "sourdough", "Sourdough: starter")

    whole = app.client.get("/api/data/export", params={"format": "json"})
    assert whole.status_code == 200
    assert 'filename="chatkit-desktop-' in whole.headers["content-disposition"]
    document = whole.json()
    assert [t["thread"]["title"] for t in document["threads"]] == [
        "Tide pools",
        "Sourdough: starter",
    ]
    assert "sk-test-key" not in whole.text

    archive = app.client.get("/api/data/export", params={"format": "markdown"})
    assert archive.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    assert sorted(names) == ["Sourdough-starter.md", "Tide-pools.md"]

    one = app.client.get("/api/data/export", params={"format": "markdown", "thread": first})
    assert one.headers["content-disposition"].endswith("filename*=utf-8''Tide%20pools.md")
    assert "tide pools" in one.text and "A reply about tide pools" in one.text

    # The working copies go once sent (just after), and their folder is the user's alone.
    deadline = time.monotonic() + 10
    while any((data_dir / ".exports").iterdir()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert list((data_dir / ".exports").iterdir()) == []
    assert private(data_dir / ".exports")

    missing = app.client.get("/api/data/export", params={"thread": "thr_nope"})
    assert (
        missing.status_code == 404
        and missing.json()["error"]["message"] == "There is no such chat."
    )
    wrong = app.client.get("/api/data/export", params={"format": "pdf"})
    assert wrong.status_code == 400 and "json or markdown" in wrong.json()["error"]["message"]


def test_an_import_from_the_page_shows_progress_and_is_searchable(
    app: LiveServer, tmp_path: Path
) -> None:
    export = tmp_path / "conversations.json"
    write_export(export, 300)
    job = upload(app, export)
    assert job["state"] == "importing" and job["name"] == "conversations.json"
    seen: list[float] = []

    def finished(j: dict[str, Any]) -> bool:
        seen.append(j["fraction"])
        return bool(j["state"] != "importing")

    done = wait_for(app, job, finished)
    assert done["state"] == "done", done
    assert done["added"] > 300 and done["fraction"] == 1.0  # branches are chats of their own
    assert all(0.0 <= f <= 1.0 for f in seen)
    assert len(titles(app)) == done["added"]
    hits = app.client.get("/api/search", params={"q": "wizards"}).json()["results"]
    assert hits, "imported chats are in the full-text index"

    again = wait_for(app, upload(app, export), lambda j: j["state"] != "importing")
    assert again["state"] == "done" and again["added"] == 0 and again["skipped"] == done["added"]
    assert not any((app.data_dir / "imports").iterdir())


def test_cancelling_an_import_leaves_nothing_behind(app: LiveServer, tmp_path: Path) -> None:
    export = tmp_path / "chatgpt.zip"
    plain = tmp_path / "conversations.json"
    write_export(plain, 3000)
    with zipfile.ZipFile(export, "w") as archive:
        archive.write(plain, "conversations.json")
    before = titles(app)
    job = upload(app, export)
    under_way = wait_for(app, job, lambda j: j["added"] > 0 or j["state"] != "importing")
    assert under_way["state"] == "importing", "the import was over before it could be cancelled"
    assert 0 < under_way["fraction"] < 1

    # While it runs, nothing else may replace the history.
    busy = app.client.post("/api/backups/restore", json={"name": "whatever"})
    assert busy.status_code == 409 and "import is under way" in busy.json()["error"]["message"]

    app.client.delete(f"/api/data/import/{job['id']}")
    ended = wait_for(app, job, lambda j: j["state"] != "importing")
    assert ended["state"] == "cancelled" and ended["message"] == "Cancelled; nothing was imported."
    assert titles(app) == before
    assert not any((app.data_dir / "attachments").iterdir())
    assert not any((app.data_dir / "imports").iterdir())


def test_a_bad_file_fails_by_the_name_the_user_chose(app: LiveServer, tmp_path: Path) -> None:
    broken = tmp_path / "upload.bin"
    broken.write_text('[{"title": "cut short", "mapping": {')
    job = wait_for(app, upload(app, broken, "my export.json"), lambda j: j["state"] != "importing")
    assert job["state"] == "failed"
    assert "my export.json" in job["message"] and "upload-" not in job["message"]
    assert titles(app) == []


def test_restoring_a_backup_shows_exactly_its_state(
    app: LiveServer, provider: FakeProvider, data_dir: Path
) -> None:
    chat(app, provider, "tide pools", "Tide pools")
    (data_dir / "attachments" / "att_kept").write_bytes(b"kept")
    app.client.put("/api/settings", json={"settings": {"theme": "dark"}})
    made = app.client.post("/api/backups").json()
    assert made["reason"] == "manual" and private(data_dir / "backups" / made["name"] / "chats.db")

    chat(app, provider, "sourdough", "Sourdough")
    (data_dir / "attachments" / "att_later").write_bytes(b"later")
    app.client.put("/api/settings", json={"settings": {"theme": "light"}})

    listed = app.client.get("/api/backups").json()
    assert listed["keep"] == 7 and [b["name"] for b in listed["backups"]] == [made["name"]]

    restored = app.client.post("/api/backups/restore", json={"name": made["name"]})
    assert restored.status_code == 200, restored.text
    assert titles(app) == ["Tide pools"]
    assert sorted(p.name for p in (data_dir / "attachments").iterdir()) == ["att_kept"]
    assert app.client.get("/api/settings").json()["settings"]["theme"] == "dark"
    hits = app.client.get("/api/search", params={"q": "sourdough"}).json()["results"]
    assert hits == []

    # What was there before the restore is itself a backup, and the app carries on writing.
    saved = restored.json()["saved_as"]
    assert "before-restore" in saved
    chat(app, provider, "kites", "Kites")
    assert titles(app) == ["Tide pools", "Kites"]
    undo = app.client.post("/api/backups/restore", json={"name": saved})
    assert undo.status_code == 200 and titles(app) == ["Tide pools", "Sourdough"]


def test_restore_takes_only_a_backup_from_the_list(app: LiveServer) -> None:
    for name, status in (
        ("../chats.db", 400),
        (".partial-x", 400),
        ("20260101-000000-manual", 404),
    ):
        response = app.client.post("/api/backups/restore", json={"name": name})
        assert response.status_code == status, (name, response.text)
        assert "Traceback" not in response.text
    assert app.client.post("/api/backups/restore", content=b"{").status_code == 400


def test_delete_everything_needs_the_word_then_starts_over(
    app: LiveServer, provider: FakeProvider, data_dir: Path
) -> None:
    chat(app, provider, "tide pools", "Tide pools")
    (data_dir / "attachments" / "att_1").write_bytes(b"photo")
    app.client.put("/api/settings", json={"settings": {"theme": "dark"}})
    app.client.post("/api/backups")
    (data_dir / "mcp.json").write_text(json.dumps({"mcpServers": {}}))

    refused = app.client.post("/api/data/erase", json={"confirm": "yes"})
    assert (
        refused.status_code == 400 and "nothing was deleted" in refused.json()["error"]["message"]
    )
    assert titles(app) == ["Tide pools"]

    erased = app.client.post("/api/data/erase", json={"confirm": " Delete "})
    assert erased.status_code == 200, erased.text
    assert titles(app) == []
    assert not any((data_dir / "attachments").iterdir())
    assert not (data_dir / "backups").exists()
    assert not (data_dir / "settings.json").exists() and not (data_dir / "mcp.json").exists()
    view = app.client.get("/api/settings").json()
    assert view["settings"]["theme"] == "system" and not view["api_key"]["set"]
    raw = (data_dir / "chats.db").read_bytes()
    assert b"tide pools" not in raw and b"Tide pools" not in raw

    # The app is usable at once: a new key, a new chat.
    app.client.put("/api/settings", json={"api_key": "sk-test-key-5678"})
    chat(app, provider, "kites", "Kites")
    assert titles(app) == ["Kites"]


def test_the_data_folder_opens_in_the_file_manager(
    app: LiveServer, opened: list[Path], data_dir: Path
) -> None:
    response = app.client.post("/api/data/open-folder")
    assert response.status_code == 200 and opened == [data_dir]


def test_the_system_opener_gets_the_folder_without_the_bundles_libraries(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "opened.txt"
    opener = bin_dir / ("open" if sys.platform == "darwin" else "xdg-open")
    opener.write_text(f'#!/bin/sh\necho "$1 ${{LD_LIBRARY_PATH:-none}}" > {record}\n')
    opener.chmod(0o755)
    env = {
        "PATH": str(bin_dir),
        "LD_LIBRARY_PATH": "/bundle/libs",
        "LD_LIBRARY_PATH_ORIG": "/usr/lib/x",
    }
    open_folder(tmp_path, env)
    deadline = time.monotonic() + 10
    while not record.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert record.read_text().split() == [str(tmp_path), "/usr/lib/x"]

    with pytest.raises(DesktopError) as missing:
        open_folder(tmp_path, {"PATH": str(tmp_path / "nowhere")})
    assert str(tmp_path) in missing.value.message and "missing" in missing.value.message


def test_a_failed_daily_backup_is_shown_until_one_succeeds(
    data_dir: Path, env: dict[str, str]
) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "backups").write_text("in the way")  # the backups folder can't be made
    with live_server(data_dir, env, first_backup_after_s=0.05) as app:
        deadline = time.monotonic() + 30
        while True:
            failure = app.client.get("/api/backups").json()["last_failure"]
            if failure or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert failure and failure.startswith(
            "The backup failed, and the earlier backups are untouched"
        )
        (data_dir / "backups").unlink()
        assert app.client.post("/api/backups").status_code == 200
        listed = app.client.get("/api/backups").json()
        assert listed["last_failure"] is None and len(listed["backups"]) == 1


def test_an_old_backup_is_brought_up_to_date_and_a_damaged_one_changes_nothing(
    app: LiveServer, provider: FakeProvider, data_dir: Path
) -> None:
    import sqlite3

    schemas = Path(__file__).parent / "schemas"
    old = data_dir / "backups" / "20250101-000000-daily"
    old.mkdir(parents=True)
    db = sqlite3.connect(old / "chats.db")
    db.executescript((schemas / "m003_search_index.sql").read_text())
    db.close()
    damaged = data_dir / "backups" / "20250102-000000-daily"
    damaged.mkdir()
    (damaged / "chats.db").write_bytes(b"SQLite format 3\x00" + b"\x00" * 2000)
    chat(app, provider, "tide pools", "Tide pools")

    refused = app.client.post("/api/backups/restore", json={"name": damaged.name})
    assert refused.status_code == 422, refused.text
    message = refused.json()["error"]["message"]
    assert message.endswith("is damaged (file is not a database); nothing was changed.")
    assert titles(app) == ["Tide pools"]

    restored = app.client.post("/api/backups/restore", json={"name": old.name})
    assert restored.status_code == 200, restored.text
    assert titles(app) == ["From version 0.1"]
    # The old history now has this version's schema: the app's newer features work on it.
    chat(app, provider, "kites", "Kites")
    assert app.client.get("/api/search", params={"q": "kites"}).json()["results"]


def test_working_files_a_crash_left_behind_are_removed_at_start(
    data_dir: Path, env: dict[str, str]
) -> None:
    leftovers = [
        data_dir / "imports" / "upload-0123",
        data_dir / ".exports" / "abcd" / "Tide pools.md",
        data_dir / ".restoring-attachments" / "att_1",
    ]
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("half done")
    with live_server(data_dir, env):
        assert not any(path.parent.exists() for path in leftovers)
        assert (data_dir / "chats.db").exists()
