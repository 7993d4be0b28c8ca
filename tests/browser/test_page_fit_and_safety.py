"""The page as a person meets it: it fits the window, remembers what it should, loads heavy parts
only when needed, and no reply can reach outside its own message or break the page."""

from __future__ import annotations

import asyncio
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from chatkit.types import AssistantMessageContent, AssistantMessageItem, ThreadItem
from playwright.sync_api import Browser, BrowserContext, FloatRect, Page, Request, Route, expect

from desktop.context import RequestContext
from desktop.paths import ui_dir
from tests.support.browser import CHATKIT_SCRIPT, open_app, send, settings, shot
from tests.support.fake_provider import FakeProvider
from tests.support.live import TOKEN, LiveServer, live_server

pytestmark = pytest.mark.browser

CHATKIT_DOUBLE = (
    "customElements.define('openai-chatkit', class extends HTMLElement { setOptions() {} });"
)


def add_items(server: LiveServer, thread_id: str, items: list[ThreadItem]) -> None:
    async def put() -> None:
        for item in items:
            await server.store.add_thread_item(thread_id, item, RequestContext())

    # Playwright's sync API owns this thread's event loop; the store runs on another one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, put()).result()


def reply(thread_id: str, text: str, n: int) -> AssistantMessageItem:
    return AssistantMessageItem(
        id=f"msg_test_{n}",
        thread_id=thread_id,
        created_at=datetime.now() + timedelta(seconds=n),
        content=[AssistantMessageContent(text=text)],
    )


def long_thread(server: LiveServer) -> str:
    thread_id, _ = server.create_thread("A long conversation")
    server.call("threads.update", thread_id=thread_id, title="A long conversation")
    add_items(
        server,
        thread_id,
        [reply(thread_id, f"Paragraph {n}.\n\n" + "Some words here. " * 40, n) for n in range(30)],
    )
    return thread_id


def open_with_chatkit(
    browser: Browser, server: LiveServer, *, script: str | None, **context: Any
) -> tuple[BrowserContext, Page]:
    """The app in a new web view, with OpenAI's script served by `script`, or unreachable."""
    view = browser.new_context(**context)
    if script is None:
        view.route(CHATKIT_SCRIPT, lambda route: route.abort())
    else:
        view.route(
            CHATKIT_SCRIPT,
            lambda route: route.fulfill(status=200, content_type="text/javascript", body=script),
        )
    page = view.new_page()
    page.goto(f"{server.url}/?token={TOKEN}")
    return view, page


def box(page: Page, selector: str) -> FloatRect:
    found = page.locator(selector).first.bounding_box()
    assert found is not None, f"{selector} is not shown"
    return found


def assert_fits(page: Page, *selectors: str) -> None:
    width, height = page.viewport_size["width"], page.viewport_size["height"]  # type: ignore[index]
    page.evaluate("window.scrollTo(0, 10000)")
    document = page.evaluate(
        "({scroll: document.scrollingElement.scrollHeight, inner: innerHeight, y: scrollY})"
    )
    assert document["scroll"] <= document["inner"] and document["y"] == 0, document
    for selector in selectors:
        b = box(page, selector)
        assert b["y"] >= 0 and b["x"] >= 0, (selector, b)
        assert b["y"] + b["height"] <= height + 0.5, (selector, b, height)
        assert b["x"] + b["width"] <= width + 0.5, (selector, b, width)


@pytest.mark.parametrize("size", [(800, 600), (1000, 640), (1280, 800)])
def test_the_app_fits_the_window_with_the_fallback_banner(
    browser: Browser, data_dir: Path, env: dict[str, str], size: tuple[int, int]
) -> None:
    settings(data_dir, chat_interface="auto")
    with live_server(data_dir, env) as server:
        thread_id = long_thread(server)
        context, page = open_with_chatkit(
            browser, server, script=None, viewport={"width": size[0], "height": size[1]}
        )
        expect(page.locator("body")).to_have_attribute("data-chat", "builtin")
        expect(page.locator("#banner")).to_be_visible()
        page.get_by_role("button", name="A long conversation", exact=True).click()
        expect(page.locator("article.assistant_message")).to_have_count(31)
        assert_fits(page, "header.bar", "#banner", "form.composer", ".sidebar")
        transcript = page.evaluate(
            "(() => { const t = document.querySelector('.transcript');"
            " return {scroll: t.scrollHeight, client: t.clientHeight, top: t.scrollTop}; })()"
        )
        assert transcript["scroll"] > transcript["client"] and transcript["top"] > 0
        shot(page, f"browser-fit-banner-{size[0]}x{size[1]}.png")
        # Settings scroll inside the page too; the header stays.
        page.get_by_role("button", name="Settings", exact=True).click()
        assert_fits(page, "header.bar")
        assert thread_id
        context.close()


def test_the_app_fits_without_the_banner(browser: Browser, server: LiveServer) -> None:
    long_thread(server)
    page = open_app(browser, server, viewport={"width": 800, "height": 600})
    page.get_by_role("button", name="A long conversation", exact=True).click()
    expect(page.locator("article.assistant_message")).to_have_count(31)
    expect(page.locator("#banner")).to_be_hidden()
    assert_fits(page, "header.bar", "form.composer")
    shot(page, "browser-fit-800x600.png")


def test_banner_can_be_dismissed_and_leads_to_the_setting(
    browser: Browser, data_dir: Path, env: dict[str, str]
) -> None:
    settings(data_dir, chat_interface="auto")
    with live_server(data_dir, env) as server:
        context, page = open_with_chatkit(browser, server, script=None)
        banner = page.locator("#banner")
        expect(banner).to_be_visible()
        banner.get_by_role("button", name="Change in Settings").click()
        expect(page.get_by_label("Chat interface")).to_be_focused()
        page.get_by_role("button", name="Chat", exact=True).click()
        banner.get_by_role("button", name="Dismiss this message").click()
        expect(banner).to_be_hidden()
        assert_fits(page, "header.bar", "form.composer")
        context.close()


def test_auto_remembers_that_chatkit_was_unreachable(
    browser: Browser, data_dir: Path, env: dict[str, str]
) -> None:
    settings(data_dir, chat_interface="auto")
    with live_server(data_dir, env) as server:
        offline, page = open_with_chatkit(browser, server, script=None)
        expect(page.locator("#banner")).to_contain_text("didn't load")
        wait_for_state(server, unreachable=True)
        offline.close()

    # The next launch (a new web view, same data dir) starts on the built-in client at once,
    # and tries OpenAI's script in the background; when it loads, the next launch uses it.
    with live_server(data_dir, env) as server:
        started = time.monotonic()
        online, page = open_with_chatkit(browser, server, script=CHATKIT_DOUBLE)
        expect(page.locator("body")).to_have_attribute("data-chat", "builtin")
        print(f"built-in client after {time.monotonic() - started:.2f} s (CDN known unreachable)")
        expect(page.locator("#banner")).to_contain_text("reachable again")
        wait_for_state(server, unreachable=False)
        online.close()


def wait_for_state(server: LiveServer, *, unreachable: bool) -> None:
    # The page saves it without waiting; give the request a moment to land.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if server.client.get("/api/ui-state").json() == {"chatkit_unreachable": unreachable}:
            return
        time.sleep(0.05)
    raise AssertionError(f"the page state never became chatkit_unreachable={unreachable}")


def test_feedback_shows_after_reload_and_can_be_changed_or_cleared(
    browser: Browser, server: LiveServer, provider: FakeProvider
) -> None:
    provider.reply("A reply to rate.")
    page = open_app(browser, server)
    send(page, "Rate this")
    reply_item = page.locator("article.assistant_message").last
    expect(reply_item).to_contain_text("A reply to rate.")
    good = reply_item.get_by_role("button", name="Good reply")
    good.click()
    expect(good).to_have_attribute("aria-pressed", "true")

    def reopened() -> Any:
        page.reload()
        expect(page.locator("body")).to_have_attribute("data-ready", "true")
        page.get_by_role("button", name="Fake title", exact=True).click()
        return page.locator("article.assistant_message").last

    item = reopened()
    expect(item.get_by_role("button", name="Good reply")).to_have_attribute("aria-pressed", "true")
    expect(item.get_by_role("button", name="Bad reply")).to_have_attribute("aria-pressed", "false")
    item.get_by_role("button", name="Bad reply").click()
    expect(item.get_by_role("button", name="Bad reply")).to_have_attribute("aria-pressed", "true")
    expect(item.get_by_role("button", name="Good reply")).to_have_attribute("aria-pressed", "false")
    item = reopened()
    bad = item.get_by_role("button", name="Bad reply")
    expect(bad).to_have_attribute("aria-pressed", "true")
    bad.click()  # pressing it again takes it back
    expect(bad).to_have_attribute("aria-pressed", "false")
    item = reopened()
    expect(item.get_by_role("button", name="Bad reply")).to_have_attribute("aria-pressed", "false")
    thread_id = server.call("threads.list", limit=1)["data"][0]["id"]
    assert server.client.get(f"/api/threads/{thread_id}/feedback").json() == {"feedback": {}}


def test_first_script_is_small_and_code_and_math_load_on_demand(
    browser: Browser, server: LiveServer, provider: FakeProvider
) -> None:
    index = (ui_dir() / "index.html").read_text()
    entry = re.search(r'src="/assets/([^"]+\.js)"', index)
    assert entry is not None
    size = (ui_dir() / "assets" / entry.group(1)).stat().st_size
    assert size < 250_000, f"the first script is {size} bytes"

    page = open_app(browser, server)
    loaded: list[str] = []
    page.on("request", lambda request: loaded.append(request.url))
    provider.reply("Plain words, nothing else.")
    send(page, "hello")
    expect(page.locator("article.assistant_message").last).to_contain_text("Plain words")
    assert not [u for u in loaded if re.search(r"/assets/(highlight|math)-", u)]
    provider.reply("Code:\n\n```python\nprint('hi')\n```\n\nand $e^{i\\pi}$.")
    send(page, "now with code")
    last = page.locator("article.assistant_message").last
    # The parts arrive over the network on first use: allow a loaded machine its time.
    expect(last.locator("code.hljs")).to_have_count(1, timeout=20_000)
    expect(last.locator(".katex")).to_have_count(1, timeout=20_000)
    expect(last.locator(".hljs-built_in, .hljs-string").first).to_be_visible()
    assert [u for u in loaded if "/assets/highlight-" in u]
    assert [u for u in loaded if "/assets/math-" in u]


HOSTILE = (
    "Please read this.\n\n"
    '<textarea id="base_url" name="base_url">http://evil.example/v1</textarea>\n'
    '<label for="test" style="position:fixed;inset:0;z-index:99;opacity:0">x</label>\n'
    '<input id="api_key" name="api_key"><select id="provider"></select>'
    '<button id="save" form="settings-form">save</button><form id="settings-form"></form>\n'
    '<a class="visually-hidden" href="https://evil.example/x" '
    'style="position:fixed;top:0;left:0;width:100vw;height:100vh">a link</a> '
    '<a href="javascript:document.body.dataset.pwned=1">js</a> '
    '<a href="/api/session">local</a>\n\nThe end.'
)


def test_a_reply_cannot_reach_outside_its_message(
    browser: Browser, server: LiveServer, provider: FakeProvider
) -> None:
    provider.reply(HOSTILE)
    page = open_app(browser, server)
    tests_sent: list[Request] = []
    page.on(
        "request",
        lambda request: tests_sent.append(request) if "/api/settings" in request.url else None,
    )
    send(page, "summarise my document")
    message = page.locator("article.assistant_message .markdown").last
    expect(message).to_contain_text("The end.")
    leaked = message.evaluate(
        """m => [...m.querySelectorAll('*')].filter(e =>
            e.id || e.getAttribute('name') || e.getAttribute('for') || e.getAttribute('style')
            || e.getAttribute('class') || e.getAttribute('form')
            || ['TEXTAREA','INPUT','SELECT','BUTTON','LABEL','FORM','OPTION'].includes(e.tagName)
        ).map(e => e.outerHTML)"""
    )
    assert leaked == []
    for name in ("base_url", "api_key", "provider", "save", "settings-form"):
        assert page.evaluate(f"document.querySelectorAll('[id=\"{name}\"]').length") == 1
    links = message.evaluate(
        "m => [...m.querySelectorAll('a')].map(a => [a.getAttribute('href'), a.target, a.rel])"
    )
    assert ["https://evil.example/x", "_blank", "noopener noreferrer"] in links
    assert all(href is None or href.startswith("https:") for href, _, _ in links)
    # A click anywhere on the page reaches the page's own controls, not a reply's overlay.
    page.mouse.click(400, 400)
    page.wait_for_timeout(200)
    assert not [r for r in tests_sent if r.url.endswith("/api/settings/test")]
    assert page.evaluate("document.body.dataset.pwned") is None
    page.get_by_role("button", name="Settings", exact=True).click()
    assert page.get_by_label("Base URL").input_value() == provider.base_url


def bombs() -> dict[str, str]:
    return {
        "list markers": "* " * 1500 + "x",
        "quotes": ">" * 3000 + " x",
        "nested list": "".join(f"{'  ' * i}- x\n" for i in range(2000))[: 4 * 1024 * 1024],
        "no line break": "a" * 300_000,
    }


def test_replies_that_would_break_the_page_show_as_plain_text(
    browser: Browser, server: LiveServer
) -> None:
    thread_id, _ = server.create_thread("Hostile replies")
    server.call("threads.update", thread_id=thread_id, title="Hostile replies")
    add_items(
        server, thread_id, [reply(thread_id, text, n) for n, text in enumerate(bombs().values())]
    )
    page = open_app(browser, server)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    started = time.monotonic()
    page.get_by_role("button", name="Hostile replies", exact=True).click()
    expect(page.locator("article.assistant_message")).to_have_count(1 + len(bombs()))
    expect(page.locator(".plain-text")).to_have_count(len(bombs()))
    print(f"opened the conversation in {time.monotonic() - started:.2f} s")
    assert page.evaluate("1 + 1") == 2
    assert errors == []
    # Still a working chat: the composer takes a message.
    expect(page.get_by_label("Message", exact=True)).to_be_editable()
    assert json.dumps(errors) == "[]"


def test_presets_and_file_types_come_from_the_server(browser: Browser, server: LiveServer) -> None:
    page = open_app(browser, server)
    accept = page.locator("#home input[type=file]").get_attribute("accept") or ""
    assert "application/pdf" in accept.split(",") and ".md" in accept.split(",")
    page.get_by_role("button", name="Settings", exact=True).click()
    page.get_by_label("Provider").select_option("ollama")
    assert page.get_by_label("Base URL").input_value() == "http://localhost:11434/v1"
    assert page.get_by_label("API flavour").input_value() == "chat_completions"


def test_a_part_that_fails_to_load_is_tried_again(
    browser: Browser, server: LiveServer, provider: FakeProvider
) -> None:
    page = open_app(browser, server)
    failed: list[str] = []

    def flaky(route: Route) -> None:
        # The first requests for the highlighter (Vite's preload, then the import itself) fail,
        # as on a busy or restarting server.
        if len(failed) < 2:
            failed.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    page.route(re.compile(r".*/assets/highlight-.*\.js$"), flaky)
    provider.reply("```python\nprint('again')\n```")
    send(page, "code please")
    last = page.locator("article.assistant_message").last
    expect(last.locator("pre code")).to_contain_text("print('again')")
    expect(last.locator("code.hljs")).to_have_count(1, timeout=20_000)
    assert len(failed) == 2
