"""Issue 22, findings 7 and 8 in the page: a refused MCP edit says next to the secret fields that
they must be typed again, and Settings says which host needs its key, with the explicit choice to
use the saved key there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.mcp_helpers import stdio_entry, wait_for, write_config
from tests.support import hostile_config as hostile
from tests.support.browser import open_app, settings, shot
from tests.support.fake_provider import FakeProvider
from tests.support.live import live_server

pytestmark = pytest.mark.browser

SAVED_KEY = "sk-saved-BROWSERKEY-77665544"


def test_a_changed_command_asks_for_the_secrets_again(
    browser: Browser, data_dir: Path, env: dict[str, str], notes: Path
) -> None:
    settings(data_dir, chat_interface="builtin")
    write_config(data_dir, {"notes": stdio_entry(notes, env={"NOTES_TOKEN": "tok-very-secret"})})
    with live_server(data_dir, env) as server:
        wait_for(server, "notes")
        before = (data_dir / "mcp.json").read_text()
        page = open_app(browser, server)
        page.get_by_role("button", name="Settings").click()
        page.get_by_role("button", name="Edit notes").click()
        form = page.locator(".server-form")
        form.get_by_label("Command").fill("/bin/sh")
        form.get_by_role("button", name="Save server").click()
        env_error = form.locator("[data-error-for=env]")
        expect(env_error).to_contain_text("command changed")
        expect(env_error).to_contain_text("type NOTES_DIR, NOTES_PID_FILE, NOTES_TOKEN again")
        expect(form.locator("textarea[name=server-env]")).to_have_attribute("aria-invalid", "true")
        shot(page, "browser-mcp-retype-secrets.png")
        assert (data_dir / "mcp.json").read_text() == before
        assert "tok-very-secret" not in page.content()

        # Typed again, it saves, and the error goes.
        form.get_by_label("Environment (NAME=value per line; saved values show as dots)").fill(
            "NOTES_TOKEN=typed-again"
        )
        form.get_by_label("Command").fill(stdio_entry(notes)["command"])
        form.get_by_role("button", name="Save server").click()
        expect(form).to_be_hidden()
        stored = json.loads((data_dir / "mcp.json").read_text())["mcpServers"]["notes"]
        assert stored["env"] == {"NOTES_TOKEN": "typed-again"}


def test_settings_ask_for_the_key_of_a_new_host(
    browser: Browser, data_dir: Path, provider: FakeProvider
) -> None:
    other = FakeProvider().start()
    try:
        settings(data_dir, chat_interface="builtin", provider="custom", base_url=provider.base_url)
        settings(data_dir, api="chat_completions", model="fake-model")
        with live_server(data_dir, {}) as server:
            server.client.put("/api/settings", json={"api_key": SAVED_KEY})
            server.client.put("/api/settings", json=hostile.base_url_redirect(other.base_url))
            page = open_app(browser, server)
            host = f"127.0.0.1:{other.port}"
            expect(page.locator("#banner")).to_contain_text(f"Enter your key for {host}")
            page.get_by_role("button", name="Settings").click()
            status = page.locator("#key-status")
            expect(status).to_contain_text(f"Enter your key for {host}")
            expect(status).to_contain_text(f"is for 127.0.0.1:{provider.port}")
            choice = page.get_by_label(f"Use my saved key (…5544) with {host}")
            expect(choice).to_be_visible()
            shot(page, "browser-settings-key-for-new-host.png")
            assert SAVED_KEY not in "\n".join(
                r.headers.get("authorization", "") for r in other.requests
            )
            assert SAVED_KEY not in page.content()

            choice.check()
            page.get_by_role("button", name="Save", exact=True).click()
            expect(status).to_contain_text(f"saved in the system keychain for {host}")
            expect(choice).to_be_hidden()
            assert server.client.get("/api/models").status_code == 200
            assert other.requests[-1].headers["authorization"] == f"Bearer {SAVED_KEY}"
    finally:
        other.stop()


def test_the_saved_key_choice_is_offered_before_saving(
    browser: Browser, data_dir: Path, provider: FakeProvider
) -> None:
    """Typing another host's base URL offers the choice at once; Test connection sends the
    saved key there only when it is ticked, and nothing is saved by testing."""
    other = FakeProvider().start()
    try:
        settings(data_dir, chat_interface="builtin", provider="custom", base_url=provider.base_url)
        settings(data_dir, api="chat_completions", model="fake-model")
        with live_server(data_dir, {}) as server:
            server.client.put("/api/settings", json={"api_key": SAVED_KEY})
            before = (data_dir / "settings.json").read_text()
            page = open_app(browser, server)
            page.get_by_role("button", name="Settings").click()
            choice = page.locator("label.use-saved-key")
            expect(choice).to_be_hidden()

            base_url = page.get_by_label("Base URL", exact=True)
            base_url.fill(other.base_url)
            host = f"127.0.0.1:{other.port}"
            box = page.get_by_label(f"Use my saved key (…5544) with {host}")
            expect(box).to_be_visible()
            result = page.locator("#test-result")
            page.get_by_role("button", name="Test connection").click()
            expect(result).to_contain_text("Connected to")  # the fake needs no key
            assert other.requests and SAVED_KEY not in key_headers(other)

            box.check()
            count = len(other.requests)
            page.get_by_role("button", name="Test connection").click()
            expect(result).not_to_have_text("Testing…")
            assert other.requests[count:], "tested again"
            assert other.requests[-1].headers["authorization"] == f"Bearer {SAVED_KEY}"
            assert (data_dir / "settings.json").read_text() == before
            key = server.client.get("/api/settings").json()["api_key"]
            assert key["for_host"] == f"127.0.0.1:{provider.port}"

            # Back to the key's own address, the choice goes; another host asks afresh.
            base_url.fill(provider.base_url.replace("/v1", "/compat"))
            expect(choice).to_be_hidden()
            base_url.fill(f"http://localhost:{other.port}/v1")
            again = page.get_by_label(f"Use my saved key (…5544) with localhost:{other.port}")
            expect(again).to_be_visible()
            expect(again).not_to_be_checked()
    finally:
        other.stop()


def key_headers(fake: FakeProvider, since: int = 0) -> str:
    return "\n".join(r.headers.get("authorization", "") for r in fake.requests[since:])
