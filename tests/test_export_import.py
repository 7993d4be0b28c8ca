"""This app's JSON export and import: lossless round trip (every item type, metadata, feedback,
attachments), idempotent, all-or-nothing on a bad file, and the `export` / `import` commands."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from desktop.attachment_rules import DEFAULT_MAX_BYTES
from desktop.errors import ImportRefused, StoreError
from desktop.store import import_json
from desktop.store.export_json import export_document, export_json
from desktop.store.import_json import import_export
from tests.mcp_helpers import answer, cards, stdio_entry, write_config
from tests.support import hostile_import as hostile
from tests.support.fake_provider import FakeProvider
from tests.support.headless import run_cli
from tests.support.live import live_server
from tests.test_mentions import upload_and_send
from tests.test_trust_import import page_import


def comparable(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "exported_at"}


def seed(data: Path, env: dict[str, str], provider: FakeProvider, notes: Path) -> None:
    """Chats with every kind of item: messages, a workflow, widgets (a search list and an
    answered approval card), feedback, an attachment and a chat's remembered choice."""
    write_config(data, {"notes": stdio_entry(notes)})
    with live_server(data, env) as live:
        body = {"name": "Editor", "instructions": "Fix grammar.", "tools": ["mcp:notes/echo"]}
        assert live.client.post("/api/assistants", content=json.dumps(body)).status_code == 201
        provider.reply("Take the tram 28.")
        first, _ = live.create_thread("Lisbon in May?")
        provider.call_tools(("search_chats", {"query": "tram"}))
        provider.reply("You asked about Lisbon.")
        live.create_thread("What did I ask?")
        upload_and_send(live, "list.txt", b"milk\nbread\n")
        for _ in range(100):
            view = live.client.get("/api/mcp").json()
            if view["servers"][0]["state"] == "connected":
                break
        provider.call_tools(("mcp_notes__echo", {"text": "hi"}))
        thread_id, events = live.create_thread("Echo hi")
        provider.reply("Echoed.")
        answer(live, thread_id, cards(events)[0], "approve")
        items = live.items(first)
        live.call("items.feedback", thread_id=first, item_ids=[items[-1]["id"]], kind="positive")


def test_export_then_import_changes_nothing(
    data_dir: Path, env: dict[str, str], provider: FakeProvider, notes: Path, tmp_path: Path
) -> None:
    seed(data_dir, env, provider, notes)
    out = tmp_path / "export.json"
    assert export_json(data_dir, out) == 4
    original = json.loads(out.read_text())
    kinds = {i["type"] for t in original["threads"] for i in t["items"]}
    assert {"user_message", "assistant_message", "workflow", "widget"} <= kinds
    assert any(t["feedback"] for t in original["threads"])
    (attachment,) = [a for t in original["threads"] for a in t["attachments"]]
    assert attachment["attachment"]["name"] == "list.txt" and attachment["content_base64"]
    other = tmp_path / "other"
    result = import_export(other, out)
    assert (result.added, result.skipped) == (4, 0)
    again = export_document(other)
    assert comparable(again)["threads"] == comparable(original)["threads"]
    # imported assistants come without tools: the user turns them on in Settings
    builtin, editor = original["assistants"]
    assert again["assistants"] == [builtin, editor | {"tools": []}]
    assert editor["tools"] == ["mcp:notes/echo"]
    assert [a["name"] for a in again["assistants"]] == ["Assistant", "Editor"]
    assert (other / "attachments" / attachment["attachment"]["id"]).read_bytes() == b"milk\nbread\n"
    # the same file again adds nothing
    assert import_export(other, out).added == 0
    assert len(export_document(other)["threads"]) == 4
    # imported chats are searchable and open like native ones
    with live_server(other, env) as live:
        hits = live.client.get("/api/search", params={"q": "tram"}).json()
        assert hits and hits["results"][0]["thread_id"] == original["threads"][0]["thread"]["id"]
        assert len(live.items(original["threads"][0]["thread"]["id"])) >= 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"format": "chatkit-desktop-export", "version": 1, "threads": [', "is cut short"),
        ('{"format": "chatkit-desktop-export", "version": 1, "threads": [1 2]}', "not valid JSON"),
        ('{"format": "something else"}', "not a ChatKit Desktop export"),
        ('[{"title": "a list"}]', "is JSON, but not a ChatKit Desktop export or a ChatGPT export"),
        ('"a string"', "is JSON, but not a ChatKit Desktop export or a ChatGPT export"),
        ('{"format": "chatkit-desktop-export", "version": 99, "threads": []}', "version 99"),
        (
            '{"format": "chatkit-desktop-export", "version": 1, "threads": [{"items": []}]}',
            "chat 1: a required part is missing",
        ),
    ],
)
def test_a_bad_file_is_refused_and_nothing_is_added(
    tmp_path: Path, content: str, message: str
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    with pytest.raises(StoreError, match=message):
        import_export(tmp_path / "data", bad)


def test_a_file_bad_halfway_adds_nothing(
    data_dir: Path, env: dict[str, str], provider: FakeProvider, notes: Path, tmp_path: Path
) -> None:
    seed(data_dir, env, provider, notes)
    document = export_document(data_dir)
    document["threads"][-1]["items"][0]["type"] = "no_such_item"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(document))
    other = tmp_path / "other"
    with pytest.raises(StoreError, match=r"chat 4 \(thr_"):
        import_export(other, bad)
    assert not (other / "chats.db").exists() or export_document(other)["threads"] == []


def test_export_and_import_from_the_command_line(
    data_dir: Path, env: dict[str, str], provider: FakeProvider, notes: Path, tmp_path: Path
) -> None:
    seed(data_dir, env, provider, notes)
    out = tmp_path / "all.json"
    done = run_cli("export", "--format", "json", str(out), "--data-dir", str(data_dir))
    assert done.returncode == 0 and "Exported 4 chats" in done.stdout, done.stderr
    one_id = json.loads(out.read_text())["threads"][0]["thread"]["id"]
    single = tmp_path / "one.json"
    assert (
        run_cli("--data-dir", str(data_dir), "export", "--thread", one_id, str(single)).returncode
        == 0
    )
    assert [t["thread"]["id"] for t in json.loads(single.read_text())["threads"]] == [one_id]
    other = tmp_path / "other"
    first = run_cli("import", str(out), "--data-dir", str(other))
    assert first.returncode == 0 and "Imported 4 chats." in first.stdout, first.stderr
    second = run_cli("import", str(out), "--data-dir", str(other))
    assert "Imported 0 chats (4 already here)." in second.stdout
    missing = run_cli(
        "export", "--thread", "thr_nope", str(tmp_path / "x.json"), "--data-dir", str(other)
    )
    assert missing.returncode == 1 and "There is no chat thr_nope" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_markdown_export_reads_like_the_chat(
    data_dir: Path, env: dict[str, str], provider: FakeProvider, notes: Path, tmp_path: Path
) -> None:
    import zipfile

    seed(data_dir, env, provider, notes)
    out = tmp_path / "chats.zip"
    done = run_cli("export", "--format", "markdown", str(out), "--data-dir", str(data_dir))
    assert done.returncode == 0 and "Exported 4 chats" in done.stdout, done.stderr
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        texts = {n: archive.read(n).decode() for n in names if n.endswith(".md")}
        assert len(texts) == 4 and len(set(names)) == len(names)
        (lisbon,) = [t for t in texts.values() if "Lisbon in May?" in t]
        assert lisbon.startswith("# Fake title\n") and "## You · " in lisbon
        assert "## Assistant · " in lisbon and "Take the tram 28." in lisbon
        (search,) = [t for t in texts.values() if "What did I ask?" in t]
        assert "> Steps: Searched your chats" in search
        (echo,) = [t for t in texts.values() if "Echo hi" in t]
        assert "Approval request for the tool echo" in echo and "the user approved" in echo
        (files,) = [t for t in texts.values() if "Here is a file" in t]
        (link,) = [line for line in files.splitlines() if line.startswith("Attached: [list.txt](")]
        assert archive.read(link.split("(", 1)[1].rstrip(")")) == b"milk\nbread\n"
    # one chat: a Markdown file with its files beside it
    thread_id = export_document(data_dir)["threads"][2]["thread"]["id"]
    single = tmp_path / "one" / "list.md"
    single.parent.mkdir()
    assert (
        run_cli(
            "export",
            "--format",
            "markdown",
            "--thread",
            thread_id,
            str(single),
            "--data-dir",
            str(data_dir),
        ).returncode
        == 0
    )
    assert "Here is a file" in single.read_text()
    assert (single.parent / "list files" / "list.txt").read_bytes() == b"milk\nbread\n"


def test_a_field_outside_the_chats_is_refused_after_a_megabyte(tmp_path: Path) -> None:
    # It was read whole, 300 MB at 1.26 GB of memory, though the import needs none of it.
    source = hostile.padded_export_file(tmp_path / "padded.json", 64 * 2**20)
    with pytest.raises(ImportRefused, match='field "pad" is larger than 1 MB'):
        import_export(tmp_path / "data", source)
    assert export_document(tmp_path / "data")["threads"] == []


def test_an_export_with_many_attachments_at_the_cap_imports_again(tmp_path: Path) -> None:
    # 14 files the app itself accepted: 373 MB of base64 in one chat, past the chat's cap.
    source = hostile.many_attachments_file(tmp_path / "photos.json", 14, DEFAULT_MAX_BYTES)
    data = tmp_path / "data"
    result = import_export(data, source)
    assert (result.added, result.notes) == (1, ())
    files = list((data / "attachments").iterdir())
    assert sorted(f.name for f in files) == sorted(f"atc_many{n}" for n in range(14))
    assert {f.stat().st_size for f in files} == {DEFAULT_MAX_BYTES}
    (chat,) = export_document(data)["threads"]
    assert len(chat["items"][0]["attachments"]) == 14
    assert list((data / "imports").iterdir()) == []  # nothing staged is left behind


def _watch_the_writer(monkeypatch: pytest.MonkeyPatch, database: Path) -> list[str]:
    """Whether the history's writer was free each time a chat was read."""
    seen: list[str] = []
    read = import_json._thread

    def reading(n: int, entry: Any) -> import_json.ParsedThread:
        db = sqlite3.connect(database, timeout=0)
        try:
            db.execute("BEGIN IMMEDIATE")
            db.execute("ROLLBACK")
            seen.append("free")
        except sqlite3.OperationalError:
            seen.append("held")
        finally:
            db.close()
        return read(n, entry)

    monkeypatch.setattr(import_json, "_thread", reading)
    return seen


def test_the_file_is_read_before_the_writer_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    seen = _watch_the_writer(monkeypatch, data / "chats.db")
    source = tmp_path / "links.json"
    source.write_text(json.dumps(hostile.pending_page_call_export()))
    assert import_export(data, source).added == 1
    assert seen == ["free"]


def test_the_page_reads_the_file_before_the_writer_is_taken(
    data_dir: Path, env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A chat turn sent during an import waits only for the writing, not for the reading.
    seen = _watch_the_writer(monkeypatch, data_dir / "chats.db")
    source = tmp_path / "links.json"
    source.write_text(json.dumps(hostile.pending_page_call_export()))
    with live_server(data_dir, env) as live:
        job = page_import(live, source)
    assert (job["state"], job["added"], seen) == ("done", 1, ["free"]), job
