"""Issue 22 (12): whatever a provider answers to GET /models (a web page at a wrong base URL,
JSON of another shape, an endless body), the app says it can't list the models and offers the
configured one; it never answers 500."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from desktop.chat.models import MAX_NAME_CHARS, ModelCatalog, model_names
from desktop.chat.provider import ProviderClients
from tests.support.hostile_requests import MALFORMED_MODELS_BODIES, huge_models_body
from tests.support.live import API_KEY, LiveServer, live_server

GOOD = json.dumps(
    {
        "object": "list",
        "data": [
            {"id": "zeta"},
            {"id": "alpha", "owned_by": "me"},
            {"id": "alpha"},
            {"name": "no id"},
            {"id": "x" * (MAX_NAME_CHARS + 1)},
        ],
    }
).encode()


class Models(BaseHTTPRequestHandler):
    """A provider whose /v1/models answer the test chooses; `None` streams without end."""

    answer: ClassVar[tuple[str, bytes | None]] = ("application/json", GOOD)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        kind, body = self.answer
        self.send_response(200 if self.path == "/v1/models" else 404)
        self.send_header("Content-Type", kind)
        if body is not None:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.end_headers()
        try:
            for chunk in huge_models_body():
                self.wfile.write(chunk)
        except OSError:
            pass  # the app stopped reading, as it should


@pytest.fixture
def provider_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Models)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    Models.answer = ("application/json", GOOD)
    server.shutdown()
    server.server_close()


@pytest.fixture
def app(data_dir: Path, provider_url: str) -> Iterator[LiveServer]:
    env = {
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": provider_url,
        "CHATKIT_DESKTOP_MODEL": "configured-model",
        "CHATKIT_DESKTOP_API": "chat_completions",
    }
    with live_server(data_dir, env) as live:
        yield live


def assert_cannot_list(app: LiveServer, why: str) -> None:
    listed = app.client.get("/api/models")
    assert listed.status_code == 502, (why, listed.text)
    error = listed.json()["error"]
    assert error["code"] == "provider_error" and "127.0.0.1" in error["message"], why
    composer = app.client.get("/api/composer")
    assert composer.status_code == 200, (why, composer.text)
    offered = composer.json()
    assert offered["models"] == ["configured-model"] and not offered["models_listed"], why
    assert offered["models_message"] == error["message"], why


def test_a_models_list_is_read_and_unusable_entries_are_left_out(app: LiveServer) -> None:
    assert app.client.get("/api/models").json()["models"] == ["alpha", "zeta"]


@pytest.mark.parametrize(("name", "kind", "body"), MALFORMED_MODELS_BODIES)
def test_a_malformed_models_answer_means_the_models_cant_be_listed(
    app: LiveServer, name: str, kind: str, body: bytes
) -> None:
    Models.answer = (kind, body)
    assert_cannot_list(app, name)


def test_the_web_page_of_a_wrong_base_url_says_to_check_it(app: LiveServer) -> None:
    Models.answer = MALFORMED_MODELS_BODIES[0][1:]
    message = app.client.get("/api/models").json()["error"]["message"]
    assert "isn't a models list" in message and "Check the base URL" in message


def test_an_endless_models_answer_is_cut_off(app: LiveServer) -> None:
    Models.answer = ("application/json", None)
    assert_cannot_list(app, "endless")
    assert "larger than 16 MB" in app.client.get("/api/models").json()["error"]["message"]


async def test_a_base_url_without_a_models_list_says_so(app: LiveServer, provider_url: str) -> None:
    cfg = app.app.state.desktop.settings.provider_config()
    found = await ModelCatalog(ProviderClients()).list(replace(cfg, base_url=f"{provider_url}/x"))
    assert found.models == ("configured-model",) and not found.listed
    assert "has no models list" in found.message and "(404)" in found.message


@pytest.mark.parametrize(("name", "kind", "body"), MALFORMED_MODELS_BODIES)
def test_model_names_never_raises(name: str, kind: str, body: bytes) -> None:
    assert not model_names(body), name
