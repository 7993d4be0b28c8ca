"""Backups: SQLite's online backup API plus attachments and settings, kept 7 deep, made before
every schema migration, and the `backup` / `restore` subcommands (refused while the app runs)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop.context import RequestContext
from desktop.errors import NotFound, StoreError
from desktop.store import SQLiteStore
from desktop.store.backups import (
    backups_dir,
    create_backup,
    find_backup,
    list_backups,
    restore_backup,
)
from tests.support.headless import run_cli, start_headless
from tests.support.hostile_backups import backup_with_deep_folders, good_backup, remove_deep
from tests.support.live import user_input  # noqa: F401 (shared request shapes)

CTX = RequestContext()
SCHEMAS = Path(__file__).parent / "schemas"


async def seed(data: Path, titles: list[str]) -> None:
    from datetime import datetime

    from chatkit.types import ThreadMetadata

    store = SQLiteStore(data / "chats.db", attachments_dir=data / "attachments")
    try:
        for n, title in enumerate(titles):
            await store.save_thread(
                ThreadMetadata(id=f"thr_{n}", created_at=datetime.now(), title=title), CTX
            )
    finally:
        store.close()


async def titles(data: Path) -> list[str]:
    store = SQLiteStore(data / "chats.db", attachments_dir=data / "attachments")
    try:
        page = await store.load_threads(100, None, "asc", CTX)
        return [t.title or "" for t in page.data]
    finally:
        store.close()


async def test_a_backup_holds_the_history_attachments_and_settings(tmp_path: Path) -> None:
    data = tmp_path / "data"
    await seed(data, ["Kyoto trip", "Sourdough"])
    (data / "attachments" / "att_1").write_bytes(b"photo bytes")
    (data / "settings.json").write_text('{"theme": "dark"}')
    (data / "api_key").write_text("sk-never-in-a-backup")
    made = create_backup(data, "manual")
    assert made.path.parent == backups_dir(data) and made.reason == "manual"
    copy = sqlite3.connect(made.path / "chats.db")
    assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert copy.execute("SELECT count(*) FROM threads").fetchone() == (2,)
    copy.close()
    assert (made.path / "attachments" / "att_1").read_bytes() == b"photo bytes"
    assert json.loads((made.path / "settings.json").read_text()) == {"theme": "dark"}
    assert not (made.path / "api_key").exists()
    assert made.path.stat().st_mode & 0o077 == 0
    assert all(p.stat().st_mode & 0o077 == 0 for p in made.path.rglob("*"))


async def test_only_the_newest_seven_are_kept_and_a_failed_one_replaces_nothing(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    await seed(data, ["One"])
    made = [create_backup(data, f"n{i}") for i in range(9)]
    kept = list_backups(data)
    assert len(kept) == 7 and [b.reason for b in kept] == [f"n{i}" for i in range(8, 1, -1)]
    assert not made[0].path.exists()
    # A backup that fails (here: an attachment it can't read) leaves no trace.
    (data / "attachments" / "gone").symlink_to(tmp_path / "nowhere")
    with pytest.raises(StoreError, match="The backup failed, and the earlier backups"):
        create_backup(data, "fails")
    assert [b.name for b in list_backups(data)] == [b.name for b in kept]
    assert not [p for p in backups_dir(data).iterdir() if p.name.startswith(".partial")]


async def test_restore_brings_back_exactly_the_backed_up_state(tmp_path: Path) -> None:
    data = tmp_path / "data"
    await seed(data, ["Before"])
    (data / "attachments" / "att_1").write_bytes(b"old")
    backup = create_backup(data, "manual")
    await seed(data, ["Before", "After"])
    (data / "attachments" / "att_1").write_bytes(b"new")
    (data / "attachments" / "att_2").write_bytes(b"added later")
    saved = restore_backup(data, find_backup(data, None))
    # (looked at before the store opens: it clears files no chat refers to, as these)
    assert sorted(p.name for p in (data / "attachments").iterdir()) == ["att_1"]
    assert (data / "attachments" / "att_1").read_bytes() == b"old"
    assert await titles(data) == ["Before"]
    # The state it replaced is itself kept, so a restore can be undone.
    assert saved is not None and saved.reason == "before-restore"
    restore_backup(data, saved)
    assert sorted(await titles(data)) == ["After", "Before"]
    assert find_backup(data, backup.name).path == backup.path
    with pytest.raises(NotFound, match="is not a backup"):
        find_backup(data, "no-such-backup")


async def test_a_schema_update_backs_up_the_history_first(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db = sqlite3.connect(data / "chats.db")
    db.executescript((SCHEMAS / "m003_search_index.sql").read_text())
    db.close()
    assert await titles(data) == ["From version 0.1"]  # opening it migrated it
    (backup,) = list_backups(data)
    assert backup.reason == "before-m004_tool_approvals"
    old = sqlite3.connect(backup.path / "chats.db")
    applied = [r[0] for r in old.execute("SELECT name FROM _migrations")]
    assert applied[-1] == "m003_search_index"
    old.close()
    await titles(data)  # nothing to migrate: no new backup
    assert len(list_backups(data)) == 1


async def test_backup_and_restore_from_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    await seed(data, ["Kept"])
    made = run_cli("backup", "--data-dir", str(data))
    assert made.returncode == 0, made.stderr
    path = Path(made.stdout.strip())
    assert (path / "chats.db").is_file() and path.parent == backups_dir(data).resolve()
    await seed(data, ["Kept", "Lost"])
    restored = run_cli("--data-dir", str(data), "restore")
    assert restored.returncode == 0, restored.stderr
    assert f"Restored {path.name}." in restored.stdout
    assert await titles(data) == ["Kept"]
    bad = run_cli("restore", "nothing-like-this", "--data-dir", str(data))
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1
    assert "is not a backup" in bad.stderr and "Traceback" not in bad.stderr


def test_writing_commands_refuse_while_the_app_runs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc, _ = start_headless(data, {"CHATKIT_DESKTOP_TOKEN": "backup-test-token-0123456789abcdef"})
    try:
        export = tmp_path / "export.json"
        assert run_cli("export", "--data-dir", str(data), str(export)).returncode == 0

        def listing() -> list[str]:  # (SQLite's own -wal and -shm files come and go)
            return sorted(p.name for p in data.iterdir() if not p.name.endswith(("-wal", "-shm")))

        before = listing()
        for command in (["restore"], ["import", str(export)]):
            result = run_cli(*command, "--data-dir", str(data))
            assert result.returncode == 1
            assert "is running on" in result.stderr and "Close it first" in result.stderr
        assert listing() == before
        # Reading beside it is safe: a backup goes through SQLite's online backup API.
        made = run_cli("backup", "--data-dir", str(data))
        assert made.returncode == 0 and Path(made.stdout.strip()).is_dir()
    finally:
        proc.terminate()
        proc.wait(30)


async def test_the_running_app_backs_up_once_a_day(tmp_path: Path) -> None:
    import asyncio

    from tests.support.live import live_server

    data = tmp_path / "data"
    data.mkdir()
    (data / "settings.json").write_text('{"backups_keep": 3}')
    with live_server(data, {}, first_backup_after_s=0.05):
        for _ in range(100):
            if list_backups(data):
                break
            await asyncio.sleep(0.05)
    (daily,) = list_backups(data)
    assert daily.reason == "daily"
    # Not due again within the day; due once the newest is a day old.
    from desktop.store.backups import backup_if_due

    assert backup_if_due(data, every_s=86_400, keep=3) is None
    assert backup_if_due(data, every_s=0, keep=3) is not None
    for _ in range(4):
        backup_if_due(data, every_s=0, keep=3)
    assert len(list_backups(data)) == 3


@pytest.fixture
def deep_backup(tmp_path: Path) -> Iterator[Path]:
    """A backup in the app's own folder with 1,400 nested folders among its attachments: the
    list used to raise RecursionError (so did every new backup, which prunes the list)."""
    folder = backup_with_deep_folders(
        tmp_path / "data" / "backups" / "20260101-000000-evil", depth=1400
    )
    try:
        yield folder
    finally:
        remove_deep(folder)


def test_a_deeply_nested_backup_breaks_neither_the_list_nor_new_backups(
    tmp_path: Path, deep_backup: Path
) -> None:
    from tests.support.live import live_server

    data = tmp_path / "data"
    with live_server(data, {}) as app:
        made = app.client.post("/api/backups")
        assert made.status_code == 200, made.text
        listed = app.client.get("/api/backups")
        assert listed.status_code == 200, listed.text
        names = [b["name"] for b in listed.json()["backups"]]
        assert names[0] == made.json()["name"] and deep_backup.name in names
        refused = app.client.post("/api/backups/restore", json={"name": deep_backup.name})
        assert refused.status_code == 422, refused.text
        message = refused.json()["error"]["message"]
        assert "nested more than 16 folders deep" in message
        assert message.endswith("Nothing was changed.")


async def test_the_cli_backs_up_beside_a_deeply_nested_backup_and_refuses_it(
    tmp_path: Path, deep_backup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The subcommands' own code, in process: `python -m desktop` itself first walks the whole
    # data dir (fileio.make_private) and fails on this folder before any subcommand runs.
    import argparse

    from desktop.shell.data_commands import run_command

    data = tmp_path / "data"
    await seed(data, ["Kept"])
    assert run_command(argparse.Namespace(command="backup"), data) == 0
    assert Path(capsys.readouterr().out.strip()).is_dir()
    refused = run_command(argparse.Namespace(command="restore", backup=deep_backup.name), data)
    err = capsys.readouterr().err
    assert refused == 1 and "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert "can't be restored" in line and "nested more than 16 folders deep" in line


def test_a_backup_with_a_damaged_manifest_hides_no_other(tmp_path: Path) -> None:
    good = good_backup(backups_dir(tmp_path) / "20260101-000000-manual")
    for n, manifest in enumerate(['{"created": "soon"}', '{"created": [1]}', "[1, 2]", "{"]):
        odd = good_backup(backups_dir(tmp_path) / f"2026010{n + 2}-000000-odd")
        (odd / "backup.json").write_text(manifest)
    found = list_backups(tmp_path)
    assert len(found) == 5 and good.name in {b.name for b in found}
    assert all(b.size > 0 for b in found)
