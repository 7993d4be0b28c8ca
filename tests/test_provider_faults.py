"""Every provider failure becomes a clear chat message; nothing the user sent is lost."""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.fake_provider import FakeProvider, Fault
from tests.support.live import LiveServer, live_server, user_input

FAULTS: dict[str, tuple[Fault, str, bool]] = {
    "401": (Fault("status", status=401), r"rejected the API key \(401\)", False),
    "403": (Fault("status", status=403), r"rejected the API key \(403\)", False),
    "404": (Fault("status", status=404), r"model 'fake-model' isn't available .*\(404\)", False),
    "429": (
        Fault("status", status=429, headers={"Retry-After": "7"}),
        r"rate-limiting .*Try again in 7 seconds",
        True,
    ),
    "500": (Fault("status", status=500), r"server error \(500\)", True),
    "503": (Fault("status", status=503), r"server error \(503\)", True),
    "400": (
        Fault("status", status=400, body={"error": {"message": "context too long"}}),
        r"refused the request \(400\): context too long",
        True,
    ),
    "disconnect": (Fault("disconnect", after_tokens=3), r"broke before the reply finished", True),
    "truncated": (
        Fault("truncate", after_tokens=3),
        r"(ended|broke) before (it|the reply) finished",
        True,
    ),
    "malformed": (Fault("malformed"), r"couldn't be read", True),
}


def error_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == "error"]


def assert_recovers(
    server: LiveServer, provider: FakeProvider, thread_id: str, user_item_id: str
) -> None:
    """The thread stays usable: retrying the turn once the fault is gone gives a full answer."""
    provider.clear_faults()
    provider.replies.clear()
    provider.reply("Recovered answer")
    events = server.stream("threads.retry_after_item", thread_id=thread_id, item_id=user_item_id)
    assert not error_events(events)
    items = server.items(thread_id)
    assert [i["type"] for i in items] == ["user_message", "assistant_message"]
    assert items[1]["content"][0]["text"] == "Recovered answer"


@pytest.mark.parametrize("name", FAULTS)
def test_fault_is_reported_and_message_kept(
    server: LiveServer, provider: FakeProvider, name: str
) -> None:
    fault, pattern, retry = FAULTS[name]
    provider.reply("This reply is long enough to be cut off part of the way through")
    provider.fail(fault)
    events = server.stream("threads.create", input=user_input("Important question"))
    errors = error_events(events)
    assert len(errors) == 1, events
    assert re.search(pattern, errors[0]["message"]), errors[0]["message"]
    assert errors[0]["allow_retry"] is retry
    thread_id = events[0]["thread"]["id"]
    items = server.items(thread_id)
    # The user's message is kept; no partial answer is stored as if it were complete.
    assert [i["type"] for i in items] == ["user_message"]
    assert items[0]["content"][0]["text"] == "Important question"
    assert_recovers(server, provider, thread_id, items[0]["id"])


def test_stall_longer_than_the_timeout(
    tmp_path: Path, provider: FakeProvider, env: dict[str, str]
) -> None:
    data = tmp_path / "slow"
    data.mkdir()
    (data / "settings.json").write_text(json.dumps({"max_retries": 0, "request_timeout_s": 1}))
    provider.fail(Fault("stall", seconds=2.5))
    with live_server(data, env) as server:
        started = time.monotonic()
        events = server.stream("threads.create", input=user_input("hello?"))
        assert time.monotonic() - started < 10
        errors = error_events(events)
        assert errors and "didn't answer within 1 s" in errors[0]["message"]
        thread_id = events[0]["thread"]["id"]
        items = server.items(thread_id)
        assert [i["type"] for i in items] == ["user_message"]
        time.sleep(2)  # let the stalled handler finish before the next request
        assert_recovers(server, provider, thread_id, items[0]["id"])


def test_connection_refused(data_dir: Path, env: dict[str, str], provider: FakeProvider) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with live_server(data_dir, {**env, "OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1"}) as server:
        events = server.stream("threads.create", input=user_input("anyone there?"))
        errors = error_events(events)
        assert errors and errors[0]["message"].startswith(f"Can't connect to 127.0.0.1:{port}")
        assert errors[0]["allow_retry"] is True
        assert [i["type"] for i in server.items(events[0]["thread"]["id"])] == ["user_message"]


def test_missing_key_for_openai(data_dir: Path, provider: FakeProvider) -> None:
    with live_server(data_dir, {"CHATKIT_DESKTOP_MODEL": "gpt-test"}) as server:
        events = server.stream("threads.create", input=user_input("hi"))
        errors = error_events(events)
        assert errors and errors[0]["message"].startswith("No API key is set")
        assert errors[0]["allow_retry"] is False
        assert [i["type"] for i in server.items(events[0]["thread"]["id"])] == ["user_message"]
        # the thread still gets a title so the history stays readable
        assert events[-1]["type"] == "thread.updated" and events[-1]["thread"]["title"] == "hi"


def test_local_provider_needs_no_key(
    data_dir: Path, env: dict[str, str], provider: FakeProvider
) -> None:
    keyless = {k: v for k, v in env.items() if k != "OPENAI_API_KEY"}
    with live_server(data_dir, keyless) as server:
        events = server.stream("threads.create", input=user_input("hi"))
        assert not error_events(events)
    assert provider.chat_requests()[0].headers["authorization"] == "Bearer no-key"


def test_cancel_keeps_partial_text_and_thread_stays_usable(
    server: LiveServer, provider: FakeProvider
) -> None:
    provider.token_delay_s = 0.05
    provider.reply(" ".join(f"word{i}" for i in range(200)))
    body = json.dumps(
        {"type": "threads.create", "params": {"input": user_input("tell me a long story")}}
    )
    thread_id = None
    deltas = 0
    with server.client.stream("POST", "/chatkit", content=body) as response:
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            event = json.loads(line[6:])
            if event["type"] == "thread.created":
                thread_id = event["thread"]["id"]
            if event["type"] == "thread.item.updated":
                deltas += 1
                if deltas >= 5:
                    break  # the user pressed Stop: the client drops the stream
    assert thread_id is not None
    # The model stops too: the app hangs up on it rather than letting it write (and bill) the
    # whole reply in the background.
    assert provider.hung_up.wait(timeout=8)
    items: list[dict[str, Any]] = []
    for _ in range(100):
        items = server.items(thread_id)
        if any(i["type"] == "assistant_message" for i in items):
            break
        time.sleep(0.05)
    assert [i["type"] for i in items] == ["user_message", "assistant_message"]
    partial = items[1]["content"][0]["text"]
    assert partial.startswith("word0") and "word199" not in partial
    provider.token_delay_s = 0
    provider.reply("Short answer")
    events = server.stream(
        "threads.add_user_message", thread_id=thread_id, input=user_input("shorter please")
    )
    assert not error_events(events)
    assert server.items(thread_id)[-1]["content"][0]["text"] == "Short answer"
