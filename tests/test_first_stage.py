"""The launch's first stage: the page, Settings and the history come before the full app, the same
as the full app would give them, behind the same guard; everything else waits for the full app,
which takes over without a reload. Real uvicorn on 127.0.0.1, a real SQLite file."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from chatkit.types import ClosedStatus, LockedStatus, ThreadMetadata

from desktop.api.app import create_app
from desktop.api.first_stage import FirstStage, Front
from desktop.api.serving import bind_loopback, make_server
from desktop.context import RequestContext
from desktop.paths import resolve_paths, ui_dir
from desktop.profile import Profile
from desktop.store import SQLiteStore
from desktop.store.database import prepare_database
from desktop.store.thread_cursors import ThreadCursors
from desktop.store.thread_list import first_page
from tests.support.live import TOKEN, live_server
from tests.test_store_contract import user_message

CTX = RequestContext()
ROOT = Path(__file__).resolve().parent.parent


def seed(data_dir: Path, threads: list[ThreadMetadata]) -> None:
    """Threads in the order given, oldest activity first, each with a message."""

    async def go() -> None:
        store = SQLiteStore(data_dir / "chats.db")
        store.open()
        try:
            for t in threads:
                await store.save_thread(t, CTX)
                await store.add_thread_item(t.id, user_message(t.id, f"m-{t.id}"), CTX)
        finally:
            store.close()

    asyncio.run(go())


def varied_threads() -> list[ThreadMetadata]:
    at = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
    return [
        ThreadMetadata(id="thr_plain", created_at=at, title="Plain"),
        ThreadMetadata(id="thr_untitled", created_at=datetime(2026, 1, 2, 3, 4, 5)),
        ThreadMetadata(
            id="thr_unicode", created_at=at, title='Ünïcødé ✓ 漢字 "quoted" \\ </script>'
        ),
        ThreadMetadata(
            id="thr_locked", created_at=at, title="Locked", status=LockedStatus(reason="archived")
        ),
        ThreadMetadata(id="thr_locked_bare", created_at=at, status=LockedStatus()),
        ThreadMetadata(id="thr_closed", created_at=at, title="Closed", status=ClosedStatus()),
        ThreadMetadata(
            id="thr_images",
            created_at=at,
            title="Images",
            allowed_image_domains=["example.com"],
            metadata={"assistant": "asst_1", "secret_looking": "x"},
        ),
    ]


class Staged:
    """The first stage on a real server; the full app is built only when `release` is set."""

    def __init__(self, data_dir: Path, *, fail: bool = False, build_after_s: float = 3600) -> None:
        self.sock = bind_loopback(0)
        self.port = self.sock.getsockname()[1]
        paths = resolve_paths(data_dir)
        prepare_database(paths.db, paths.attachments)
        self.profile = Profile.open(paths, env={})
        self.front = Front.new(TOKEN, self.port)
        self.release = threading.Event()
        self.build_started = threading.Event()
        self.ready_calls = 0
        self.full: Any = None

        def build_full(page_up: bool) -> Any:
            self.build_started.set()
            self.release.wait(60)
            if fail:
                raise RuntimeError("no such engine")
            self.full = create_app(
                profile=self.profile, token=TOKEN, port=self.port, front=self.front
            )
            return self.full

        def ready() -> None:
            self.ready_calls += 1

        self.stage = FirstStage(
            front=self.front,
            profile=self.profile,
            build_full=build_full,
            on_page_ready=ready,
            build_after_s=build_after_s,
        )
        self.server = make_server(self.stage, self.front.quitting.begin)
        self.thread = threading.Thread(
            target=lambda: asyncio.run(self.server.serve(sockets=[self.sock])), daemon=True
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self.client = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        )
        self.pool = ThreadPoolExecutor(4)

    def start(self) -> Staged:
        self.thread.start()
        for _ in range(3000):
            if self.server.started:
                return self
            threading.Event().wait(0.01)
        raise RuntimeError("the first stage did not start")

    def later(self, method: str, path: str, **kw: Any) -> Future[httpx.Response]:
        """A request sent now, answered whenever the server answers it."""
        return self.pool.submit(self.client.request, method, path, **kw)

    def stop(self) -> None:
        self.release.set()
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.pool.shutdown(wait=True)
        self.client.close()
        self.sock.close()


@pytest.fixture
def staged(data_dir: Path) -> Iterator[Staged]:
    seed(data_dir, varied_threads())
    server = Staged(data_dir).start()
    yield server
    server.stop()


def history_request(**params: Any) -> str:
    return json.dumps({"type": "threads.list", "params": params})


def test_the_page_settings_and_history_come_before_the_full_app(staged: Staged) -> None:
    c = staged.client
    signed_in = c.get("/", params={"token": TOKEN}, follow_redirects=False)
    assert signed_in.status_code == 303
    assert staged.front.guard.cookie_name in signed_in.headers["set-cookie"]
    page = c.get("/")
    assert page.status_code == 200 and "<html" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    script = re.search(r'src="(/assets/[^"]+\.js)"', page.text)
    assert script is not None
    asset = c.get(script.group(1))
    assert asset.status_code == 200 and "javascript" in asset.headers["content-type"]
    settings = c.get("/api/settings").json()
    assert settings["data_dir"] == str(staged.profile.paths.data)
    assert "api_key" in settings and "sk-" not in json.dumps(settings)
    history = c.post("/chatkit", content=history_request(limit=30, order="desc")).json()
    assert [t["id"] for t in history["data"]][:2] == ["thr_images", "thr_closed"]
    assert c.get("/api/health").json()["status"] == "ok"
    assert c.get("/api/ui-state").status_code == 200
    assert c.post("/api/log", json={"message": "hello from the page"}).status_code == 204
    # None of that asked for the full app.
    assert not staged.build_started.is_set()
    assert staged.full is None


def test_the_rest_waits_for_the_full_app_then_it_takes_over(staged: Staged) -> None:
    composer = staged.later("GET", "/api/composer")
    # A request the first stage can't answer starts the full app's build, and waits for it.
    assert staged.build_started.wait(30)
    assert not composer.done()
    other_history = staged.later("POST", "/chatkit", content=history_request(limit=2, order="asc"))
    staged.release.set()
    assert composer.result(60).status_code == 200
    assert "assistants" in composer.result().json()
    ascending = other_history.result(60).json()
    assert [t["id"] for t in ascending["data"]] == ["thr_plain", "thr_untitled"]
    # From now on the full app answers everything, the page's routes too, with the same sign-in.
    assert staged.stage._full is staged.full
    assert staged.client.get("/api/settings").status_code == 200
    cookie_only = httpx.Client(base_url=staged.url)
    try:
        cookie_only.get("/", params={"token": TOKEN})
        assert cookie_only.get("/api/settings").status_code == 200
    finally:
        cookie_only.close()


def test_the_page_saying_it_is_ready_starts_the_full_app(staged: Staged) -> None:
    assert staged.client.post("/api/page/ready").status_code == 204
    assert staged.ready_calls == 1
    assert staged.build_started.wait(30)


def test_the_first_stage_guards_every_request_like_the_full_app(staged: Staged) -> None:
    anonymous = httpx.Client(base_url=staged.url)
    try:
        assert anonymous.get("/api/settings").status_code == 401
        assert anonymous.post("/chatkit", content=history_request()).status_code == 401
        assert anonymous.get("/api/composer").status_code == 401
        assert (
            anonymous.get("/", params={"token": "wrong"}, follow_redirects=False).headers.get(
                "set-cookie"
            )
            is None
        )
    finally:
        anonymous.close()
    c = staged.client
    assert c.get("/api/settings", headers={"Host": "evil.example:80"}).status_code == 403
    assert c.get("/api/settings", headers={"Origin": "http://evil.example"}).status_code == 403
    huge = b"{" + b" " * (9 * 1024 * 1024) + b"}"
    assert c.post("/chatkit", content=huge).status_code == 413
    # Refused requests never started the full app.
    assert not staged.build_started.is_set()


def test_other_chatkit_requests_reach_the_full_app_with_their_body(staged: Staged) -> None:
    thread = staged.later(
        "POST",
        "/chatkit",
        content=json.dumps({"type": "threads.get_by_id", "params": {"thread_id": "thr_plain"}}),
    )
    staged.release.set()
    answer = thread.result(60)
    assert answer.status_code == 200, answer.text
    assert answer.json()["title"] == "Plain"
    bad = staged.client.post("/chatkit", content=b"{not json")
    assert bad.status_code == 400 and "error" in bad.json()


def test_a_full_app_that_cant_start_is_said_clearly(data_dir: Path) -> None:
    server = Staged(data_dir, fail=True).start()
    try:
        server.release.set()
        answer = server.client.get("/api/composer")
        assert answer.status_code == 503
        message = answer.json()["error"]["message"]
        assert "couldn't finish starting" in message and "Traceback" not in answer.text
        # What the first stage serves still works: the user can read Settings and the log path.
        assert server.client.get("/api/settings").status_code == 200
    finally:
        server.stop()


def test_closing_while_a_request_waits_for_the_full_app(staged: Staged) -> None:
    waiting = staged.later("GET", "/api/composer")
    assert staged.build_started.wait(30)
    staged.server.should_exit = True
    answer = waiting.result(60)
    assert answer.status_code == 503
    assert "clos" in answer.json()["error"]["message"].lower()


def test_the_history_first_page_is_what_chatkit_answers(data_dir: Path, tmp_path: Path) -> None:
    """A contract: for every page size, the first stage's page equals the full app's."""
    seed(data_dir, varied_threads())
    with live_server(data_dir, {}) as live:
        for params in ({}, {"limit": 0}, {"limit": 1}, {"limit": 3}, {"limit": 7}, {"limit": 900}):
            theirs = live.post({"type": "threads.list", "params": params})
            ours = first_page(data_dir / "chats.db", _limit(params), ThreadCursors())
            assert json.loads(ours) == theirs.json(), params
        # The thread JSON bytes too, field for field: the page parses either.
        theirs = live.post({"type": "threads.list", "params": {"limit": 7}})
        assert first_page(data_dir / "chats.db", 7, ThreadCursors()) == theirs.content


def _limit(params: dict[str, Any]) -> int:
    return int(params.get("limit") or 20)


def test_load_more_after_the_hand_over_continues_where_the_first_page_ended(
    data_dir: Path,
) -> None:
    """The first stage's page ends at a thread; that thread then gets a reply (moving to the top)
    and the full app is asked for the next page: no chat is skipped or shown twice."""
    seed(
        data_dir, [ThreadMetadata(id=f"thr_{n}", created_at=datetime(2026, 1, 1)) for n in range(6)]
    )
    server = Staged(data_dir).start()
    try:
        first = server.client.post("/chatkit", content=history_request(limit=3)).json()
        assert [t["id"] for t in first["data"]] == ["thr_5", "thr_4", "thr_3"]
        assert first["after"] == "thr_3" and first["has_more"]
        server.release.set()
        assert server.client.get("/api/composer").status_code == 200
        store = server.full.state.desktop.store
        asyncio.run(store.add_thread_item("thr_3", user_message("thr_3", "m-again"), CTX))
        more = server.client.post(
            "/chatkit", content=history_request(limit=10, after="thr_3")
        ).json()
        assert [t["id"] for t in more["data"]] == ["thr_2", "thr_1", "thr_0"]
    finally:
        server.stop()


# websockets: the app speaks none, and uvicorn's "auto" would import an implementation of it.
FORBIDDEN = ("fastapi", "chatkit", "agents", "openai", "websockets")

FIRST_STAGE_ONLY = """
import asyncio, json, sys, threading, urllib.request
from pathlib import Path
from desktop.api.first_stage import FirstStage, Front
from desktop.api.serving import bind_loopback, make_server
from desktop.paths import resolve_paths
from desktop.profile import Profile
from desktop.store.database import prepare_database

paths = resolve_paths(sys.argv[1])
prepare_database(paths.db, paths.attachments)
sock = bind_loopback(0)
port = sock.getsockname()[1]
front = Front.new("t" * 32, port)
never = threading.Event()
stage = FirstStage(front=front, profile=Profile.open(paths, env={}),
                   build_full=lambda page_up: never.wait(), build_after_s=3600)
server = make_server(stage, front.quitting.begin)
threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True).start()
while not server.started:
    threading.Event().wait(0.01)

def ask(path, body=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body,
                                     headers={"Authorization": "Bearer " + "t" * 32})
    with urllib.request.urlopen(request) as answer:
        return answer.status

statuses = [ask("/"), ask("/api/settings"), ask("/api/health"),
            ask("/chatkit", json.dumps({"type": "threads.list", "params": {"limit": 30}}).encode())]
print(json.dumps({"statuses": statuses,
                  "loaded": sorted(m for m in FORBIDDEN if m in sys.modules)}))
""".replace("FORBIDDEN", repr(FORBIDDEN))


def test_the_first_stage_imports_nothing_it_does_not_serve_with(
    data_dir: Path,
) -> None:
    if not (ui_dir() / "index.html").is_file():
        pytest.fail("the page isn't built: npm --prefix web run build")
    report = run_script(FIRST_STAGE_ONLY, data_dir)
    assert report == {"statuses": [200, 200, 200, 200], "loaded": []}


def run_script(script: str, data_dir: Path) -> Any:
    """Runs `script` in a fresh interpreter (nothing imported yet); its last line, as JSON."""
    result = subprocess.run(
        [sys.executable, "-c", script, str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


BEFORE_THE_WINDOW = """
import json, sys
from pathlib import Path
import desktop.shell.cli, desktop.shell.launch
from desktop.loopback import bind_loopback, make_token
from desktop.shell.instance import InstanceLock

lock = InstanceLock(Path(sys.argv[1]))
assert lock.acquire()
sock = bind_loopback(0)
lock.publish(sock.getsockname()[1], make_token())
print(json.dumps(sorted(m for m in ("starlette", "pydantic", "uvicorn", "fastapi")
                        if m in sys.modules)))
"""


def test_the_launch_reaches_the_window_without_a_web_framework(data_dir: Path) -> None:
    # The window's toolkit starts on the main thread while the server's thread imports the
    # first stage: both hold one GIL, so every import the main thread makes first delays both.
    assert run_script(BEFORE_THE_WINDOW, data_dir) == []
