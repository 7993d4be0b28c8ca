"""Every 4xx/5xx answer of every route has one shape: {"error": {"code", "message"}}, with
`fields` only for per-field problems. The routes come from the app itself, so a new one is
covered too."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.routing import Mount, Route

from tests.support.live import LiveServer


@pytest.fixture
def api() -> str:
    return "chat_completions"


def assert_error_shape(response: httpx.Response) -> None:
    assert response.status_code >= 400
    body: Any = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) <= {"code", "message", "fields"}, error
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    if "fields" in error:
        assert isinstance(error["fields"], dict) and error["fields"]


def concrete(path: str) -> str:
    return (
        path.replace("{thread_id}", "thr_missing")
        .replace("{item_id}", "msg_missing")
        .replace("{attachment_id}", "atc_0000000000000000")
    )


BAD_BODIES = [b"", b"{nope", b"[" * 3000, b'{"settings": {"base_url": "ftp://x"}}', b"\xff"]


def all_routes(routes: list[Any]) -> list[Route]:
    found: list[Route] = []
    for route in routes:
        if isinstance(route, Route):
            found.append(route)
        elif hasattr(route, "original_router"):  # an included router
            found += all_routes(route.original_router.routes)
    return found


def test_every_route_answers_errors_in_one_shape(server: LiveServer) -> None:
    routes = all_routes(server.app.routes)
    assert len(routes) >= 15
    seen_errors = 0
    with httpx.Client(base_url=server.url, timeout=30) as anonymous:
        for route in routes:
            path = concrete(route.path)
            for method in sorted(route.methods or {"GET"}):
                if method == "HEAD":
                    continue
                if path.startswith(("/chatkit", "/api/")):
                    assert_error_shape(anonymous.request(method, path))
                    seen_errors += 1
                for body in BAD_BODIES:
                    response = server.client.request(method, path, content=body)
                    assert response.status_code < 500, (method, path, response.text)
                    if response.status_code >= 400:
                        assert_error_shape(response)
                        seen_errors += 1
    mounts = [r for r in server.app.routes if isinstance(r, Mount)]
    for mount in mounts:
        assert_error_shape(server.client.get(f"{mount.path}/missing.js"))
    for method, path in [("GET", "/nowhere"), ("DELETE", "/api/settings"), ("GET", "/chatkit")]:
        assert_error_shape(server.client.request(method, path))
    assert seen_errors > 40


def test_field_errors_keep_the_shape(server: LiveServer) -> None:
    response = server.client.put("/api/settings", json={"settings": {"base_url": "ftp://x"}})
    assert response.status_code == 400
    assert_error_shape(response)
    assert "base_url" in response.json()["error"]["fields"]
