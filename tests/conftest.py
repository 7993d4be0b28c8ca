from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import keyring.core
import pytest

from desktop import env as env_names
from tests.support.fake_provider import FakeProvider
from tests.support.live import API_KEY, LiveServer, live_server


@pytest.fixture(autouse=True)
def _isolated_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test ever reads or writes the real user's profile, keys or network settings."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local/share"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local/state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    # The "system keychain" in tests is a file-backed keyring in the temp dir.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "tests.support.file_keyring.FileKeyring")
    monkeypatch.setenv("CHATKIT_TEST_KEYRING_FILE", str(tmp_path / "keyring.json"))
    monkeypatch.setattr(keyring.core, "_keyring_backend", None)
    keyring.core.init_backend()
    for name in env_names.ALL:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    fake = FakeProvider().start()
    yield fake
    fake.stop()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    # No client-side retries: each injected fault must reach the chat exactly once.
    (path / "settings.json").write_text(json.dumps({"max_retries": 0, "request_timeout_s": 10}))
    return path


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    """The folder the test MCP server (tests/support/mcp_server.py) writes its notes into."""
    folder = tmp_path / "notes"
    folder.mkdir()
    return folder


@pytest.fixture(params=["responses", "chat_completions"])
def api(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def env(provider: FakeProvider, api: str) -> dict[str, str]:
    return {
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": provider.base_url,
        "CHATKIT_DESKTOP_MODEL": "fake-model",
        "CHATKIT_DESKTOP_API": api,
    }


@pytest.fixture
def server(data_dir: Path, env: dict[str, str]) -> Iterator[LiveServer]:
    with live_server(data_dir, env) as live:
        yield live
