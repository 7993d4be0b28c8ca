"""The Settings page's API: validation next to the field, keychain or 0600 file, test connection."""

from __future__ import annotations

import json
import socket
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.support.fake_provider import FakeProvider, Fault
from tests.support.live import LiveServer, live_server

NEW_KEY = "sk-proj-NEWKEY-abcdefghij-1234"


@pytest.fixture
def api() -> str:
    return "responses"


def put(server: LiveServer, body: dict[str, Any]) -> Any:
    return server.client.put("/api/settings", content=json.dumps(body))


def test_view_never_contains_the_key(server: LiveServer, provider: FakeProvider) -> None:
    response = server.client.get("/api/settings")
    view = response.json()
    assert server.env["OPENAI_API_KEY"] not in response.text
    assert view["api_key"] == {
        "set": True,
        "last4": server.env["OPENAI_API_KEY"][-4:],
        "source": "env",
        "storage": "keychain",
        "from_env": "OPENAI_API_KEY",
        "for_host": f"127.0.0.1:{provider.port}",
        "for_origin": f"http://127.0.0.1:{provider.port}",
        "needs_key_for": None,
    }
    assert view["log_file"] is None or view["log_file"].endswith(".log")
    assert view["data_dir"] == str(server.data_dir)
    assert set(view["overridden_by_env"]) == {"api", "base_url", "model"}


def test_key_goes_to_the_keychain_and_never_to_disk(
    data_dir: Path, provider: FakeProvider, tmp_path: Path
) -> None:
    env = {"OPENAI_BASE_URL": provider.base_url, "CHATKIT_DESKTOP_MODEL": "fake-model"}
    with live_server(data_dir, env) as server:
        assert server.client.get("/api/settings").json()["needs_onboarding"] is False  # custom URL
        response = put(server, {"api_key": NEW_KEY})
        assert response.status_code == 200
        key = response.json()["api_key"]
        assert key == {
            "set": True,
            "last4": "1234",
            "source": "keychain",
            "storage": "keychain",
            "from_env": None,
            "for_host": f"127.0.0.1:{provider.port}",
            "for_origin": f"http://127.0.0.1:{provider.port}",
            "needs_key_for": None,
        }
        assert NEW_KEY not in response.text
        assert NEW_KEY in (tmp_path / "keyring.json").read_text()
        assert not (data_dir / "api_key").exists()
        for path in data_dir.rglob("*"):
            if path.is_file():
                assert NEW_KEY.encode() not in path.read_bytes(), path
        # and the model calls use it
        server.stream(
            "threads.create",
            input={
                "content": [{"type": "input_text", "text": "hi"}],
                "attachments": [],
                "inference_options": {},
            },
        )
        assert provider.chat_requests()[-1].headers["authorization"] == f"Bearer {NEW_KEY}"
        cleared = put(server, {"clear_api_key": True}).json()["api_key"]
        assert cleared["set"] is False
        assert NEW_KEY not in (tmp_path / "keyring.json").read_text()


def test_without_a_keychain_the_key_file_is_0600(
    data_dir: Path, provider: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    import keyring
    import keyring.backends.fail

    monkeypatch.setattr(
        keyring.core,
        "_keyring_backend",
        keyring.backends.fail.Keyring(),  # type: ignore[no-untyped-call]
    )
    with live_server(data_dir, {"OPENAI_BASE_URL": provider.base_url}) as server:
        key = put(server, {"api_key": NEW_KEY}).json()["api_key"]
        assert key["storage"] == "file" and key["source"] == "file" and key["last4"] == "1234"
        mode = stat.S_IMODE((data_dir / "api_key").stat().st_mode)
        assert mode == 0o600
        assert NEW_KEY not in (data_dir / "settings.json").read_text()


def test_env_key_wins_over_the_saved_one(data_dir: Path, provider: FakeProvider) -> None:
    env = {"OPENAI_BASE_URL": provider.base_url, "OPENAI_API_KEY": "sk-env-key-000000009999"}
    with live_server(data_dir, env) as server:
        view = put(server, {"api_key": NEW_KEY}).json()
        assert view["api_key"]["source"] == "env" and view["api_key"]["last4"] == "9999"
        server.stream(
            "threads.create",
            input={
                "content": [{"type": "input_text", "text": "hi"}],
                "attachments": [],
                "inference_options": {},
            },
        )
        assert (
            provider.chat_requests()[-1].headers["authorization"]
            == "Bearer sk-env-key-000000009999"
        )


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"base_url": "not a url"}, "base_url"),
        ({"base_url": "ftp://example.org"}, "base_url"),
        ({"model": "   "}, "model"),
        ({"api": "graphql"}, "api"),
        ({"theme": "purple"}, "theme"),
        ({"provider": "someone"}, "provider"),
        ({"request_timeout_s": -1}, "request_timeout_s"),
        ({"no_such_setting": 1}, "no_such_setting"),
    ],
)
def test_bad_values_are_refused_next_to_the_field(
    server: LiveServer, changes: dict[str, Any], field: str
) -> None:
    before = (server.data_dir / "settings.json").read_text()
    response = put(server, {"settings": {**changes, "system_prompt": "changed"}})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_settings" and field in error["fields"]
    # nothing was half-applied, and the file is still valid
    assert (server.data_dir / "settings.json").read_text() == before


def test_bad_key_is_refused(server: LiveServer) -> None:
    response = put(server, {"api_key": "two words"})
    assert response.status_code == 400 and "api_key" in response.json()["error"]["fields"]


def test_saved_settings_persist_and_apply(data_dir: Path, provider: FakeProvider) -> None:
    with live_server(data_dir, {"OPENAI_API_KEY": "sk-test-abcdefgh"}) as server:
        assert server.client.get("/api/settings").json()["settings"]["provider"] == "openai"
        view = put(
            server,
            {
                "settings": {
                    "provider": "custom",
                    "base_url": provider.base_url,
                    "api": "chat_completions",
                    "model": "fake-model-large",
                    "system_prompt": "Be brief.",
                    "theme": "dark",
                }
            },
        ).json()
        assert view["settings"]["model"] == "fake-model-large"
        events = server.stream(
            "threads.create",
            input={
                "content": [{"type": "input_text", "text": "hi"}],
                "attachments": [],
                "inference_options": {},
            },
        )
        assert not [e for e in events if e["type"] == "error"]
        request = provider.chat_requests()[-1]
        assert (
            request.path == "/v1/chat/completions" and request.body["model"] == "fake-model-large"
        )
        assert "Be brief." in json.dumps(request.body)
    with live_server(data_dir, {}) as server:
        settings = server.client.get("/api/settings").json()["settings"]
        assert (settings["theme"], settings["api"]) == ("dark", "chat_completions")


def test_onboarding_until_a_key_or_local_provider(data_dir: Path, provider: FakeProvider) -> None:
    with live_server(data_dir, {}) as server:
        assert server.client.get("/api/settings").json()["needs_onboarding"] is True
        view = put(
            server,
            {
                "settings": {
                    "provider": "ollama",
                    "base_url": "http://localhost:11434/v1",
                    "api": "chat_completions",
                }
            },
        ).json()
        assert view["needs_onboarding"] is False
        put(server, {"settings": {"provider": "openai", "base_url": "https://api.openai.com/v1"}})
        assert server.client.get("/api/settings").json()["needs_onboarding"] is True
        assert put(server, {"api_key": NEW_KEY}).json()["needs_onboarding"] is False


def test_test_connection_reports_success_and_precise_failures(
    data_dir: Path, provider: FakeProvider
) -> None:
    with live_server(data_dir, {"OPENAI_API_KEY": "sk-test-abcdefgh"}) as server:
        check_connection_tests(server, provider)


def check_connection_tests(server: LiveServer, provider: FakeProvider) -> None:
    def test(body: dict[str, Any]) -> Any:
        response = server.client.post("/api/settings/test", content=json.dumps(body))
        assert response.status_code == 200
        return response.json()

    ok = test(
        {"settings": {"provider": "custom", "base_url": provider.base_url, "model": "fake-model"}}
    )
    assert ok["ok"] and ok["models"] == ["fake-model", "fake-model-large"]
    assert ok["message"] == f"Connected to 127.0.0.1:{provider.port}: 2 models available."
    missing = test({"settings": {"base_url": provider.base_url, "model": "gpt-9"}})
    assert missing["ok"] and "The model 'gpt-9' is not among them." in missing["message"]
    provider.fail(Fault("status", status=401, models_list=True))
    rejected = test(
        {"settings": {"base_url": provider.base_url}, "api_key": "sk-wrong-key-00000000"}
    )
    assert not rejected["ok"] and "rejected the API key (401)" in rejected["message"]
    assert provider.requests[-1].headers["authorization"] == "Bearer sk-wrong-key-00000000"
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    down = test({"settings": {"base_url": f"http://127.0.0.1:{port}/v1"}})
    assert not down["ok"] and down["message"].startswith(f"Can't connect to 127.0.0.1:{port}")
    wrong_path = test({"settings": {"base_url": f"http://127.0.0.1:{provider.port}/nope"}})
    assert not wrong_path["ok"] and "Check the base URL" in wrong_path["message"]
    invalid = test({"settings": {"base_url": "localhost"}})
    assert not invalid["ok"] and "base_url" in invalid["fields"]


def test_models_list(server: LiveServer) -> None:
    response = server.client.get("/api/models")
    assert response.status_code == 200
    assert response.json()["models"] == ["fake-model", "fake-model-large"]
    # Shutdowns: none of these, but the table's models (Settings and assistants may name them).
    retiring = response.json()["retiring"]
    assert "fake-model" not in retiring and retiring["gpt-5-mini"]["replacement"] == "gpt-6.1-terra"


def test_page_errors_reach_the_log(server: LiveServer, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="desktop.page"):
        response = server.client.post(
            "/api/log",
            content=json.dumps(
                {"level": "error", "message": "chatkit.error: boom", "source": "chatkit"}
            ),
        )
    assert response.status_code == 204
    assert any("[chatkit] chatkit.error: boom" in r.getMessage() for r in caplog.records)
    assert server.client.post("/api/log", content=b"{bad").status_code == 400


def test_the_page_gets_presets_and_attachment_rules_from_the_server(server: LiveServer) -> None:
    from desktop.attachment_rules import ACCEPT, DEFAULT_MAX_BYTES, MAX_PER_MESSAGE
    from desktop.settings.config import PROVIDER_PRESETS

    view = server.client.get("/api/settings").json()
    assert view["presets"] == {
        name: {"base_url": url, "api": api} for name, (url, api) in PROVIDER_PRESETS.items()
    }
    assert view["attachments"] == {
        "max_bytes": DEFAULT_MAX_BYTES,
        "max_count": MAX_PER_MESSAGE,
        "accept": ACCEPT,
    }
