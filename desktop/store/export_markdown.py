"""The readable export: one Markdown file per chat (title, dates, messages, tool steps in short,
sources), its attachments beside it; all chats in one zip."""

from __future__ import annotations

import base64
import re
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

from desktop import attachment_rules as rules
from desktop.errors import StoreError
from desktop.fileio import atomic_write, owner_only
from desktop.store.export_json import iter_threads

_SKIPPED = {"hidden_context_item", "sdk_hidden_context", "end_of_turn"}


def _when(value: str | None) -> str:
    if not value:
        return ""
    try:
        return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return value


def slug(title: str, taken: set[str]) -> str:
    base = re.sub(r"[^\w\- ]+", "", title, flags=re.UNICODE).strip().replace(" ", "-")[:60]
    base = base or "chat"
    name, n = base, 1
    while name.lower() in taken:
        n += 1
        name = f"{base}-{n}"
    taken.add(name.lower())
    return name


def _text_parts(content: list[dict[str, Any]]) -> str:
    out = []
    for part in content:
        if part.get("type") == "input_tag":
            out.append(f"@{part.get('text', '')}")
        elif isinstance(part.get("text"), str):
            out.append(part["text"])
    return "".join(out).strip()


def _sources(content: list[dict[str, Any]]) -> list[str]:
    lines = []
    for part in content:
        for annotation in part.get("annotations") or []:
            source = annotation.get("source") or {}
            title = source.get("title") or source.get("filename") or "source"
            if source.get("type") == "url":
                lines.append(f"- [{title}]({source.get('url')})")
            else:
                lines.append(f"- {title}")
    return list(dict.fromkeys(lines))


def chat_markdown(entry: dict[str, Any], files: dict[str, str]) -> str:
    """One chat as Markdown; `files` maps attachment ids to their path beside the file."""
    thread, items = entry["thread"], entry["items"]
    title = thread.get("title") or "New chat"
    last = items[-1]["created_at"] if items else thread.get("created_at")
    lines = [
        f"# {title}",
        "",
        f"Started {_when(thread.get('created_at'))} · last message {_when(last)}",
        "",
    ]
    for item in items:
        kind = item.get("type")
        if kind in _SKIPPED:
            continue
        when = _when(item.get("created_at"))
        if kind == "user_message":
            lines += [f"## You · {when}", "", _text_parts(item.get("content") or [])]
            if item.get("quoted_text"):
                lines.insert(len(lines) - 1, f"> {item['quoted_text']}\n")
            for attachment in item.get("attachments") or []:
                path = files.get(attachment.get("id", ""))
                name = attachment.get("name", "file")
                lines.append(f"\nAttached: [{name}]({path})" if path else f"\nAttached: {name}")
        elif kind == "assistant_message":
            lines += [f"## Assistant · {when}", "", _text_parts(item.get("content") or [])]
            sources = _sources(item.get("content") or [])
            if sources:
                lines += ["", "Sources:", *sources]
        elif kind == "workflow":
            tasks = [
                t.get("title")
                for t in (item.get("workflow") or {}).get("tasks", [])
                if t.get("title")
            ]
            if tasks:
                lines.append("> Steps: " + "; ".join(tasks))
        elif kind == "widget":
            lines.append(f"> {item.get('copy_text') or 'A widget was shown.'}")
        elif kind == "client_tool_call":
            lines.append(f"> Ran {item.get('name')} in the app ({item.get('status')}).")
        elif kind == "generated_image":
            lines.append("> An image was generated.")
        elif kind == "task":
            lines.append(f"> {(item.get('task') or {}).get('title') or 'A task ran.'}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def safe_file_name(name: str) -> str:
    """A name that stays inside its folder wherever the zip is unpacked (Windows included):
    no `/` or `\\`, no `..`, no control characters."""
    cleaned = re.sub(r"\.{2,}", ".", rules.clean_name(name)).strip(". ")
    return cleaned or "attachment"


def _attachment_files(
    entry: dict[str, Any], folder: str
) -> tuple[dict[str, str], list[tuple[str, bytes]]]:
    paths: dict[str, str] = {}
    blobs: list[tuple[str, bytes]] = []
    taken: set[str] = set()
    for a in entry["attachments"]:
        if a.get("content_base64") is None:
            continue
        record = a["attachment"]
        name = safe_file_name(str(record.get("name") or record["id"]))
        stem, suffix = Path(name).stem, Path(name).suffix
        unique = name
        n = 1
        while unique.lower() in taken:
            n += 1
            unique = f"{stem}-{n}{suffix}"
        taken.add(unique.lower())
        paths[record["id"]] = f"{folder}/{unique}"
        blobs.append((f"{folder}/{unique}", base64.b64decode(a["content_base64"])))
    return paths, blobs


def export_markdown(data_dir: Path, out: Path, thread_id: str | None = None) -> int:
    """One chat: `out` is its Markdown file, its attachments in a folder beside it. All chats:
    `out` is a zip of one file (and folder) per chat. Returns how many chats were written."""
    taken: set[str] = set()
    count = 0
    try:
        if thread_id is not None:
            (entry,) = list(iter_threads(data_dir, thread_id))
            folder = f"{out.stem} files"
            paths, blobs = _attachment_files(entry, folder)
            atomic_write(out, chat_markdown(entry, paths))
            for name, data in blobs:
                target = out.parent / name
                target.parent.mkdir(exist_ok=True)
                target.write_bytes(data)
                owner_only(target)
            return 1
        tmp = out.with_name(f".{out.name}.partial")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for entry in iter_threads(data_dir):
                count += 1
                name = slug(entry["thread"].get("title") or "New chat", taken)
                paths, blobs = _attachment_files(entry, f"{name} files")
                archive.writestr(f"{name}.md", chat_markdown(entry, paths))
                for path, data in blobs:
                    archive.writestr(path, data)
        owner_only(tmp)
        tmp.replace(out)
    except OSError as exc:
        raise StoreError(f"Can't write {out}: {exc.strerror or exc}.") from exc
    return count
