"""Issue 22, the server's side: another page can't use the session cookie (6), and the file a
second launch reads holds a secret that opens only the focus route, never the token (9)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from desktop.shell.instance import INFO_NAME, InstanceLock, ask_to_focus
from tests.support.headless import ROOT, start_headless
from tests.support.hostile_requests import (
    COOKIE_ROUTES,
    OWN_FETCH_SITES,
    cross_site_headers,
    foreign_origin_headers,
)
from tests.support.live import TOKEN, LiveServer

FORBIDDEN = {"error": {"code": "forbidden", "message": "Forbidden."}}
UNAUTHORIZED = {"error": {"code": "unauthorized", "message": "Unauthorized."}}


class Reached:
    """Innermost middleware: records every request that got past the guard to the routes."""

    def __init__(self, app: ASGIApp, seen: list[str]) -> None:
        self.app = app
        self.seen = seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.seen.append(f"{scope['method']} {scope['path']}")
        await self.app(scope, receive, send)


@pytest.fixture
def api() -> str:
    return "chat_completions"


@pytest.fixture
def focused() -> list[int]:
    return []


@pytest.fixture
def seen() -> list[str]:
    return []


@pytest.fixture
def guarded(
    data_dir: Path, env: dict[str, str], focused: list[int], seen: list[str]
) -> Iterator[LiveServer]:
    def on_focus() -> bool:
        focused.append(1)
        return True

    # The built-in client: the page then needs nothing from OpenAI's CDN.
    (data_dir / "settings.json").write_text(json.dumps({"chat_interface": "builtin"}))
    live = LiveServer(data_dir, env, on_focus=on_focus)
    # Appended last, so it sits inside the guard: it sees only what the guard let through.
    live.app.user_middleware.append(Middleware(Reached, seen=seen))
    live.start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def browser(guarded: LiveServer, seen: list[str]) -> Iterator[httpx.Client]:
    """A client signed in the way a browser is: the session cookie, no token."""
    with httpx.Client(base_url=guarded.url, timeout=30, follow_redirects=True) as client:
        signed_in = client.get(f"/?token={TOKEN}", headers={"Sec-Fetch-Site": "none"})
        assert signed_in.status_code == 200 and client.cookies
        seen.clear()
        yield client


@pytest.mark.parametrize(("method", "path", "body"), COOKIE_ROUTES)
def test_another_pages_request_with_the_cookie_is_refused_before_the_route(
    browser: httpx.Client, seen: list[str], method: str, path: str, body: bytes
) -> None:
    for headers in cross_site_headers():
        response = browser.request(method, path, headers=headers, content=body)
        assert (response.status_code, response.json()) == (403, FORBIDDEN), headers
    assert seen == []


@pytest.mark.parametrize(("method", "path", "body"), COOKIE_ROUTES)
def test_our_own_pages_requests_with_the_cookie_still_pass(
    browser: httpx.Client, seen: list[str], method: str, path: str, body: bytes
) -> None:
    for site in OWN_FETCH_SITES:
        headers = {"Sec-Fetch-Site": site} if site else {}
        response = browser.request(method, path, headers=headers, content=body)
        assert response.status_code not in (401, 403), (site, response.text)
    assert seen == [f"{method} {path}"] * len(OWN_FETCH_SITES)


def test_a_foreign_origin_with_the_cookie_is_refused(
    guarded: LiveServer, browser: httpx.Client, seen: list[str]
) -> None:
    for headers in foreign_origin_headers(guarded.port):
        for method, path, body in COOKIE_ROUTES:
            response = browser.request(method, path, headers=headers, content=body)
            assert (response.status_code, response.json()) == (403, FORBIDDEN), headers
    assert seen == []


def test_the_token_is_not_ambient_so_it_may_come_from_anywhere(
    guarded: LiveServer, seen: list[str]
) -> None:
    for headers in cross_site_headers():
        response = guarded.client.get("/api/settings", headers=headers)
        assert response.status_code == 200, headers


def test_sign_in_and_the_page_load_from_any_navigation(guarded: LiveServer) -> None:
    code = guarded.app.state.desktop.sign_in_codes.issue()
    with httpx.Client(base_url=guarded.url, timeout=30) as client:
        # A browser started with the one-time URL on its command line says `none`.
        user = {"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate"}
        signed_in = client.get(f"/?code={code}", headers=user, follow_redirects=False)
        assert signed_in.status_code == 303 and client.cookies
        # The page itself and its assets carry no data: a link from anywhere may open them.
        for site in ("none", "same-origin", "cross-site", "same-site"):
            assert client.get("/", headers={"Sec-Fetch-Site": site}).status_code == 200
        assert client.get("/api/session", headers={"Sec-Fetch-Site": "same-origin"}).json() == {
            "token": TOKEN
        }


# ---------------------------------------------------------------- .instance.json


def test_instance_file_holds_no_token_and_its_secret_opens_only_the_focus_route(
    guarded: LiveServer, data_dir: Path, focused: list[int], seen: list[str]
) -> None:
    lock = InstanceLock(data_dir)
    assert lock.acquire()
    try:
        lock.publish(guarded.port, TOKEN)
        text = (data_dir / INFO_NAME).read_text()
        info = json.loads(text)
        assert TOKEN not in text and TOKEN not in json.dumps(info)
        assert set(info) == {"pid", "port", "focus"} and info["port"] == guarded.port
        secret = info["focus"]
        for offered in (
            {"X-Instance-Focus": secret},
            {"Authorization": f"Bearer {secret}"},
            {"Cookie": f"chatkit_desktop_session_{guarded.port}={secret}"},
        ):
            for method, path, body in COOKIE_ROUTES:
                if path == "/api/instance/focus" and "X-Instance-Focus" in offered:
                    continue
                with httpx.Client(base_url=guarded.url) as client:
                    response = client.request(method, path, headers=offered, content=body)
                assert (response.status_code, response.json()) == (401, UNAUTHORIZED), path
        # Only a POST of the focus route: a GET is no focus request.
        with httpx.Client(base_url=guarded.url) as client:
            got = client.get("/api/instance/focus", headers={"X-Instance-Focus": secret})
        assert got.status_code == 401
        assert seen == [] and focused == []
        assert ask_to_focus(data_dir)
        assert focused == [1] and seen == ["POST /api/instance/focus"]
    finally:
        lock.release()


def test_the_focus_secret_tells_nothing_about_the_token() -> None:
    # Two launches with the same (guessable) token fixed by automation publish unrelated secrets.
    script = "from desktop.api.security import focus_secret; print(focus_secret('weak'))"
    secrets = {
        subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
        ).stdout.strip()
        for _ in range(2)
    }
    assert len(secrets) == 2 and all(len(s) >= 43 and "weak" not in s for s in secrets)


def test_a_stale_or_old_instance_file_is_not_followed(data_dir: Path) -> None:
    # An instance from before this fix, a garbled file, a file of another shape.
    stale: list[object] = [{"pid": 1, "port": 9, "token": TOKEN}, {"port": "x", "focus": "s"}, []]
    for info in stale:
        (data_dir / INFO_NAME).write_text(json.dumps(info))
        assert not ask_to_focus(data_dir, timeout=2)


@pytest.mark.slow
def test_a_launch_never_writes_its_token_and_a_second_launch_still_focuses_it(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    proc, port = start_headless(data, {})
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"\?token=(\S+)", line)
        assert match, line
        token = match.group(1)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            auth = {"Authorization": f"Bearer {token}"}
            assert client.get("/api/settings", headers=auth).status_code == 200  # the live token
            for path in [data / INFO_NAME, *data.rglob("*")]:
                if path.is_file():
                    assert token.encode() not in path.read_bytes(), path
            secret = json.loads((data / INFO_NAME).read_text())["focus"]
            assert (
                client.get("/api/settings", headers={"X-Instance-Focus": secret}).status_code == 401
            )
        second = subprocess.run(
            [sys.executable, "-m", "desktop", "--no-window", "--data-dir", str(data)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
        assert second.returncode == 0, second.stderr
        assert "already running" in second.stdout
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


# ---------------------------------------------------------------- in a real browser

HOSTILE_PAGE = """<!doctype html><title>hostile</title>
<img id="leak" src="{app}/api/entities/mcp:evil:file:///etc/hostname/preview">
<script>
const img = new Promise((done) => {{
  const leak = document.getElementById("leak");
  leak.onload = leak.onerror = done;
  if (leak.complete) done();
}});
const read = fetch("{app}/api/settings", {{mode: "no-cors", credentials: "include"}})
  .catch(() => null);
Promise.all([img, read]).then(() => {{ document.title = "done"; }});
</script>"""


@pytest.mark.browser
def test_in_chromium_another_local_page_cant_use_the_session(
    guarded: LiveServer, seen: list[str]
) -> None:
    from playwright.sync_api import expect, sync_playwright

    from tests.support.browser import CHROMIUM, FLAGS, open_app

    html = HOSTILE_PAGE.format(app=guarded.url).encode()

    class Hostile(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

    # Another port of 127.0.0.1: the same site, so Chromium attaches the session cookie.
    elsewhere = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    threading.Thread(target=elsewhere.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as p:
            chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            try:
                page = open_app(chromium, guarded)  # signs in, then the page loads its data
                assert "GET /api/settings" in seen
                # The page goes on asking for things after it shows it is ready (its readiness,
                # the pickers' lists): let it finish, or those requests may arrive after `seen`
                # is cleared and look like the hostile page's.
                page.reload()
                expect(page.locator("body")).to_have_attribute("data-ready", "true")
                page.wait_for_load_state("networkidle")
                seen.clear()
                hostile = page.context.new_page()
                hostile.goto(f"http://127.0.0.1:{elsewhere.server_address[1]}/")
                hostile.wait_for_function("document.title === 'done'")
                assert [path for path in seen if "/api/" in path] == []
                page.reload()  # the app's own page still works in the same browser
                expect(page.locator("body")).to_have_attribute("data-ready", "true")
                assert "GET /api/settings" in seen
            finally:
                chromium.close()
    finally:
        elsewhere.shutdown()
        elsewhere.server_close()
