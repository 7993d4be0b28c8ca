"""Property-based bad input: thousands of malformed, oversized and out-of-order requests.

Against a live server: no 5xx, no crash, the DB stays intact and other threads are untouched.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desktop.chat.protocol import known_types
from tests.support.live import LiveServer, live_server, user_input

pytestmark = pytest.mark.slow

TYPES = sorted(known_types())
json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=40)
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
ids = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["thr_x", "../../etc/passwd", "", "msg_1", "\x00", "%2e%2e"]),
)
params = st.fixed_dictionaries(
    {},
    optional={
        "thread_id": ids,
        "item_id": ids,
        "attachment_id": ids,
        "after": ids,
        "limit": st.one_of(st.integers(-5, 10_000), st.text(max_size=5)),
        "order": st.sampled_from(["asc", "desc", "sideways", ""]),
        "title": st.text(max_size=200),
        "input": st.one_of(json_value, st.builds(user_input, st.text(max_size=300))),
        "name": st.text(max_size=50),
        "size": st.integers(-10, 10**9),
        "mime_type": st.sampled_from(["text/plain", "image/png", "application/x-evil", ""]),
        "action": json_value,
        "result": json_value,
        "kind": st.sampled_from(["positive", "negative", "meh"]),
        "item_ids": st.lists(ids, max_size=3),
    },
)
requests = st.one_of(
    st.builds(lambda t, p: {"type": t, "params": p}, st.sampled_from(TYPES), params),
    st.builds(lambda t, p: {"type": t, "params": p}, st.text(max_size=20), json_value),
    json_value,
)


@pytest.fixture(scope="module")
def fuzz_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LiveServer, str, list[Any]]]:
    from tests.support.fake_provider import FakeProvider

    provider = FakeProvider().start()
    data = tmp_path_factory.mktemp("fuzz")
    (data / "settings.json").write_text(json.dumps({"max_retries": 0, "generate_titles": False}))
    env = {
        "OPENAI_API_KEY": "sk-fuzz-0000000000",
        "OPENAI_BASE_URL": provider.base_url,
        "CHATKIT_DESKTOP_MODEL": "fake-model",
        "CHATKIT_DESKTOP_API": "chat_completions",
    }
    with live_server(data, env) as server:
        # A thread that the fuzzing must leave exactly as it is.
        events = server.stream("threads.create", input=user_input("the control thread"))
        control = events[0]["thread"]["id"]
        before = server.items(control)
        yield server, control, before
    provider.stop()


def _no_5xx(server: LiveServer, response: Any) -> None:
    assert response.status_code < 500, response.text[:500]
    if response.headers.get("content-type", "").startswith("application/json"):
        response.json()


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=requests)
def test_chatkit_endpoint_never_5xx(
    fuzz_server: tuple[LiveServer, str, list[Any]], body: Any
) -> None:
    server, _, _ = fuzz_server
    _no_5xx(server, server.client.post("/chatkit", content=json.dumps(body)))


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(raw=st.binary(max_size=2000))
def test_chatkit_endpoint_survives_raw_bytes(
    fuzz_server: tuple[LiveServer, str, list[Any]], raw: bytes
) -> None:
    server, _, _ = fuzz_server
    _no_5xx(server, server.client.post("/chatkit", content=raw))


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    attachment_id=ids,
    body=st.binary(max_size=4000),
    method=st.sampled_from(["PUT", "POST", "GET"]),
    content_type=st.sampled_from(
        ["application/octet-stream", "multipart/form-data; boundary=x", "text/plain"]
    ),
)
def test_upload_routes_never_5xx(
    fuzz_server: tuple[LiveServer, str, list[Any]],
    attachment_id: str,
    body: bytes,
    method: str,
    content_type: str,
) -> None:
    server, _, _ = fuzz_server
    from urllib.parse import quote

    path = quote(attachment_id, safe="") or "x"
    route = "content" if method == "GET" else "upload"
    response = server.client.request(
        method,
        f"/api/attachments/{path}/{route}",
        content=body,
        headers={"Content-Type": content_type},
    )
    _no_5xx(server, response)


def test_after_fuzzing_the_db_is_intact_and_the_control_thread_untouched(
    fuzz_server: tuple[LiveServer, str, list[Any]],
) -> None:
    server, control, before = fuzz_server
    assert server.items(control) == before
    db = sqlite3.connect(Path(server.data_dir) / "chats.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()
    assert server.client.get("/api/health").json()["status"] == "ok"
