"""A model that shuts down, in a real browser: the composer's picker (both chat interfaces),
Settings and the assistant form say when, and one click switches to the replacement."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Route, expect

from desktop.chat.retirements import day_words
from tests.support.browser import CHATKIT_SCRIPT, open_app, send, settings, shot
from tests.support.fake_provider import FakeProvider
from tests.support.live import TOKEN, live_server

pytestmark = pytest.mark.browser

# The provider's own date (it wins over the table), a few days ahead of whenever this runs.
SHUTDOWN = date.today() + timedelta(days=5)
WHEN = day_words(SHUTDOWN)


def retiring_default(data_dir: Path, env: dict[str, str], provider: FakeProvider) -> dict[str, str]:
    """Settings' default is gpt-5-mini, which the provider says shuts down soon."""
    provider.models = ["fake-model", "gpt-5-mini", "gpt-6.1-terra"]
    provider.shutdown_dates = {"gpt-5-mini": SHUTDOWN.isoformat()}
    settings(data_dir, model="gpt-5-mini")
    return {k: v for k, v in env.items() if k != "CHATKIT_DESKTOP_MODEL"}


def test_the_picker_says_when_the_model_shuts_down_and_switches_in_one_click(
    browser: Browser, data_dir: Path, env: dict[str, str], provider: FakeProvider
) -> None:
    settings(data_dir, chat_interface="builtin")
    with live_server(data_dir, retiring_default(data_dir, env, provider)) as server:
        pirate = {"name": "Pirate", "instructions": "Arr.", "model": "gpt-5-mini", "tools": []}
        server.client.post("/api/assistants", content=json.dumps(pirate))
        provider.reply("An earlier answer.")
        server.create_thread("An earlier question")
        for width, height in ((1280, 800), (1000, 640)):
            page = open_app(browser, server, viewport={"width": width, "height": height})
            model = page.get_by_label("Model", exact=True)
            note = page.locator(".pickers .retiring")
            expect(note).to_have_text(f"gpt-5-mini shuts down on {WHEN}. Use gpt-6.1-terra")
            expect(model.locator("option:checked")).to_have_text("Default model (gpt-5-mini)")
            expect(model.locator("option[value='gpt-5-mini']")).to_have_text(
                f"gpt-5-mini · shuts down on {WHEN}"
            )
            shot(page, f"browser-model-retiring-{width}x{height}.png")
            if width == 1000:
                break
            page.context.close()
        page.get_by_role("button", name="Use gpt-6.1-terra").click()
        expect(model).to_have_value("gpt-6.1-terra")
        expect(note).to_be_hidden()
        provider.reply("Answered by the new model.")
        send(page, "Hello")
        expect(page.locator("article.assistant_message").last).to_contain_text("new model")
        assert provider.chat_requests()[-1].body["model"] == "gpt-6.1-terra"

        # Settings: the field says so too; one click saves the replacement as the default
        page.get_by_role("button", name="Settings").click()
        settings_note = page.locator("#settings-form .retiring")
        expect(settings_note).to_have_text(f"gpt-5-mini shuts down on {WHEN}. Use gpt-6.1-terra")
        options = page.locator("#model-list option[value='gpt-5-mini']")
        expect(options).to_have_attribute("label", f"gpt-5-mini · shuts down on {WHEN}")
        expect(page.get_by_role("list", name="Assistants")).to_contain_text(
            f"gpt-5-mini · shuts down on {WHEN}"
        )
        settings_note.evaluate("note => note.scrollIntoView({ block: 'center' })")
        shot(page, "browser-model-retiring-settings-1000x640.png")
        settings_note.get_by_role("button", name="Use gpt-6.1-terra").click()
        expect(page.locator("#model")).to_have_value("gpt-6.1-terra")
        expect(settings_note).to_be_hidden()
        assert server.client.get("/api/settings").json()["settings"]["model"] == "gpt-6.1-terra"
        # the assistant's row: one click too
        page.get_by_role("button", name="Switch Pirate to gpt-6.1-terra").click()
        expect(page.get_by_role("list", name="Assistants")).not_to_contain_text("shuts down")
        (saved,) = [
            a
            for a in server.client.get("/api/assistants").json()["assistants"]
            if a["name"] == "Pirate"
        ]
        assert saved["model"] == "gpt-6.1-terra"
        # the assistant form says so for a name typed in
        page.get_by_role("button", name="New assistant").click()
        form = page.get_by_role("form", name="Edit assistant")
        form.locator("input[name=assistant-model]").fill("gpt-4o")
        expect(form.locator(".retiring")).to_contain_text("gpt-4o shuts down on 14 Jan 2027")
        expect(form.get_by_role("button", name="Use gpt-6-luna")).to_be_visible()


CHATKIT_DOUBLE = """
class ChatKitDouble extends HTMLElement {
  setOptions(options) { window.__chatkitOptions = options; }
  setThreadId(id) {}
  setComposerValue(value) {}
}
customElements.define("openai-chatkit", ChatKitDouble);
"""


def test_chatkits_model_picker_says_when_and_names_the_replacement(
    browser: Browser, data_dir: Path, env: dict[str, str], provider: FakeProvider
) -> None:
    settings(data_dir, chat_interface="chatkit", domain_key="domain_pk_test")
    with live_server(data_dir, retiring_default(data_dir, env, provider)) as server:
        context = browser.new_context()

        def serve_double(route: Route) -> None:
            route.fulfill(status=200, content_type="text/javascript", body=CHATKIT_DOUBLE)

        context.route(CHATKIT_SCRIPT, serve_double)
        page = context.new_page()
        page.goto(f"{server.url}/?token={TOKEN}")
        expect(page.locator("body")).to_have_attribute("data-chat", "chatkit")
        models = page.evaluate("() => window.__chatkitOptions.composer.models")
        assert models == [
            {"id": "fake-model", "label": "fake-model", "default": False},
            {
                "id": "gpt-5-mini",
                "label": f"gpt-5-mini (shuts down on {WHEN})",
                "default": True,
                "description": f"Shuts down on {WHEN}; switch to gpt-6.1-terra",
            },
            {
                "id": "gpt-6.1-terra",
                "label": "gpt-6.1-terra",
                "default": False,
                "description": "Replaces gpt-5-mini",
            },
        ]
        context.close()
