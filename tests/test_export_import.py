"""This app's JSON export and import: lossless round trip (every item type, metadata, feedback,
attachments), idempotent, all-or-nothing on a bad file, and the `export` / `import` commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from desktop.errors import StoreError
from desktop.store.export_json import export_document, export_json
from desktop.store.import_json import import_export
from tests.mcp_helpers import answer, cards, stdio_entry, write_config
from tests.support.fake_provider import FakeProvider
from tests.support.headless import run_cli
from tests.support.live import live_server
from tests.test_mentions import upload_and_send


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
