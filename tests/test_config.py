"""Settings precedence: defaults, then the settings file, then environment variables."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from desktop.errors import ConfigError
from desktop.paths import resolve_paths
from desktop.settings.config import (
    Settings,
    apply_env,
    load_settings,
    provider_config,
    save_settings,
)
from desktop.settings.keys import KeyStore
from desktop.settings.service import SettingsService


def test_defaults_then_file_then_env(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    assert load_settings(path) == Settings()
    save_settings(
        path, Settings(base_url="http://localhost:11434/v1", model="llama3", api="chat_completions")
    )
    from_file = load_settings(path)
    assert (from_file.base_url, from_file.model, from_file.api) == (
        "http://localhost:11434/v1",
        "llama3",
        "chat_completions",
    )
    merged = apply_env(
        from_file, {"CHATKIT_DESKTOP_MODEL": "qwen", "OPENAI_BASE_URL": "http://127.0.0.1:1234/v1/"}
    )
    assert (merged.base_url, merged.model, merged.api) == (
        "http://127.0.0.1:1234/v1",
        "qwen",
        "chat_completions",
    )
    assert apply_env(from_file, {"CHATKIT_DESKTOP_API": "responses"}).api == "responses"


@pytest.mark.parametrize(
    "env,name",
    [
        ({"CHATKIT_DESKTOP_API": "graphql"}, "CHATKIT_DESKTOP_API"),
        ({"OPENAI_BASE_URL": "ftp://x"}, "OPENAI_BASE_URL"),
        ({"CHATKIT_DESKTOP_MODEL": "   "}, "CHATKIT_DESKTOP_MODEL"),
    ],
)
def test_invalid_env_is_a_clear_error(env: dict[str, str], name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        apply_env(Settings(), env)


@pytest.mark.parametrize(
    "content", ["{not json", '{"base_url": "not a url"}', '{"model": ""}', "[]"]
)
def test_corrupt_settings_file_is_kept_aside_and_defaults_used(
    tmp_path: Path, content: str
) -> None:
    path = tmp_path / "settings.json"
    path.write_text(content)
    assert load_settings(path) == Settings()
    backups = list(tmp_path.glob("settings.json.corrupt-*"))
    assert len(backups) == 1 and backups[0].read_text() == content
    save_settings(path, Settings(model="m"))
    assert json.loads(path.read_text())["model"] == "m"


def test_key_lookup_order_and_file_mode(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path, use_keychain=False)
    path = tmp_path / "settings.json"
    assert SettingsService(path, {}, keys).key() is None
    keys.set("sk-from-file-1234", Settings().base_url)
    assert stat.S_IMODE(os.stat(tmp_path / "api_key").st_mode) == 0o600
    assert SettingsService(path, {}, keys).key() == "sk-from-file-1234"
    env = {"OPENAI_API_KEY": "sk-from-env"}
    assert SettingsService(path, env, keys).key() == "sk-from-env"
    cfg = provider_config(Settings(), keys.get())
    assert "sk-from-file" not in repr(cfg)
    keys.clear()
    assert KeyStore(tmp_path, use_keychain=False).get() is None


def test_one_data_dir_function(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    default = resolve_paths()
    assert default.data.name == "chatkit-desktop" and str(default.data).startswith(
        os.environ["HOME"]
    )
    monkeypatch.setenv("CHATKIT_DESKTOP_DATA_DIR", str(tmp_path / "env"))
    assert resolve_paths().db == tmp_path / "env" / "chats.db"
    assert resolve_paths(tmp_path / "flag").db == tmp_path / "flag" / "chats.db"
    assert resolve_paths(tmp_path / "flag").logs == tmp_path / "flag" / "logs"


def test_the_key_store_keeps_the_origin_with_the_key(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path, use_keychain=False)
    keys.set("sk-file-key-1234", "https://API.openai.com/v1")
    reread = KeyStore(tmp_path, use_keychain=False)
    assert reread.record() == ("sk-file-key-1234", "https://api.openai.com:443")
    assert reread.get() == "sk-file-key-1234" and reread.peek() == "sk-file-key-1234"
    assert stat.S_IMODE(os.stat(tmp_path / "api_key").st_mode) == 0o600
    reread.bind("http://localhost:11434/v1")
    assert KeyStore(tmp_path, use_keychain=False).record()[1] == "http://localhost:11434"
    # What older versions saved: the bare key, not yet bound to an origin.
    (tmp_path / "api_key").write_text("sk-legacy-key-5678")
    assert KeyStore(tmp_path, use_keychain=False).record() == ("sk-legacy-key-5678", None)
