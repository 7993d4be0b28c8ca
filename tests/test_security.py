"""One test per rule of the hardened local server."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from desktop.api.security import make_token
from tests.support.live import TOKEN, LiveServer


@pytest.fixture
def api() -> str:
    return "responses"


def raw(server: LiveServer, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    with httpx.Client() as client:
        return client.request(method, f"{server.url}{path}", headers=headers, content=b"{}")


def test_binds_to_loopback_only(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "desktop", "--no-window", "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(re.search(r":(\d+)", proc.stdout.readline()).group(1))  # type: ignore[union-attr]
        listening = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
        local = [
            cols[1]
            for cols in listening
            if cols[3] == "0A" and int(cols[1].split(":")[1], 16) == port
        ]
        assert local == [f"0100007F:{port:04X}"]  # 127.0.0.1, nothing else
        assert not any(
            int(c[1].split(":")[1], 16) == port
            for c in (line.split() for line in Path("/proc/net/tcp6").read_text().splitlines()[1:])
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)


def test_per_launch_secret_is_32_random_bytes() -> None:
    tokens = {make_token({}) for _ in range(20)}
    assert len(tokens) == 20
    assert all(len(t) >= 43 for t in tokens)  # base64 of 32 bytes
    assert make_token({"CHATKIT_DESKTOP_TOKEN": "fixed-for-automation"}) == "fixed-for-automation"


@pytest.mark.parametrize(
    "method,path",
    [
        ("POST", "/chatkit"),
        ("GET", "/api/health"),
        ("GET", "/api/settings"),
        ("PUT", "/api/settings"),
        ("POST", "/api/log"),
        ("GET", "/api/attachments/atc_x/content"),
        ("PUT", "/api/attachments/atc_x/upload"),
        ("POST", "/api/instance/focus"),
        ("GET", "/api/models"),
    ],
)
def test_secret_required_everywhere(server: LiveServer, method: str, path: str) -> None:
    host = {"Host": f"127.0.0.1:{server.port}"}
    for headers in (
        {},
        {"Authorization": "Bearer nope"},
        {"Cookie": "chatkit_desktop_session=nope"},
    ):
        response = raw(server, method, path, {**host, **headers})
        assert response.status_code == 401
        assert response.json() == {"error": {"code": "unauthorized", "message": "Unauthorized."}}
    assert (
        raw(server, method, path, {**host, "Authorization": f"Bearer {TOKEN}"}).status_code != 401
    )


def test_sign_in_url_only_with_the_right_token(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url) as client:
        wrong = client.get("/?token=guess", follow_redirects=False)
        assert wrong.status_code == 303 and "set-cookie" not in wrong.headers
        right = client.get(f"/?token={TOKEN}", follow_redirects=False)
        assert right.status_code == 303 and right.headers["location"] == "/"
        cookie = right.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert client.get("/api/settings").status_code == 200


@pytest.mark.parametrize(
    "host",
    [
        "evil.example:{port}",
        "127.0.0.1:1",
        "localhost.evil.example:{port}",
        "127.0.0.1",
        "[::1]:{port}",
        "",
    ],
)
def test_foreign_host_header_is_refused(server: LiveServer, host: str) -> None:
    """The DNS-rebinding defence: a page on evil.example resolving to 127.0.0.1 still says evil.example."""
    response = raw(
        server,
        "GET",
        "/api/health",
        {"Host": host.format(port=server.port), "Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 403


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}"])
def test_own_host_header_is_accepted(server: LiveServer, host: str) -> None:
    response = raw(
        server,
        "GET",
        "/api/health",
        {"Host": host.format(port=server.port), "Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "null", "http://127.0.0.1:1", "file://"]
)
def test_foreign_or_null_origin_is_refused(server: LiveServer, origin: str) -> None:
    response = raw(
        server, "POST", "/chatkit", {"Origin": origin, "Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 403
    same = raw(
        server, "POST", "/api/log", {"Origin": server.url, "Authorization": f"Bearer {TOKEN}"}
    )
    assert same.status_code != 403


def test_no_cors_headers_ever(server: LiveServer) -> None:
    responses = [
        raw(
            server,
            "OPTIONS",
            "/chatkit",
            {
                "Origin": server.url,
                "Access-Control-Request-Method": "POST",
                "Authorization": f"Bearer {TOKEN}",
            },
        ),
        raw(
            server, "GET", "/api/health", {"Origin": server.url, "Authorization": f"Bearer {TOKEN}"}
        ),
        raw(server, "GET", "/api/health", {"Origin": "https://evil.example"}),
        raw(server, "GET", "/", {}),
    ]
    for response in responses:
        assert not [h for h in response.headers if h.lower().startswith("access-control-")]


def test_pages_send_a_content_security_policy(server: LiveServer) -> None:
    response = httpx.get(f"{server.url}/")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert (
        "default-src 'self'" in csp
        and "script-src 'self'" in csp
        and "frame-ancestors 'none'" in csp
    )
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in response.text  # no inline script for the CSP to allow


def test_token_is_not_in_the_page_or_settings(server: LiveServer) -> None:
    assert TOKEN not in httpx.get(f"{server.url}/").text
    assert TOKEN not in server.client.get("/api/settings").text
    assert os.environ.get("CHATKIT_DESKTOP_TOKEN") is None
