"""Issue 22, findings 7 and 8: saved secrets stay with the destination they were saved for.

A masked MCP header or env value is kept only while the server's url (or its command, args and
folder) is unchanged; the saved API key goes only to the origin it was saved for. Each test
performs the attack against a live server and loopback receivers that record what reaches them.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from desktop.settings.keys import KEYRING_SERVICE, KeyStore, origin_of
from desktop.settings.service import SettingsService
from desktop.shell.logs import setup_logging
from tests.mcp_helpers import wait_for, write_config
from tests.support import hostile_config as hostile
from tests.support.fake_provider import FakeProvider, Fault
from tests.support.live import LiveServer, live_server, user_input

MCP_SECRET = "mcp-SECRET-token-5f3a9c"
SAVED_KEY = "sk-saved-BOUNDKEY-0011223344"
MARKER = "CHILD-STDERR-MARKER-81d2"


@contextmanager
def main_log(log_dir: Path) -> Iterator[Path]:
    """The app's main log, as the launch sets it up, with no masking: whatever reaches it shows."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    path = setup_logging(log_dir, debug=False, secrets=lambda: ())
    try:
        yield path
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)


def wait_until(condition: Any, what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.05)


def put_server(server: LiveServer, name: str, body: dict[str, Any]) -> Any:
    return server.client.put(f"/api/mcp/servers/{name}", content=json.dumps(body))


def saved_entry(data_dir: Path, name: str) -> dict[str, Any]:
    entry: dict[str, Any] = json.loads((data_dir / "mcp.json").read_text())["mcpServers"][name]
    return entry


def files_text(folder: Path) -> bytes:
    return b"\n".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


# ---------------------------------------------------------------- 7: MCP secrets


def test_masked_headers_never_follow_a_changed_url(data_dir: Path, tmp_path: Path) -> None:
    remote = hostile.remote_entry("http://placeholder/mcp", MCP_SECRET)
    with (
        hostile.receiver() as home,
        hostile.receiver() as elsewhere,
        main_log(tmp_path / "logs") as log_file,
    ):
        remote["url"] = home.url
        write_config(data_dir, {"remote": remote})
        with live_server(data_dir, {}) as server:
            assert home.wait_beyond(0), "the saved server is contacted"
            assert f"Bearer {MCP_SECRET}" in home.headers_text()
            before = (data_dir / "mcp.json").read_text()

            for body in (
                hostile.redirected_url_edit(remote, elsewhere.url),
                hostile.renamed_redirect_edit(remote, "remote", elsewhere.url),
            ):
                name = "moved" if body.get("rename_from") else "remote"
                response = put_server(server, name, body)
                assert response.status_code == 400, response.text
                error = response.json()["error"]
                assert error["code"] == "retype_secrets"
                assert "url changed" in error["message"] and "Authorization" in error["message"]
                assert set(error["fields"]) == {"headers"}
                assert (data_dir / "mcp.json").read_text() == before

            # Unchanged url: the masked value keeps the saved secret.
            seen = home.count()
            kept = put_server(
                server, "remote", {"entry": {**hostile.masked(remote), "timeout": 30}}
            )
            assert kept.status_code == 200, kept.text
            assert saved_entry(data_dir, "remote")["headers"]["Authorization"] == (
                f"Bearer {MCP_SECRET}"
            )
            assert home.wait_beyond(seen), "the edited server reconnects"
            assert f"Bearer {MCP_SECRET}" in home.headers_text(seen)

            # Typed again, the new url gets what was typed and never the saved secret.
            typed = {"url": elsewhere.url, "headers": {"Authorization": "Bearer typed-anew"}}
            assert put_server(server, "remote", {"entry": typed}).status_code == 200
            assert elsewhere.wait_beyond(0)
            assert "Bearer typed-anew" in elsewhere.headers_text()
            assert MCP_SECRET not in elsewhere.headers_text()
            assert MCP_SECRET not in server.client.get("/api/mcp").text
        assert MCP_SECRET not in log_file.read_text()


def test_masked_url_password_never_follows_another_host(data_dir: Path, tmp_path: Path) -> None:
    with hostile.receiver() as home, hostile.receiver() as elsewhere:
        entry = hostile.credentials_in_url_entry(f"127.0.0.1:{home.port}", "me", MCP_SECRET)
        write_config(data_dir, {"remote": entry})
        with live_server(data_dir, {}) as server:
            shown = wait_for(server, "remote", ("failed",))
            assert home.count() and MCP_SECRET not in json.dumps(shown)
            shown = server.client.get("/api/mcp").json()["servers"][0]
            assert MCP_SECRET not in json.dumps(shown)
            body = hostile.url_credentials_edit(f"127.0.0.1:{elsewhere.port}")
            response = put_server(server, "remote", body)
            assert response.status_code == 400 and "url" in response.json()["error"]["fields"]
            same = put_server(server, "remote", {"entry": {"url": shown["url"], "timeout": 9}})
            assert same.status_code == 200, same.text
            assert saved_entry(data_dir, "remote")["url"] == entry["url"]
        assert elsewhere.count() == 0


def test_masked_env_never_reaches_another_program(data_dir: Path, tmp_path: Path) -> None:
    program = hostile.stdio_entry(MCP_SECRET)
    other_dir = tmp_path / "elsewhere"
    other_dir.mkdir()
    leak = ["-c", f"import os, sys; print({MARKER!r}, os.environ, file=sys.stderr); sys.exit(3)"]
    with main_log(tmp_path / "logs") as log_file:
        write_config(data_dir, {"program": program})
        with live_server(data_dir, {}) as server:
            wait_for(server, "program")
            before = (data_dir / "mcp.json").read_text()
            for body, changed in (
                (hostile.changed_command_edit(program, "/bin/sh", ["-c", "env >&2"]), "command"),
                (hostile.changed_args_edit(program, leak), "args"),
                (hostile.changed_cwd_edit(program, str(other_dir)), "cwd"),
                (hostile.unknown_mask_edit(program), None),
            ):
                response = put_server(server, "program", body)
                assert response.status_code == 400, response.text
                error = response.json()["error"]
                assert error["code"] == "retype_secrets" and "env" in error["fields"]
                if changed:
                    assert changed in error["message"].partition(" changed")[0]
                assert (data_dir / "mcp.json").read_text() == before
            fresh = put_server(server, "fresh", {"entry": hostile.masked(program)})
            assert fresh.status_code == 400 and "no saved value" in fresh.text

            same = {"entry": {**hostile.masked(program), "timeout": 45}}
            assert put_server(server, "program", same).status_code == 200
            assert saved_entry(data_dir, "program")["env"]["API_TOKEN"] == MCP_SECRET
            wait_for(server, "program")

            # A program the user gave the secret to prints it: the per-server output and
            # Settings may show it, the app's main log gets neither its output nor the secret.
            leaky = hostile.stderr_leaking_entry(MCP_SECRET, MARKER)
            assert put_server(server, "leaky", {"entry": leaky}).status_code == 200
            shown = wait_for(server, "leaky", ("failed",))
            assert MARKER in shown["stderr"]
            wait_until(lambda: "'leaky' failed" in log_file.read_text(), "the failure is logged")
            assert MCP_SECRET not in server.client.get("/api/settings").text
    logged = log_file.read_text()
    assert MARKER not in logged and MCP_SECRET not in logged
    assert "leaky.stderr.log" in logged  # it says where the output is instead


# ---------------------------------------------------------------- 8: the saved API key


def key_headers(fake: FakeProvider, since: int = 0) -> str:
    return "\n".join(r.headers.get("authorization", "") for r in fake.requests[since:])


def test_saved_key_never_follows_a_new_base_url(
    data_dir: Path, provider: FakeProvider, tmp_path: Path
) -> None:
    other = FakeProvider().start()
    try:
        with main_log(tmp_path / "logs") as log_file, live_server(data_dir, {}) as server:
            seen: list[str] = []

            def put(body: dict[str, Any]) -> dict[str, Any]:
                response = server.client.put("/api/settings", content=json.dumps(body))
                seen.append(response.text)
                assert response.status_code == 200, response.text
                view: dict[str, Any] = response.json()
                return view

            home = {"provider": "custom", "base_url": provider.base_url, "model": "fake-model"}
            put({"api_key": SAVED_KEY, "settings": {**home, "api": "chat_completions"}})
            assert server.client.get("/api/models").status_code == 200
            assert provider.requests[-1].headers["authorization"] == f"Bearer {SAVED_KEY}"

            view = put(hostile.base_url_redirect(other.base_url))
            seen.append(server.client.get("/api/models").text)
            seen.append(server.client.post("/api/settings/test", content=b"{}").text)
            events = server.stream("threads.create", input=user_input("hello"))
            seen.append(json.dumps(events))
            assert other.requests, "the new host was asked"
            assert SAVED_KEY not in key_headers(other)
            # Settings says which host the key is for, and which one needs its key.
            assert view["api_key"]["set"] is True
            assert view["api_key"]["for_host"] == f"127.0.0.1:{provider.port}"
            assert view["api_key"]["needs_key_for"] == f"127.0.0.1:{other.port}"

            # The new host refusing keyless requests: the message says what to do.
            other.fail(Fault("status", status=401, models_list=True))
            refused = server.client.get("/api/models")
            seen.append(refused.text)
            message = refused.json()["error"]["message"]
            hint = (
                f"Your API key is for 127.0.0.1:{provider.port}, so it was not sent to "
                f"127.0.0.1:{other.port}. Enter the key for 127.0.0.1:{other.port} in Settings, "
                "or choose there to use your key with it."
            )
            assert message.endswith(" " + hint)
            other.fail(Fault("status", status=401))
            events = server.stream("threads.create", input=user_input("hello again"))
            seen.append(json.dumps(events))
            (error,) = [e for e in events if e["type"] == "error"]
            assert error["message"] == f"127.0.0.1:{other.port} needs an API key. {hint}"

            # Other spellings of another origin (localhost is another origin than 127.0.0.1,
            # though it reaches the same server here): the same.
            count = len(provider.requests)
            for body in hostile.key_redirects(provider.base_url, f"127.0.0.1:{other.port}"):
                put(body)
                seen.append(server.client.get("/api/models").text)
            assert len(provider.requests) > count, "localhost reached the saved host's server"
            assert SAVED_KEY not in key_headers(other) + key_headers(provider, since=count)

            # Back home it goes again, and to another path on the saved origin too.
            put(hostile.base_url_redirect(provider.base_url))
            server.client.get("/api/models")
            assert provider.requests[-1].headers["authorization"] == f"Bearer {SAVED_KEY}"
            view = put(hostile.same_origin_other_path(provider.base_url))
            assert view["api_key"]["needs_key_for"] is None

            # The explicit opt-in moves the key to the new host, and away from the old one.
            view = put(hostile.rebind_with_opt_in(other.base_url))
            assert view["api_key"]["for_host"] == f"127.0.0.1:{other.port}"
            assert view["api_key"]["needs_key_for"] is None
            assert server.client.get("/api/models").status_code == 200
            assert other.requests[-1].headers["authorization"] == f"Bearer {SAVED_KEY}"
            put(hostile.base_url_redirect(provider.base_url))
            count = len(provider.requests)
            server.client.get("/api/models")
            assert provider.requests[count:], "the old host was asked"
            assert SAVED_KEY not in key_headers(provider, since=count)
        for text in seen:
            assert SAVED_KEY not in text
        assert SAVED_KEY.encode() not in files_text(data_dir)
        assert SAVED_KEY not in log_file.read_text()
    finally:
        other.stop()


def test_a_typed_key_is_bound_to_the_address_saved_with_it(
    data_dir: Path, provider: FakeProvider
) -> None:
    other = FakeProvider().start()
    try:
        with live_server(data_dir, {}) as server:
            server.client.put("/api/settings", json={"api_key": SAVED_KEY})
            body = {**hostile.base_url_redirect(other.base_url), "api_key": "sk-other-KEY-9999"}
            view = server.client.put("/api/settings", json=body).json()
            assert view["api_key"]["for_host"] == f"127.0.0.1:{other.port}"
            server.client.get("/api/models")
            assert other.requests[-1].headers["authorization"] == "Bearer sk-other-KEY-9999"
            cleared = server.client.put("/api/settings", json={"clear_api_key": True})
            assert cleared.status_code == 200
            nothing = server.client.put("/api/settings", json={"use_saved_key": True})
            assert (
                nothing.status_code == 400 and "use_saved_key" in nothing.json()["error"]["fields"]
            )
    finally:
        other.stop()


def test_a_key_saved_before_binding_is_bound_to_the_address_in_use(
    data_dir: Path, provider: FakeProvider, tmp_path: Path
) -> None:
    other = FakeProvider().start()
    try:
        settings = json.loads((data_dir / "settings.json").read_text())
        settings |= {"provider": "custom", "base_url": provider.base_url}
        (data_dir / "settings.json").write_text(json.dumps(settings))
        # What an older version saved: the bare key in the keychain.
        keyring_file = tmp_path / "keyring.json"
        keyring_file.write_text(json.dumps({f"{KEYRING_SERVICE}/{data_dir}": SAVED_KEY}))
        with live_server(data_dir, {}) as server:
            server.client.get("/api/models")
            assert provider.requests[-1].headers["authorization"] == f"Bearer {SAVED_KEY}"
            record = json.loads(
                json.loads(keyring_file.read_text())[f"{KEYRING_SERVICE}/{data_dir}"]
            )
            assert record == {"key": SAVED_KEY, "origin": origin_of(provider.base_url)}
            server.client.put("/api/settings", json=hostile.base_url_redirect(other.base_url))
            server.client.get("/api/models")
            assert SAVED_KEY not in key_headers(other)
    finally:
        other.stop()


def test_a_restored_settings_file_cannot_rebind_the_key(tmp_path: Path) -> None:
    """A backup's settings.json (or one edited by another program) points elsewhere: the key
    stays with its origin, which lives with the key and not in the file."""
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"provider": "custom", "base_url": "http://127.0.0.1:9/v1"}))
    keys = KeyStore(tmp_path, use_keychain=False)
    service = SettingsService(path, {}, keys)
    service.save({}, api_key=SAVED_KEY)
    assert service.key() == SAVED_KEY
    path.write_text(json.dumps({"base_url": "https://evil.example/v1", "api_key_origin": "x"}))
    service.reload()
    assert service.key() is None and service.provider_config().api_key is None
    assert service.withheld_for() == "127.0.0.1:9"
    assert service.provider_config().key_withheld_for == "127.0.0.1:9"
    assert SAVED_KEY not in path.read_text()


def test_environment_key_and_url_stay_paired(data_dir: Path, provider: FakeProvider) -> None:
    env_key = "sk-env-PAIRED-key-5555"
    env = {"OPENAI_API_KEY": env_key, "OPENAI_BASE_URL": provider.base_url}
    with live_server(data_dir, env) as server:
        server.client.put("/api/settings", json={"api_key": SAVED_KEY})
        server.client.put("/api/settings", json=hostile.base_url_redirect("http://127.0.0.1:9/v1"))
        assert server.client.get("/api/models").status_code == 200
        assert provider.requests[-1].headers["authorization"] == f"Bearer {env_key}"
        view = server.client.get("/api/settings").json()["api_key"]
        assert view["source"] == "env" and view["needs_key_for"] is None


@pytest.mark.parametrize(
    "url,origin",
    [
        ("https://api.openai.com/v1", "https://api.openai.com:443"),
        ("https://API.OpenAI.com:443/other", "https://api.openai.com:443"),
        ("http://localhost:11434/v1", "http://localhost:11434"),
        ("http://[::1]:8080/v1", "http://[::1]:8080"),
        ("http://user:pw@example.com/v1", "http://example.com:80"),
    ],
)
def test_origins(url: str, origin: str) -> None:
    assert origin_of(url) == origin


# ---------------------------------------------------------------- review of 7 and 8

ENV_KEY = "sk-env-LAUNCHKEY-99887766"


def provider_settings(data_dir: Path, base_url: str) -> None:
    settings = json.loads((data_dir / "settings.json").read_text())
    settings |= {"provider": "custom", "base_url": base_url, "model": "fake-model"}
    (data_dir / "settings.json").write_text(json.dumps(settings | {"api": "chat_completions"}))


def test_the_environment_key_stays_with_the_origin_of_launch(
    data_dir: Path, provider: FakeProvider
) -> None:
    """OPENAI_API_KEY without OPENAI_BASE_URL is for the base URL in force at launch: a saved
    base_url elsewhere doesn't take it along, unless the user chooses to use it there."""
    other = FakeProvider().start()
    try:
        provider_settings(data_dir, provider.base_url)
        with live_server(data_dir, {"OPENAI_API_KEY": ENV_KEY}) as server:
            assert server.client.get("/api/models").status_code == 200
            assert provider.requests[-1].headers["authorization"] == f"Bearer {ENV_KEY}"

            redirect = hostile.base_url_redirect(other.base_url)
            view = server.client.put("/api/settings", json=redirect).json()["api_key"]
            assert view["source"] == "env" and view["needs_key_for"] == f"127.0.0.1:{other.port}"
            assert view["for_host"] == f"127.0.0.1:{provider.port}"
            server.client.get("/api/models")
            server.stream("threads.create", input=user_input("hello"))
            test = {"settings": {"base_url": f"http://localhost:{other.port}/v1"}}
            server.client.post("/api/settings/test", json=test)
            assert len(other.requests) >= 3, "the new host was asked"
            assert ENV_KEY not in key_headers(other)

            # The user's explicit choice: OPENAI_API_KEY goes there too, for this run.
            view = server.client.put("/api/settings", json={"use_saved_key": True}).json()
            assert view["api_key"]["needs_key_for"] is None
            server.client.get("/api/models")
            assert other.requests[-1].headers["authorization"] == f"Bearer {ENV_KEY}"
            count = len(other.requests)
            third = hostile.base_url_redirect(f"http://localhost:{other.port}/v1")
            server.client.put("/api/settings", json=third)
            server.client.get("/api/models")
            assert len(other.requests) > count and ENV_KEY not in key_headers(other, count)
    finally:
        other.stop()


def test_a_saved_or_restored_base_url_withholds_the_environment_key(tmp_path: Path) -> None:
    path, keys = tmp_path / "settings.json", KeyStore(tmp_path, use_keychain=False)
    service = SettingsService(path, {"OPENAI_API_KEY": "sk-env"}, keys)
    assert service.provider_config().api_key == "sk-env"  # OpenAI's default address
    service.save({"base_url": "https://evil.example/v1"})
    cfg = service.provider_config()
    assert cfg.api_key is None and cfg.key_withheld_for == "api.openai.com"
    assert service.key_for("https://evil.example/v1", use_saved_key=True) == "sk-env"
    service.save({"base_url": "https://api.openai.com/v1"})
    assert service.provider_config().api_key == "sk-env"
    path.write_text(json.dumps({"base_url": "https://evil.example/v1"}))  # a restored file
    service.reload()
    assert service.provider_config().api_key is None
    # With OPENAI_BASE_URL, the pair goes together and no saved base_url moves it.
    paired = {"OPENAI_API_KEY": "sk-env", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    service = SettingsService(path, paired, keys)
    service.save({"base_url": "https://evil.example/v2"})
    assert service.provider_config().api_key == "sk-env"
    assert service.provider_config().base_url == "http://127.0.0.1:9/v1"


def test_a_legacy_key_that_cannot_be_bound_stays_with_its_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Writing the binding fails (a keychain that won't write): the key is bound in memory all
    the same, so the next base URL doesn't get it."""
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"provider": "custom", "base_url": "http://127.0.0.1:9/v1"}))
    (tmp_path / "api_key").write_text(SAVED_KEY)  # what an older version saved

    def refuse(self: Any, key: str) -> None:
        raise OSError("read-only")

    monkeypatch.setattr("desktop.settings.keys.KeyFile.set", refuse)
    service = SettingsService(path, {}, KeyStore(tmp_path, use_keychain=False))
    assert service.key() == SAVED_KEY
    assert "binding the saved key failed" in caplog.text
    service.save({"base_url": "https://evil.example/v1"})
    assert service.provider_config().api_key is None
    assert service.withheld_for() == "127.0.0.1:9"
    assert (tmp_path / "api_key").read_text() == SAVED_KEY  # unbound on disk, bound in memory


def test_a_legacy_key_binds_to_the_saved_base_url_not_a_launch_override(
    data_dir: Path, provider: FakeProvider, tmp_path: Path
) -> None:
    """A one-off launch with OPENAI_BASE_URL (a proxy) doesn't bind an older key to the proxy
    for good: it is bound to the base URL the user saved."""
    proxy = FakeProvider().start()
    try:
        provider_settings(data_dir, provider.base_url)
        account = f"{KEYRING_SERVICE}/{data_dir}"
        keyring_file = tmp_path / "keyring.json"
        keyring_file.write_text(json.dumps({account: SAVED_KEY}))
        with live_server(data_dir, {"OPENAI_BASE_URL": proxy.base_url}) as server:
            view = server.client.get("/api/settings").json()["api_key"]
            assert view["for_host"] == f"127.0.0.1:{provider.port}"
            server.client.get("/api/models")
            assert proxy.requests and SAVED_KEY not in key_headers(proxy)
        record = json.loads(json.loads(keyring_file.read_text())[account])
        assert record == {"key": SAVED_KEY, "origin": origin_of(provider.base_url)}
        with live_server(data_dir, {}) as server:
            server.client.get("/api/models")
            assert provider.requests[-1].headers["authorization"] == f"Bearer {SAVED_KEY}"
    finally:
        proxy.stop()


def test_a_typed_loader_variable_is_a_new_destination(data_dir: Path, tmp_path: Path) -> None:
    """PYTHONPATH (or PATH, NODE_OPTIONS, LD_PRELOAD...) typed anew decides what the program runs:
    a sitecustomize.py there would read the masked secrets, so they are not kept."""
    program = hostile.stdio_entry(MCP_SECRET)
    planted, stolen = tmp_path / "planted", tmp_path / "stolen.txt"
    planted.mkdir()
    (planted / "sitecustomize.py").write_text(
        f"import os, pathlib\npathlib.Path({str(stolen)!r}).write_text(os.environ['API_TOKEN'])\n"
    )
    write_config(data_dir, {"program": program})
    with live_server(data_dir, {}) as server:
        wait_for(server, "program")
        before = (data_dir / "mcp.json").read_text()
        response = put_server(server, "program", hostile.launch_env_edit(program, str(planted)))
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "retype_secrets" and "env" in error["fields"]
        assert error["message"].startswith("The PYTHONPATH changed")
        assert (data_dir / "mcp.json").read_text() == before
    assert not stolen.exists()


WEBVIEW_DEBUG = """
import logging, sys
from pathlib import Path
from desktop.shell.logs import setup_logging

token = sys.argv[2]
setup_logging(Path(sys.argv[1]), debug=True, secrets=lambda: (token,))
import webview  # its logger prints to a stderr handler of its own

logging.getLogger("pywebview").setLevel(logging.DEBUG)  # as webview.start(debug=True) does
# pywebview's own line when the window opens the sign-in URL
logging.getLogger("pywebview").debug(f"Loading URL: http://127.0.0.1:1/?token={token}")
"""


def test_the_window_toolkit_log_masks_the_sign_in_token(tmp_path: Path) -> None:
    token = "tok-SIGNIN-secret-73c1e0aa"
    result = subprocess.run(
        [sys.executable, "-c", WEBVIEW_DEBUG, str(tmp_path / "logs"), token],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "[pywebview] Loading URL: http://127.0.0.1:1/?token=[secret]" in result.stderr
    assert token not in result.stderr + result.stdout + files_text(tmp_path / "logs").decode()
