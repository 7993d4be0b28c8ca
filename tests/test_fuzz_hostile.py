"""The hostile corpus (tests/support/hostile_*.py), and mutations of it, against a live server:
imports and restores never answer 5xx, and whatever they let in grants nothing; requests that
only another page could have sent never pass on the session cookie."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desktop.fileio import remove_tree
from tests.support import hostile_backups, hostile_import
from tests.support.hostile_requests import COOKIE_ROUTES
from tests.support.live import TOKEN, LiveServer, live_server

pytestmark = pytest.mark.slow

UPLOAD_CAP = 20 * 1024 * 1024
# CI runs the same examples every time (a red build then means a change broke something);
# elsewhere each run explores new ones.
IN_CI = bool(os.environ.get("CI"))


def _import_corpus(folder: Path) -> dict[str, bytes]:
    zips = {
        name: build(folder / f"{name}.zip") for name, build in hostile_backups.ZIP_BUILDERS.items()
    }
    return {
        "preapproving": json.dumps(hostile_import.preapproving_export()).encode(),
        "pending_page_call": json.dumps(hostile_import.pending_page_call_export()).encode(),
        "attachments": json.dumps(hostile_import.hostile_attachments_export(64 * 1024)).encode(),
        "deep": hostile_import.deep_json_bytes(5_000),
        "deep_conversations": hostile_import.deep_conversations_bytes(5_000),
        "padded": hostile_import.padded_export_file(folder / "padded.json", 3 * 2**20).read_bytes(),
        "attachments_at_cap": hostile_import.many_attachments_file(
            folder / "many.json", 3, 64 * 1024
        ).read_bytes(),
        **{name: path.read_bytes() for name, path in zips.items()},
    }


@pytest.fixture(scope="module")
def hostile_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LiveServer, dict[str, bytes]]]:
    data = tmp_path_factory.mktemp("hostile")
    (data / "settings.json").write_text(json.dumps({"generate_titles": False}))
    corpus = _import_corpus(tmp_path_factory.mktemp("corpus"))
    env = {"OPENAI_API_KEY": "sk-fuzz-0000000000", "CHATKIT_DESKTOP_MODEL": "fake-model"}
    with live_server(data, env) as server:
        yield server, corpus


def _mutate(data: bytes, kind: str, at: float, byte: int) -> bytes:
    if not data:
        return data
    i = min(len(data) - 1, int(at * len(data)))
    if kind == "truncate":
        return data[:i]
    if kind == "flip":
        return data[:i] + bytes([data[i] ^ (byte or 1)]) + data[i + 1 :]
    if kind == "insert":
        return data[:i] + bytes([byte]) * 3 + data[i:]
    return data


mutations = st.tuples(
    st.sampled_from(["none", "truncate", "flip", "insert"]),
    st.floats(0, 1),
    st.integers(0, 255),
)


def _import(server: LiveServer, name: str, body: bytes) -> dict[str, Any]:
    started = server.client.post(
        "/api/data/import",
        content=body,
        headers={"X-File-Name": name, "Content-Type": "application/octet-stream"},
    )
    assert started.status_code < 500, started.text[:300]
    if started.status_code != 200:
        return {"state": "refused", "message": started.json()["error"]["message"]}
    job: dict[str, Any] = started.json()
    deadline = time.monotonic() + 60
    while job["state"] in ("uploading", "importing") and time.monotonic() < deadline:
        time.sleep(0.02)
        answer = server.client.get(f"/api/data/import/{job['id']}")
        assert answer.status_code < 500, answer.text[:300]
        job = answer.json()
    return job


def _granted_nothing(db: Path) -> None:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        for (raw,) in conn.execute("SELECT data FROM threads"):
            metadata = json.loads(raw).get("metadata") or {}
            assert not {"allowed_tools", "assistant_id", "model", "page_call"} & set(metadata)
        for (raw,) in conn.execute("SELECT data FROM items"):
            item = json.loads(raw)
            assert not (item.get("type") == "client_tool_call" and item.get("status") == "pending")
        for (tools,) in conn.execute("SELECT tools FROM assistants WHERE builtin = 0"):
            assert json.loads(tools) == []
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    attachments = db.parent / "attachments"
    for path in attachments.rglob("*") if attachments.exists() else []:
        assert not path.is_symlink() and (not path.is_file() or path.stat().st_size <= UPLOAD_CAP)


def test_hostile_imports_and_their_mutations_grant_nothing(
    hostile_server: tuple[LiveServer, dict[str, bytes]],
) -> None:
    server, corpus = hostile_server

    @settings(
        derandomize=IN_CI, max_examples=80, deadline=None, suppress_health_check=list(HealthCheck)
    )
    @given(name=st.sampled_from(sorted(corpus)), mutation=mutations)
    def run(name: str, mutation: tuple[str, float, int]) -> None:
        body = _mutate(corpus[name], *mutation)
        suffix = ".zip" if corpus[name][:2] == b"PK" else ".json"
        job = _import(server, name + suffix, body)
        assert job["state"] in ("done", "failed", "refused"), job
        assert "failed unexpectedly" not in str(job.get("message", "")), job

    run()
    _granted_nothing(server.data_dir / "chats.db")


# ---------------------------------------------------------------- restores


def _schema(db: Path) -> set[tuple[str, str]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return set(conn.execute("SELECT type, name FROM sqlite_master"))


def _backups(server: LiveServer) -> Path:
    listed = server.client.get("/api/backups").json()
    return Path(listed["folder"])


def _plant(server: LiveServer, build: Callable[[Path], Path], name: str) -> str:
    """A backup built in the folder where the app lists its backups (as a user could copy one)."""
    target = _backups(server) / f"2026-01-01T00-00-00-{name}"
    remove_tree(target)  # shutil.rmtree would recurse into the deep-folders backup
    build(target)
    return target.name


def test_hostile_backups_and_damaged_ones_never_restore_what_migrations_did_not_make(
    hostile_server: tuple[LiveServer, dict[str, bytes]],
) -> None:
    server, _ = hostile_server
    schema = _schema(server.data_dir / "chats.db")
    builders = dict(hostile_backups.BACKUP_BUILDERS)

    @settings(
        derandomize=IN_CI, max_examples=40, deadline=None, suppress_health_check=list(HealthCheck)
    )
    @given(name=st.sampled_from(sorted(builders)), mutation=mutations)
    def run(name: str, mutation: tuple[str, float, int]) -> None:
        def build(folder: Path) -> Path:
            made = builders[name](folder)
            db = made / "chats.db"
            if db.is_file() and not db.is_symlink():
                db.write_bytes(_mutate(db.read_bytes(), *mutation))
            return made

        backup = _plant(server, build, "fuzz")
        answer = server.client.post("/api/backups/restore", content=json.dumps({"name": backup}))
        assert answer.status_code < 500, answer.text[:300]
        assert _schema(server.data_dir / "chats.db") == schema
        attachments = server.data_dir / "attachments"
        assert not any(p.is_symlink() for p in attachments.rglob("*"))

    try:
        run()
    finally:
        remove_tree(_backups(server))


# ---------------------------------------------------------------- another page's requests

header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30)


def test_the_session_cookie_never_works_for_another_page(
    hostile_server: tuple[LiveServer, dict[str, bytes]],
) -> None:
    server, _ = hostile_server
    with httpx.Client(base_url=server.url, timeout=30, follow_redirects=True) as browser:
        signed_in = browser.get(f"/?token={TOKEN}", headers={"Sec-Fetch-Site": "none"})
        assert signed_in.status_code == 200 and browser.cookies

        @settings(
            derandomize=IN_CI,
            max_examples=300,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(
            route=st.sampled_from(COOKIE_ROUTES),
            site=st.one_of(header_text, st.sampled_from(["cross-site", "same-site", "NONE"])),
            origin=st.one_of(
                st.none(),
                st.sampled_from(["null", "http://127.0.0.1:1", "http://evil.example"]),
                header_text,
            ),
        )
        def run(route: tuple[str, str, bytes], site: str, origin: str | None) -> None:
            method, path, body = route
            headers = {"Sec-Fetch-Site": site}
            if origin is not None:
                headers["Origin"] = origin
            try:
                response = browser.request(method, path, headers=headers, content=body)
            except httpx.LocalProtocolError:
                return  # a header value no client can send
            own = site.lower() in ("same-origin", "none") and origin in (None, server.url)
            if not own:
                assert response.status_code == 403, (headers, response.status_code)
            assert response.status_code < 500

        run()
