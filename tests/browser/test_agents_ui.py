"""The agent surface in the built-in client, in a real browser: search across chats, tool steps
and their result list, the composer's assistant and model pickers, and Settings → Assistants."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Browser, expect

from tests.support.browser import open_app, send, shot
from tests.support.fake_provider import Cited, FakeProvider, tool_outputs
from tests.support.live import LiveServer, user_input

pytestmark = pytest.mark.browser


def seed(server: LiveServer, provider: FakeProvider, turns: list[tuple[str, str]]) -> str:
    provider.reply(turns[0][1])
    thread_id, _ = server.create_thread(turns[0][0])
    for text, answer in turns[1:]:
        provider.reply(answer)
        server.stream("threads.add_user_message", thread_id=thread_id, input=user_input(text))
    return thread_id


def test_search_finds_words_inside_messages_and_opens_the_chat_there(
    browser: Browser, server: LiveServer, provider: FakeProvider
) -> None:
    turns = [(f"Question {n}", f"Answer {n} about nothing much.") for n in range(12)]
    turns[1] = ("Where do zebras sleep?", "Zebras sleep standing up, in groups.")
    seed(server, provider, turns)
    seed(server, provider, [("Bake bread", "Knead for ten minutes.")])
    for size in ((1280, 800), (1000, 640)):
        page = open_app(browser, server, viewport={"width": size[0], "height": size[1]})
        page.get_by_label("Search all chats").fill("zebra")
        hit = page.locator(".search-hit").first
        expect(hit).to_be_visible()
        expect(page.locator(".search-hit")).to_have_count(1)
        expect(hit.locator("mark").first).to_have_text("Zebras")
        shot(page, f"browser-search-{size[0]}x{size[1]}.png")
        hit.click()
        found = page.locator("article.found")
        expect(found).to_contain_text("Zebras sleep standing up")
        expect(found).to_be_in_viewport()
        shot(page, f"browser-search-opened-{size[0]}x{size[1]}.png")
        page.context.close()
    page = open_app(browser, server)
    page.get_by_label("Search all chats").fill("no such words here")
    expect(page.get_by_text("No chats match.")).to_be_visible()
    page.get_by_label("Search all chats").press("Escape")
    expect(page.get_by_role("list", name="Conversations")).to_be_visible()


def test_tool_steps_and_the_result_list_show_and_open_the_chat(
    browser: Browser, server: LiveServer, provider: FakeProvider
) -> None:
    seed(server, provider, [("Plan a trip to Kyoto", "Visit Fushimi Inari early.")])
    page = open_app(browser, server, viewport={"width": 1280, "height": 800})
    provider.call_tools(("search_chats", {"query": "Kyoto"}))
    provider.reply("You planned a Kyoto trip earlier.")
    send(page, "What did I plan in Kyoto?")
    expect(page.locator("article.assistant_message").last).to_contain_text("Kyoto trip earlier")
    workflow = page.locator("article.workflow details")
    expect(workflow.locator("summary")).to_contain_text("1 step")
    workflow.locator("summary").click()
    expect(workflow.locator(".step.complete")).to_contain_text("Searched your chats")
    row = page.locator("article.widget .w-list-item[role=button]")
    expect(row).to_contain_text("Kyoto")
    # the chat it found is listed as the answer's source
    expect(page.locator("article.assistant_message .sources")).to_contain_text("1 source")
    expect(page.locator(".sources .source-chat")).to_have_text("Fake title")
    shot(page, "browser-tool-steps-1280x800.png")
    page.set_viewport_size({"width": 1000, "height": 640})
    shot(page, "browser-tool-steps-1000x640.png")
    # the same after a reload
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    page.get_by_role("button", name="Fake title", exact=True).first.click()
    page.locator(".thread-title").first.click()
    expect(page.locator("article.workflow")).to_have_count(1)
    row = page.locator("article.widget .w-list-item[role=button]")
    expect(row).to_contain_text("Kyoto")
    row.click()  # opens the chat it names
    expect(page.locator("article.user_message").first).to_have_text("Plan a trip to Kyoto")


def test_composer_pickers_choose_the_assistant_and_model_per_chat(
    browser: Browser, server: LiveServer, provider: FakeProvider
) -> None:
    body = {"name": "Pirate", "instructions": "Talk like a pirate.", "tools": []}
    server.client.post("/api/assistants", content=json.dumps(body))
    page = open_app(browser, server, viewport={"width": 1000, "height": 640})
    assistant = page.get_by_label("Assistant", exact=True)
    model = page.get_by_label("Model", exact=True)
    expect(assistant).to_have_value("default")
    assistant.select_option(label="Pirate")
    model.select_option("fake-model-large")
    shot(page, "browser-pickers-1000x640.png")
    send(page, "Ahoy")
    expect(page.locator("article.assistant_message")).to_have_count(1)
    request = provider.chat_requests()[-1].body
    assert request["model"] == "fake-model-large"
    assert request["messages"][0]["content"] == "Talk like a pirate."
    page.get_by_role("button", name="New chat").click()
    expect(assistant).to_have_value("default")
    expect(model).to_have_value("")
    page.get_by_role("button", name="Fake title", exact=True).click()
    expect(page.locator("select[aria-label=Assistant] option:checked")).to_have_text("Pirate")
    expect(model).to_have_value("fake-model-large")


def test_settings_creates_an_assistant_the_composer_then_offers(
    browser: Browser, server: LiveServer
) -> None:
    page = open_app(browser, server, viewport={"width": 1280, "height": 800})
    page.get_by_role("button", name="Settings").click()
    expect(page.get_by_role("list", name="Assistants")).to_contain_text("Assistant")
    page.get_by_role("button", name="New assistant").click()
    page.get_by_label("Name", exact=True).fill("Editor")
    page.get_by_label("Instructions", exact=True).fill("Fix grammar only.")
    page.get_by_role("checkbox", name="Date and time").uncheck()
    shot(page, "browser-assistant-form-1280x800.png")
    page.get_by_role("button", name="Save assistant").click()
    expect(page.get_by_role("list", name="Assistants")).to_contain_text("Editor")
    saved = [
        a
        for a in server.client.get("/api/assistants").json()["assistants"]
        if a["name"] == "Editor"
    ]
    assert saved and "current_time" not in saved[0]["tools"]
    # every tool that works here starts on; OpenAI's hosted tools don't with this provider
    assert {"search_chats", "read_web_page", "set_theme"} <= set(saved[0]["tools"])
    assert "web_search" not in saved[0]["tools"]
    page.get_by_role("button", name="Chat").click()
    expect(page.locator("select[aria-label=Assistant] option", has_text="Editor")).to_have_count(1)


def test_cited_pages_are_listed_as_links_under_the_answer(
    browser: Browser, server: LiveServer, provider: FakeProvider
) -> None:
    provider.reply(Cited("The spec is long.", [("https://example.org/spec", "The specification")]))
    page = open_app(browser, server, viewport={"width": 1000, "height": 640})
    send(page, "Is the spec long?")
    link = page.locator("article.assistant_message .sources a")
    expect(link).to_have_text("The specification")
    expect(link).to_have_attribute("href", "https://example.org/spec")
    expect(link).to_have_attribute("target", "_blank")
    expect(page.locator(".sources .source-host")).to_have_text("example.org")
    shot(page, "browser-sources-1000x640.png")


def test_at_mentions_a_past_chat_whose_words_reach_the_model(
    browser: Browser, server: LiveServer, provider: FakeProvider
) -> None:
    seed(server, provider, [("Which drill bit for wall plugs?", "Use a 6 mm bit for 6 mm plugs.")])
    page = open_app(browser, server, viewport={"width": 1000, "height": 640})
    box = page.get_by_label("Message", exact=True)
    box.fill("Summarise ")
    box.press_sequentially("@dril")
    picker = page.get_by_role("listbox", name="Mention a chat or file")
    expect(picker.get_by_role("option")).to_have_count(1)
    expect(picker.get_by_role("option").first).to_contain_text("Fake title")
    shot(page, "browser-mention-picker-1000x640.png")
    box.press("Enter")  # chooses the mention, doesn't send
    expect(picker).to_be_hidden()
    expect(page.locator(".chip.tag")).to_have_text("@Fake title")
    expect(box).to_have_value("Summarise ")
    provider.reply("It says to use a 6 mm bit.")
    box.press("Enter")
    expect(page.locator("article.assistant_message")).to_contain_text("6 mm bit")
    expect(page.locator("article.user_message .tag")).to_have_text("@Fake title")
    assert "Use a 6 mm bit for 6 mm plugs." in json.dumps(provider.chat_requests()[-1].body)


def test_a_page_tool_round_trip_switches_the_theme(
    browser: Browser, server: LiveServer, provider: FakeProvider
) -> None:
    body = {"name": "Helper", "instructions": "Help.", "tools": ["set_theme", "copy_to_clipboard"]}
    server.client.post("/api/assistants", content=json.dumps(body))
    page = open_app(browser, server, viewport={"width": 1280, "height": 800})
    page.get_by_label("Assistant", exact=True).select_option(label="Helper")
    provider.call_tools(("set_theme", {"theme": "dark"}))
    provider.reply("It's dark now.")
    send(page, "Dark mode please")
    expect(page.locator("article.assistant_message")).to_contain_text("It's dark now.")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    assert server.client.get("/api/settings").json()["settings"]["theme"] == "dark"
    expect(page.locator("article.client_tool_call")).to_have_text("The app ran set_theme")
    shot(page, "browser-client-tool-1280x800.png")
    # the result went back to the model
    (output,) = tool_outputs(provider.chat_requests()[-1].body)
    assert json.loads(output) == {"theme": "dark"}
