"""Importing a ChatGPT data export: the active branch as the chat, other branches as their own
chats linked from it, code and code-interpreter output, images from the zip (or a placeholder),
hidden messages skipped, idempotent, and a damaged file refused whole."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from desktop.store.export_json import export_document
from tests.support.headless import ROOT, run_cli


def node(
    node_id: str,
    parent: str | None,
    children: list[str],
    role: str | None,
    content: dict[str, Any] | None,
    **meta: Any,
) -> dict[str, Any]:
    message = None
    if role is not None:
        message = {
            "id": node_id,
            "author": {"role": role},
            "create_time": 1_700_000_000 + len(node_id),
            "content": content,
            "metadata": meta,
        }
    return {"id": node_id, "parent": parent, "children": children, "message": message}


def text(*parts: Any) -> dict[str, Any]:
    return {"content_type": "text", "parts": list(parts)}


def conversation() -> dict[str, Any]:
    # root -> sys (hidden) -> u1 -> a1 (regenerated as a1b) ; a1 -> u2 -> code -> out -> a2
    mapping = {
        "root": node("root", None, ["sys"], None, None),
        "sys": node(
            "sys",
            "root",
            ["u1"],
            "system",
            text("You are ChatGPT"),
            is_visually_hidden_from_conversation=True,
        ),
        "u1": node(
            "u1",
            "sys",
            ["a1", "a1b"],
            "user",
            {
                "content_type": "multimodal_text",
                "parts": [
                    {
                        "content_type": "image_asset_pointer",
                        "asset_pointer": "file-service://file-PHOTO",
                    },
                    {
                        "content_type": "image_asset_pointer",
                        "asset_pointer": "file-service://file-GONE",
                    },
                    "What is in this photo? And compute 2**10.",
                ],
            },
        ),
        "a1": node("a1", "u1", ["u2"], "assistant", text("A cat on a sofa.")),
        "a1b": node("a1b", "u1", [], "assistant", text("A sleepy cat (another answer).")),
        "u2": node("u2", "a1", ["code"], "user", text("Now compute it")),
        "code": node(
            "code",
            "u2",
            ["out"],
            "assistant",
            {"content_type": "code", "language": "python", "text": "print(2**10)"},
        ),
        "out": node(
            "out", "code", ["a2"], "tool", {"content_type": "execution_output", "text": "1024"}
        ),
        "a2": node("a2", "out", [], "assistant", text("It is 1024.")),
    }
    return {
        "title": "Cat photo",
        "create_time": 1_700_000_000.5,
        "update_time": 1_700_000_900.0,
        "mapping": mapping,
        "current_node": "a2",
        "conversation_id": "conv-1",
    }


def untitled() -> dict[str, Any]:
    mapping = {
        "r": node("r", None, ["q"], None, None),
        "q": node("q", "r", ["a"], "user", text("Plan a trip to Kyoto in April")),
        "a": node("a", "q", [], "assistant", text("Visit Fushimi Inari early.")),
    }
    return {
        "title": None,
        "create_time": 1_700_100_000,
        "mapping": mapping,
        "current_node": "a",
        "id": "conv-2",
    }


def make_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("conversations.json", json.dumps([conversation(), untitled()]))
        archive.writestr("file-PHOTO-cat.png", b"\x89PNG fake cat")


def test_a_chatgpt_zip_becomes_chats_with_their_branches(tmp_path: Path) -> None:
    export = tmp_path / "chatgpt.zip"
    make_zip(export)
    data = tmp_path / "data"
    done = run_cli("import", str(export), "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    assert "Imported 3 chats." in done.stdout  # two conversations, one extra branch
    threads = {t["thread"]["title"]: t for t in export_document(data)["threads"]}
    assert set(threads) == {"Cat photo", "Cat photo (branch 1)", "Plan a trip to Kyoto in April"}
    main = threads["Cat photo"]
    texts = [
        i["content"][0]["text"]
        for i in main["items"]
        if i["type"] in ("user_message", "assistant_message")
    ]
    assert texts[0].startswith("[An image from ChatGPT that the export didn't include]")
    assert "What is in this photo?" in texts[0]
    assert texts[1:] == [
        "A cat on a sofa.",
        "Now compute it",
        "```python\nprint(2**10)\n```",
        "Output:\n```\n1024\n```",
        "It is 1024.",
    ]
    assert "You are ChatGPT" not in json.dumps(main)  # hidden system message skipped
    assert "another answer" not in json.dumps(main)  # branches never mix
    (photo,) = main["attachments"]
    assert (
        photo["attachment"]["name"] == "file-PHOTO-cat.png"
        and photo["attachment"]["type"] == "image"
    )
    assert (data / "attachments" / photo["attachment"]["id"]).read_bytes() == b"\x89PNG fake cat"
    assert main["thread"]["created_at"].startswith("2023-11-14")
    # the branch: its own chat, marked and listed from the main one
    branch = threads["Cat photo (branch 1)"]
    assert branch["thread"]["metadata"]["branch_of"] == main["thread"]["id"]
    assert [
        i["content"][0]["text"] for i in branch["items"] if i["type"] == "assistant_message"
    ] == ["A sleepy cat (another answer)."]
    (listing,) = [i for i in main["items"] if i["type"] == "widget"]
    assert branch["thread"]["id"] in json.dumps(listing["widget"])
    # again: nothing new
    again = run_cli("import", str(export), "--data-dir", str(data))
    assert "Imported 0 chats (3 already here)." in again.stdout
    # conversations.json on its own works too (images then show as placeholders)
    plain = tmp_path / "conversations.json"
    plain.write_text(json.dumps([untitled()]))
    other = tmp_path / "other"
    assert "Imported 1 chat." in run_cli("import", str(plain), "--data-dir", str(other)).stdout


def test_a_damaged_export_adds_nothing(tmp_path: Path) -> None:
    broken = tmp_path / "conversations.json"
    good = json.dumps([untitled(), conversation()])
    broken.write_text(good[: len(good) // 2])
    data = tmp_path / "data"
    result = run_cli("import", str(broken), "--data-dir", str(data))
    # "is cut short" when the streaming reader can tell, else "may be cut short".
    assert result.returncode == 1 and "cut short" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps([untitled(), {"title": "x"}]))
    result = run_cli("import", str(odd), "--data-dir", str(data))
    assert result.returncode == 1 and "Conversation 2 has no message tree" in result.stderr
    assert not (data / "chats.db").exists() or export_document(data)["threads"] == []


def test_an_odd_message_names_its_conversation(tmp_path: Path) -> None:
    odd = untitled()
    odd["title"] = "Odd one"
    odd["mapping"]["q"]["message"]["content"] = {"content_type": "text", "parts": "not a list"}
    odd["mapping"]["q"]["message"]["create_time"] = "yesterday"
    odd["mapping"]["a"]["message"]["author"] = "assistant"  # not an object
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps([odd]))
    result = run_cli("import", str(path), "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 1 and "Conversation 1 (Odd one) couldn't be read" in result.stderr
    assert "Traceback" not in result.stderr


# `python -m desktop` as a terminal starts it: a suite started in the background (by a script,
# or CI) passes on an ignored SIGINT, and Python then never turns Ctrl+C into KeyboardInterrupt.
AS_FROM_A_TERMINAL = (
    "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv[0] = 'desktop'; runpy.run_module('desktop', run_name='__main__', alter_sys=True)"
)


def test_a_long_import_shows_progress_and_ctrl_c_leaves_nothing(tmp_path: Path) -> None:
    import signal

    sys.path.insert(0, str(ROOT / "bench"))
    from data_portability import write_export

    big = tmp_path / "conversations.json"
    write_export(big, 3000)
    outcomes = []
    # Ctrl+C lands right after the first progress line; on a busy machine that can be after the
    # import has finished. Either way it is all or nothing, and some attempt must be cancelled.
    for attempt in range(3):
        data = tmp_path / f"data{attempt}"
        proc = subprocess.Popen(
            [sys.executable, "-c", AS_FROM_A_TERMINAL, "import", str(big), "--data-dir", str(data)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert proc.stderr is not None
        line = proc.stderr.readline()  # the first progress line: the import is under way
        assert line.startswith("Importing… ") and "Ctrl+C cancels" in line
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert "Traceback" not in err
        threads = export_document(data)["threads"]
        if proc.returncode == 0:
            assert out.startswith(f"Imported {len(threads)} chats")
        else:
            assert proc.returncode == 130 and "import cancelled; nothing was added." in err
            assert threads == [] and not any((data / "attachments").iterdir())
        outcomes.append(proc.returncode)
        if proc.returncode == 130:
            break
    assert 130 in outcomes, outcomes
