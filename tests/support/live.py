"""A real uvicorn server on 127.0.0.1 running `create_app`, and a client that speaks ChatKit."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from desktop.api.app import create_app
from desktop.api.serving import bind_loopback, make_server

TOKEN = "test-token-0123456789abcdef0123456789"
API_KEY = "sk-test-SECRETKEY-9f8e7d6c5b4a"


def user_input(text: str, attachments: list[str] | None = None) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": attachments or [],
        "inference_options": {},
    }


def parse_sse(raw: bytes) -> list[dict[str, Any]]:
    events = []
    for block in raw.decode().split("\n\n"):
        block = block.strip()
        if block:
            assert block.startswith("data: "), block
            events.append(json.loads(block[len("data: ") :]))
    return events


class LiveServer:
    def __init__(self, data_dir: Path, env: dict[str, str], **options: Any) -> None:
        """`options`: more of create_app's keyword arguments."""
        self.data_dir = data_dir
        self.env = env
        self.sock = bind_loopback(0)
        self.port: int = self.sock.getsockname()[1]
        self.app = create_app(data_dir=data_dir, token=TOKEN, port=self.port, env=env, **options)
        self.server = make_server(self.app)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.client = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=30,
            # Without it, Nagle plus delayed ACKs add 40 ms to each request.
            transport=httpx.HTTPTransport(
                socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
            ),
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def store(self) -> Any:
        return self.app.state.desktop.store

    def _run(self) -> None:
        asyncio.run(self.server.serve(sockets=[self.sock]))

    def start(self) -> LiveServer:
        self.thread.start()
        for _ in range(500):
            # Serving, with the chat store and the chat engine (both built in the background)
            # ready: a test's first turn then doesn't also pay for building them.
            state = self.app.state.desktop
            if self.server.started and state.stores.ready.wait(30) and state.chat.ready.wait(30):
                return self
            threading.Event().wait(0.01)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.sock.close()

    # ---- ChatKit calls

    def post(self, payload: dict[str, Any]) -> httpx.Response:
        return self.client.post("/chatkit", content=json.dumps(payload))

    def call(self, request_type: str, /, **params: Any) -> Any:
        response = self.post({"type": request_type, "params": params})
        assert response.status_code == 200, response.text
        return response.json()

    def stream(self, request_type: str, /, **params: Any) -> list[dict[str, Any]]:
        response = self.post({"type": request_type, "params": params})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/event-stream")
        return parse_sse(response.content)

    def create_thread(self, text: str = "Hello there") -> tuple[str, list[dict[str, Any]]]:
        events = self.stream("threads.create", input=user_input(text))
        return events[0]["thread"]["id"], events

    def items(self, thread_id: str, limit: int = 100) -> list[dict[str, Any]]:
        return self.call("items.list", thread_id=thread_id, limit=limit, order="asc")["data"]  # type: ignore[no-any-return]


@contextmanager
def live_server(data_dir: Path, env: dict[str, str], **options: Any) -> Iterator[LiveServer]:
    server = LiveServer(data_dir, env, **options).start()
    try:
        yield server
    finally:
        server.stop()
