"""Bad input gets a clear 4xx JSON error, never a 500, and changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.live import TOKEN, LiveServer, user_input

BAD_BODIES: list[tuple[str, bytes, str]] = [
    ("not json", b"{nope", "not valid JSON"),
    ("not an object", b"[1, 2]", "must be a JSON object"),
    ("no type", b"{}", "has no 'type'"),
    (
        "unknown type",
        b'{"type": "threads.explode", "params": {}}',
        "Unknown request type 'threads.explode'",
    ),
    ("missing params", b'{"type": "threads.list"}', "params: Field required"),
    (
        "missing input keys",
        json.dumps(
            {
                "type": "threads.create",
                "params": {"input": {"content": [{"type": "input_text", "text": "hi"}]}},
            }
        ).encode(),
        "input.attachments: Field required",
    ),
    (
        "wrong type",
        json.dumps({"type": "threads.list", "params": {"limit": "many"}}).encode(),
        "params.limit",
    ),
    (
        "bad order",
        json.dumps(
            {"type": "items.list", "params": {"thread_id": "x", "order": "sideways"}}
        ).encode(),
        "params.order",
    ),
    ("not utf-8", b"\xff\xfe\x00", "not valid JSON"),
]


@pytest.mark.parametrize(
    "body,expected", [(b, e) for _, b, e in BAD_BODIES], ids=[n for n, _, _ in BAD_BODIES]
)
def test_malformed_requests_get_400_naming_the_problem(
    server: LiveServer, body: bytes, expected: str
) -> None:
    response = server.client.post("/chatkit", content=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert expected in error["message"]


UNKNOWN_REFS: list[tuple[str, dict[str, Any]]] = [
    ("threads.get_by_id", {"thread_id": "thr_missing"}),
    ("items.list", {"thread_id": "thr_missing"}),
    ("threads.update", {"thread_id": "thr_missing", "title": "x"}),
    ("threads.add_user_message", {"thread_id": "thr_missing", "input": user_input("hi")}),
    ("threads.retry_after_item", {"thread_id": "thr_missing", "item_id": "msg_x"}),
    ("threads.custom_action", {"thread_id": "thr_missing", "action": {"type": "x", "payload": {}}}),
    ("threads.add_structured_input", {"thread_id": "thr_missing", "item_id": "x", "input": {}}),
    ("threads.add_client_tool_output", {"thread_id": "thr_missing", "result": 1}),
    ("items.feedback", {"thread_id": "thr_missing", "item_ids": ["x"], "kind": "positive"}),
]


@pytest.mark.parametrize("kind,params", UNKNOWN_REFS, ids=[k for k, _ in UNKNOWN_REFS])
def test_unknown_thread_is_404(server: LiveServer, kind: str, params: dict[str, Any]) -> None:
    response = server.post({"type": kind, "params": params})
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"


def test_state_errors_are_4xx_and_leave_the_thread_alone(server: LiveServer) -> None:
    thread_id, events = server.create_thread("hi")
    before = server.items(thread_id)
    answer_id = [e for e in events if e["type"] == "thread.item.done"][-1]["item"]["id"]
    cases = [
        (
            {
                "type": "threads.retry_after_item",
                "params": {"thread_id": thread_id, "item_id": "msg_missing"},
            },
            404,
        ),
        (
            {
                "type": "threads.retry_after_item",
                "params": {"thread_id": thread_id, "item_id": answer_id},
            },
            400,
        ),
        (
            {
                "type": "threads.add_client_tool_output",
                "params": {"thread_id": thread_id, "result": {}},
            },
            400,
        ),
        (
            {
                "type": "threads.add_structured_input",
                "params": {"thread_id": thread_id, "item_id": answer_id, "input": {}},
            },
            400,
        ),
        (
            {
                "type": "threads.add_user_message",
                "params": {"thread_id": thread_id, "input": user_input("  ")},
            },
            400,
        ),
        (
            {
                "type": "threads.add_user_message",
                "params": {"thread_id": thread_id, "input": user_input("x", ["atc_missing"])},
            },
            400,
        ),
        (
            {"type": "threads.create", "params": {"input": user_input("x", ["../../etc/passwd"])}},
            400,
        ),
        ({"type": "items.list", "params": {"thread_id": thread_id, "after": "msg_missing"}}, 404),
        ({"type": "threads.list", "params": {"after": "thr_missing"}}, 404),
        (
            {
                "type": "attachments.create",
                "params": {"name": "x.exe", "size": 10, "mime_type": "application/x-msdownload"},
            },
            415,
        ),
        (
            {
                "type": "attachments.create",
                "params": {"name": "big.png", "size": 21 * 1024 * 1024, "mime_type": "image/png"},
            },
            413,
        ),
        (
            {
                "type": "attachments.create",
                "params": {"name": "empty.txt", "size": 0, "mime_type": "text/plain"},
            },
            400,
        ),
    ]
    for payload, status in cases:
        response = server.post(payload)
        assert response.status_code == status, (payload, response.text)
        assert response.json()["error"]["message"]
    assert server.items(thread_id) == before
    assert len(server.call("threads.list", limit=50)["data"]) == 1


def test_oversized_request_body_is_413(server: LiveServer) -> None:
    response = server.client.post("/chatkit", content=b"x" * (9 * 1024 * 1024))
    assert response.status_code == 413


def test_upload_checks(server: LiveServer) -> None:
    png = server.call("attachments.create", name="p.png", size=100, mime_type="image/png")
    # content that isn't what it claims to be
    response = server.client.put(
        f"/api/attachments/{png['id']}/upload", content=b"<html>not a png</html>"
    )
    assert response.status_code == 415
    assert "doesn't match its declared type" in response.json()["error"]["message"]
    # larger than declared
    response = server.client.put(
        f"/api/attachments/{png['id']}/upload", content=b"\x89PNG\r\n\x1a\n" + b"0" * 200
    )
    assert response.status_code == 400
    # binary passed off as text
    txt = server.call("attachments.create", name="t.txt", size=4, mime_type="text/plain")
    assert (
        server.client.put(
            f"/api/attachments/{txt['id']}/upload", content=b"\x00\x01\x02\x03"
        ).status_code
        == 415
    )
    # uploaded once only
    ok = server.call("attachments.create", name="o.txt", size=2, mime_type="text/plain")
    assert (
        server.client.put(f"/api/attachments/{ok['id']}/upload", content=b"ok").status_code == 200
    )
    assert (
        server.client.put(f"/api/attachments/{ok['id']}/upload", content=b"ok").status_code == 400
    )
    # unknown ids
    assert server.client.put("/api/attachments/atc_nope/upload", content=b"x").status_code == 404
    assert not list((server.data_dir / "attachments").glob("*.part"))


@pytest.mark.parametrize(
    "attachment_id", ["..%2F..%2Fchats.db", "%2E%2E", "a.b", "x%00y", "%2Fetc%2Fpasswd"]
)
def test_attachment_ids_cannot_reach_outside_the_folder(
    server: LiveServer, attachment_id: str
) -> None:
    for method, path in (("GET", "content"), ("PUT", "upload")):
        response = server.client.request(
            method, f"/api/attachments/{attachment_id}/{path}", content=b"x"
        )
        assert response.status_code in (404, 405), response.text
    assert (server.data_dir / "chats.db").exists()


def test_unknown_routes_and_methods_are_json(server: LiveServer) -> None:
    response = server.client.get("/api/nothing-here")
    assert response.status_code == 404 and response.json()["error"]
    response = server.client.get("/chatkit")
    assert response.status_code == 405 and response.json()["error"]


def test_no_token_is_401_and_says_nothing(server: LiveServer) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        response = server.client.post(
            "/chatkit",
            content=b'{"type":"threads.list","params":{}}',
            headers={"Authorization": "", **headers},
        )
        assert response.status_code == 401
        assert response.json() == {"error": {"code": "unauthorized", "message": "Unauthorized."}}


@pytest.fixture
def api() -> str:
    # Request validation doesn't depend on the provider's API flavour: run these once.
    return "responses"
