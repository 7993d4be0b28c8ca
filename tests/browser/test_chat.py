"""The page in a real browser: Debian's Chromium driven by Playwright, against the real server
and the fake provider. Screenshots land in artifacts/ for people to look at."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest
from chatkit.types import WidgetItem
from playwright.sync_api import Browser, Route, expect

from desktop.context import RequestContext
from tests.support.browser import CHATKIT_SCRIPT, open_app, send, settings, shot
from tests.support.fake_provider import FakeProvider, Fault
from tests.support.live import TOKEN, LiveServer, live_server, user_input

pytestmark = pytest.mark.browser


def test_send_streams_and_persists_after_reload(
    browser: Browser, server: LiveServer, provider: FakeProvider
) -> None:
    provider.reply(
        "Here is **bold** text and code:\n\n```python\nprint('hi')\n```\n\nand math $x^2$."
    )
    page = open_app(browser, server)
    expect(page.get_by_text("What can I help with?")).to_be_visible()
    shot(page, "browser-start.png")
    send(page, "Show me formatting")
    assistant = page.locator("article.assistant_message").last
    expect(assistant.locator("strong")).to_have_text("bold")
    expect(assistant.locator("pre code")).to_contain_text("print")
    expect(assistant.locator(".katex")).to_have_count(1)
    expect(page.get_by_role("button", name="Fake title", exact=True)).to_be_visible()
    shot(page, "browser-conversation.png")
    assistant.get_by_role("button", name="Good reply").click()
    expect(assistant.get_by_role("button", name="Good reply")).to_have_attribute(
        "aria-pressed", "true"
    )
    thread_id = server.call("threads.list", limit=1)["data"][0]["id"]
    with ThreadPoolExecutor(1) as pool:
        feedback = pool.submit(asyncio.run, server.store.feedback.load(thread_id)).result()
    assert list(feedback.values()) == ["positive"]
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    page.get_by_role("button", name="Fake title", exact=True).click()
    expect(page.locator("article.user_message")).to_have_text("Show me formatting")
    expect(page.locator("article.assistant_message strong")).to_have_text("bold")


def test_a_title_that_lands_after_the_reply_shows_without_a_reload(
    browser: Browser, server: LiveServer, provider: FakeProvider
) -> None:
    # Slower than the moment the end of a reply waits for a title, as a local model often is:
    # the title is saved on its own after the stream has ended.
    provider.title_delay_s = 3
    provider.reply("Quick answer")
    page = open_app(browser, server)
    send(page, "a question")
    expect(page.locator("article.assistant_message")).to_contain_text("Quick answer")
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    expect(page.locator(".thread-title")).to_have_text(["Fake title"], timeout=20_000)
    assert page.locator(".thread-title").get_attribute("aria-current") == "true"
    shot(page, "browser-late-title.png")


def test_model_html_is_sanitized(
    browser: Browser, server: LiveServer, provider: FakeProvider
) -> None:
    provider.reply(
        'Hi <img src=x onerror="document.body.dataset.pwned=1"><script>document.body.dataset.pwned=2</script>'
    )
    page = open_app(browser, server)
    send(page, "try to break out")
    expect(page.locator("article.assistant_message")).to_contain_text("Hi")
    page.wait_for_timeout(300)
    assert page.evaluate("document.body.dataset.pwned") is None


def test_stop_keeps_partial_text_and_retry_recovers(
    browser: Browser, server: LiveServer, provider: FakeProvider
) -> None:
    provider.token_delay_s = 0.05
    provider.reply(" ".join(f"word{i}" for i in range(300)))
    page = open_app(browser, server)
    send(page, "long story")
    expect(page.locator("article.assistant_message")).to_contain_text("word5")
    page.keyboard.press("Escape")
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    provider.token_delay_s = 0
    page.wait_for_timeout(800)
    text = page.locator("article.assistant_message").last.inner_text()
    assert "word5" in text and "word299" not in text
    # a provider failure, then Retry
    provider.fail(Fault("status", status=500))
    send(page, "again")
    expect(page.locator(".error-message")).to_contain_text("server error (500)")
    provider.reply("Recovered")
    page.locator(".error-message").get_by_role("button", name="Retry").click()
    expect(page.locator("article.assistant_message .markdown").last).to_have_text("Recovered")


def test_rename_filter_and_delete(browser: Browser, server: LiveServer) -> None:
    page = open_app(browser, server)
    send(page, "first")
    expect(page.get_by_role("button", name="Fake title", exact=True)).to_be_visible()
    # The row's menu works from the keyboard: it opens on Enter with focus on its first item,
    # arrows move through it, Escape closes it and gives focus back to its button.
    actions = page.get_by_role("button", name="Actions for Fake title")
    actions.focus()
    page.keyboard.press("Enter")
    menu = page.get_by_role("menu", name="Actions for Fake title")
    expect(menu.get_by_role("menuitem", name="Rename…")).to_be_focused()
    page.keyboard.press("ArrowUp")
    expect(menu.get_by_role("menuitem", name="Delete…")).to_be_focused()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(menu.get_by_role("menuitem", name="Export as Markdown")).to_be_focused()
    page.keyboard.press("Escape")
    expect(menu).to_have_count(0)
    expect(actions).to_be_focused()
    expect(actions).to_have_attribute("aria-expanded", "false")
    # Renaming happens in place: Escape keeps the title, Enter saves the new one.
    actions.click()
    menu.get_by_role("menuitem", name="Rename…").click()
    field = page.get_by_role("textbox", name="Rename Fake title")
    expect(field).to_be_focused()
    expect(field).to_have_value("Fake title")
    field.fill("Not this")
    field.press("Escape")
    expect(field).to_have_count(0)
    expect(actions).to_be_focused()
    assert server.call("threads.list", limit=10)["data"][0]["title"] == "Fake title"
    # Clicking elsewhere saves too, and leaves focus where the click put it.
    actions.click()
    menu.get_by_role("menuitem", name="Rename…").click()
    field.fill("Left by a click")
    page.get_by_label("Message", exact=True).click()
    expect(page.get_by_role("button", name="Left by a click", exact=True)).to_be_visible()
    expect(page.get_by_label("Message", exact=True)).to_be_focused()
    actions = page.get_by_role("button", name="Actions for Left by a click")
    actions.click()
    page.get_by_role("menuitem", name="Rename…").click()
    field = page.get_by_role("textbox", name="Rename Left by a click")
    field.fill("Renamed chat")
    field.press("Enter")
    expect(page.get_by_role("button", name="Renamed chat", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Actions for Renamed chat")).to_be_focused()
    assert server.call("threads.list", limit=10)["data"][0]["title"] == "Renamed chat"
    page.get_by_label("Search all chats").fill("nothing like it")
    expect(page.get_by_text("No chats match.")).to_be_visible()
    expect(page.get_by_role("button", name="Renamed chat", exact=True)).to_have_count(0)
    page.get_by_label("Search all chats").fill("renamed")
    expect(page.locator(".search-hit")).to_contain_text("Renamed chat")
    page.get_by_label("Search all chats").fill("")
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Actions for Renamed chat").click()
    page.get_by_role("menuitem", name="Delete…").click()
    expect(page.get_by_role("button", name="Renamed chat", exact=True)).to_have_count(0)
    assert server.call("threads.list", limit=10)["data"] == []


def test_attachment_upload(
    browser: Browser, server: LiveServer, provider: FakeProvider, tmp_path: Path
) -> None:
    note = tmp_path / "notes.md"
    note.write_text("the secret word is pineapple")
    page = open_app(browser, server)
    page.locator("#home input[type=file]").set_input_files(str(note))
    expect(page.locator(".chip")).to_contain_text("notes.md")
    send(page, "what is the secret word?")
    expect(page.locator("article.user_message a.attachment-file")).to_have_text("notes.md")
    expect(page.locator("article.assistant_message")).to_be_visible()
    assert "pineapple" in json.dumps(provider.chat_requests()[-1].body)


def test_widget_action(browser: Browser, server: LiveServer, provider: FakeProvider) -> None:
    thread_id, _ = server.create_thread("show options")
    widget = WidgetItem.model_validate(
        {
            "id": "wid_1",
            "thread_id": thread_id,
            "created_at": datetime.now(),
            "widget": {
                "type": "Card",
                "children": [
                    {"type": "Title", "value": "Pick a plan"},
                    {
                        "type": "Row",
                        "children": [
                            {"type": "Badge", "label": "new"},
                            {"type": "Caption", "value": "monthly"},
                        ],
                    },
                    {
                        "type": "Button",
                        "label": "Choose Pro",
                        "onClickAction": {"type": "choose", "payload": {"plan": "pro"}},
                    },
                ],
            },
        }
    )
    # Playwright's sync API owns this thread's event loop; the store call runs on another thread.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(
            asyncio.run, server.store.add_thread_item(thread_id, widget, RequestContext())
        ).result()
    provider.reply("Pro it is.")
    page = open_app(browser, server)
    page.get_by_role("button", name="Fake title", exact=True).click()
    expect(page.get_by_text("Pick a plan")).to_be_visible()
    shot(page, "browser-widget.png")
    page.get_by_role("button", name="Choose Pro").click()
    expect(page.locator("article.assistant_message .markdown").last).to_have_text("Pro it is.")
    assert "choose" in json.dumps(provider.chat_requests()[-1].body)


def test_dark_mode_and_narrow_window(browser: Browser, server: LiveServer) -> None:
    server.client.put("/api/settings", content=json.dumps({"settings": {"theme": "dark"}}))
    page = open_app(browser, server, viewport={"width": 420, "height": 760})
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(30, 31, 34)"
    expect(page.get_by_label("Message", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="New chat")).to_be_visible()
    shot(page, "browser-dark-narrow.png")


def test_keyboard(browser: Browser, server: LiveServer) -> None:
    page = open_app(browser, server)
    box = page.get_by_label("Message", exact=True)
    box.fill("line one")
    box.press("Shift+Enter")
    box.type("line two")
    assert box.input_value() == "line one\nline two"
    box.press("Enter")
    expect(page.locator("article.user_message")).to_have_text("line one\nline two")
    page.keyboard.press("Control+n")
    expect(page.get_by_text("What can I help with?")).to_be_visible()


def test_the_pickers_say_default_model_until_the_offer_arrives(
    browser: Browser, server: LiveServer
) -> None:
    """Right after launch the full app may still be loading: the composer's pickers show the
    default model meanwhile, never an empty box."""
    page = browser.new_context(viewport={"width": 1000, "height": 640}).new_page()
    held: list[Route] = []
    holding = [True]

    def hold(route: Route) -> None:
        if holding[0]:
            held.append(route)
        else:
            route.continue_()

    page.route("**/api/composer", hold)
    page.goto(f"{server.url}/?token={TOKEN}")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    model = page.get_by_role("combobox", name="Model")
    expect(model.locator("option:checked")).to_have_text("Default model")
    expect(page.get_by_role("combobox", name="Assistant")).to_be_hidden()
    assert held, "the page asked for the offer"
    shot(page, "browser-pickers-before-offer-1000x640.png")
    holding[0] = False
    for route in held:
        route.continue_()
    expect(model.locator("option:checked")).to_have_text("Default model (fake-model)")
    page.context.close()


def test_auto_falls_back_to_built_in_when_the_cdn_is_unreachable(
    browser: Browser, data_dir: Path, env: dict[str, str]
) -> None:
    settings(data_dir, chat_interface="auto")
    with live_server(data_dir, env) as server:
        page = open_app(browser, server)
        expect(page.locator("body")).to_have_attribute("data-chat", "builtin")
        expect(page.locator("#banner")).to_contain_text("built-in chat")
        expect(page.get_by_label("Message", exact=True)).to_be_visible()
        shot(page, "browser-auto-fallback.png")


CHATKIT_DOUBLE = """
// Test double of <openai-chatkit>: records the options it gets and emits ChatKit's events.
class ChatKitDouble extends HTMLElement {
  setOptions(options) {
    window.__chatkitOptions = options;
    window.__chatkitOptionCalls = (window.__chatkitOptionCalls || 0) + 1;
    this.dispatchEvent(new CustomEvent("chatkit.error", { detail: { error: new Error("double error") } }));
    this.dispatchEvent(new CustomEvent("chatkit.log", { detail: { name: "double.log", data: { ok: 1 } } }));
  }
  setThreadId(id) { window.__chatkitThread = id; }
  setComposerValue(value) { window.__chatkitComposer = value; }
}
customElements.define("openai-chatkit", ChatKitDouble);
"""


def test_chatkit_mode_wiring_with_a_test_double_of_the_element(
    browser: Browser, data_dir: Path, env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    settings(data_dir, chat_interface="chatkit", theme="dark", domain_key="domain_pk_test")
    with live_server(data_dir, env) as server:
        pirate = {"name": "Pirate", "instructions": "Arr.", "tools": []}
        pirate_id = server.client.post("/api/assistants", content=json.dumps(pirate)).json()["id"]
        events = server.stream(
            "threads.create",
            input={**user_input("hi"), "inference_options": {"model": "fake-model-large"}},
        )
        thread_id = events[0]["thread"]["id"]
        context = browser.new_context()

        def serve_double(route: Route) -> None:
            route.fulfill(status=200, content_type="text/javascript", body=CHATKIT_DOUBLE)

        context.route(CHATKIT_SCRIPT, serve_double)
        page = context.new_page()
        with caplog.at_level("INFO", logger="desktop.page"):
            page.goto(f"{server.url}/?token={TOKEN}")
            expect(page.locator("body")).to_have_attribute("data-chat", "chatkit")
            options = page.evaluate("""() => {
                const o = window.__chatkitOptions;
                return {...o, api: {...o.api, fetch: typeof o.api.fetch}};
            }""")
            assert options["api"]["url"] == f"{server.url}/chatkit"
            assert options["api"]["domainKey"] == "domain_pk_test"
            assert options["api"]["uploadStrategy"] == {"type": "two_phase"}
            assert options["api"]["fetch"] == "function"
            assert options["theme"]["colorScheme"] == "dark"
            assert options["history"] == {"enabled": True, "showDelete": True, "showRename": True}
            assert options["threadItemActions"] == {"feedback": True, "retry": True}
            assert options["composer"]["attachments"]["enabled"] is True
            assert options["startScreen"]["prompts"]
            # the composer offers the assistants (kept selected) and the provider's models
            assert options["composer"]["models"] == [
                {"id": "fake-model", "label": "fake-model", "default": True},
                {"id": "fake-model-large", "label": "fake-model-large", "default": False},
            ]
            assert [
                (t["id"], t["label"], t["persistent"]) for t in options["composer"]["tools"]
            ] == [
                ("assistant:default", "Assistant", True),
                (f"assistant:{pirate_id}", "Pirate", True),
            ]
            # `@` searches chats and files through /api/entities; a chat entity opens on click
            assert options["entities"]["showComposerMenu"] is True
            found = page.evaluate(
                "async () => await window.__chatkitOptions.entities.onTagSearch('hi')"
            )
            assert [e["id"] for e in found] == [f"chat:{thread_id}"]
            page.evaluate(
                "(e) => window.__chatkitOptions.entities.onClick(e)",
                found[0],
            )
            assert page.evaluate("() => window.__chatkitThread") == thread_id
            preview = page.evaluate(
                "async (e) => await window.__chatkitOptions.entities.onRequestPreview(e)",
                found[0],
            )
            assert preview["preview"]["type"] == "Basic"
            # a search result's action opens that chat; opening a chat shows its choices
            page.evaluate("""() => window.__chatkitOptions.widgets.onAction(
                {type: "chat.open", payload: {thread_id: "thr_x"}}, {id: "w", widget: {}})""")
            assert page.evaluate("() => window.__chatkitThread") == "thr_x"
            page.evaluate(
                """(id) => document.querySelector("openai-chatkit").dispatchEvent(
                    new CustomEvent("chatkit.thread.change", {detail: {threadId: id}}))""",
                thread_id,
            )
            page.wait_for_function("() => window.__chatkitComposer")
            assert page.evaluate("() => window.__chatkitComposer") == {
                "selectedToolId": None,
                "selectedModelId": "fake-model-large",
            }
            # the fetch wrapper signs calls with the session token
            listed = page.evaluate("""async () => {
                const r = await window.__chatkitOptions.api.fetch("/chatkit", {method: "POST",
                    credentials: "omit", body: JSON.stringify({type: "threads.list", params: {}})});
                return r.status;
            }""")
            assert listed == 200
            page.wait_for_timeout(300)
        messages = [r.getMessage() for r in caplog.records]
        assert any("chatkit.error: Error: double error" in m for m in messages)
        assert any("chatkit.log" in m and "double.log" in m for m in messages)


def test_every_kind_of_widget_renders(
    browser: Browser, server: LiveServer, provider: FakeProvider
) -> None:
    thread_id, _ = server.create_thread("show everything")
    widget = WidgetItem.model_validate(
        {
            "id": "wid_all",
            "thread_id": thread_id,
            "created_at": datetime.now(),
            "widget": {
                "type": "Basic",
                "children": [
                    {"type": "Label", "value": "Sales", "fieldName": "plan"},
                    {
                        "type": "Chart",
                        "data": [{"m": "Jan", "a": 3, "b": 1}, {"m": "Feb", "a": 5, "b": 4}],
                        "series": [
                            {"type": "bar", "dataKey": "a", "label": "Shop"},
                            {"type": "line", "dataKey": "b", "label": "Web"},
                            {"type": "area", "dataKey": "b", "label": "Trend"},
                        ],
                        "xAxis": "m",
                    },
                    {
                        "type": "Checkbox",
                        "name": "agree",
                        "label": "Email me",
                        "onChangeAction": {"type": "prefs.email"},
                    },
                    {
                        "type": "RadioGroup",
                        "name": "size",
                        "ariaLabel": "Size",
                        "options": [
                            {"label": "Small", "value": "s"},
                            {"label": "Large", "value": "l"},
                        ],
                        "defaultValue": "s",
                    },
                    {"type": "Transition", "children": {"type": "Text", "value": "Moved in"}},
                ],
            },
        }
    )
    with ThreadPoolExecutor(1) as pool:
        pool.submit(
            asyncio.run, server.store.add_thread_item(thread_id, widget, RequestContext())
        ).result()
    page = open_app(browser, server, viewport={"width": 1000, "height": 640})
    page.get_by_role("button", name="Fake title", exact=True).click()
    figure = page.locator("figure.w-chart")
    expect(figure.locator("rect")).to_have_count(2)
    expect(figure.locator("polyline")).to_have_count(1)
    expect(figure.locator("polygon")).to_have_count(1)
    expect(figure.locator(".w-legend")).to_contain_text("Shop")
    expect(page.get_by_role("radio", name="Small")).to_be_checked()
    expect(page.get_by_text("Moved in")).to_be_visible()
    expect(page.get_by_text("Sales")).to_be_visible()
    shot(page, "browser-widgets-all-1000x640.png")
    provider.reply("Noted.")
    page.get_by_role("checkbox", name="Email me").check()
    expect(page.locator("article.assistant_message .markdown").last).to_have_text("Noted.")
    assert "prefs.email" in json.dumps(provider.chat_requests()[-1].body)
