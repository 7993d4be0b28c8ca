"""MCP servers and approvals in a real browser: the approval card in the chat (approve and deny
by clicking), and Settings → Tools and MCP servers (state, server output, masked secrets,
ask/allow/block, adding a server)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Route, expect

from tests.mcp_helpers import stdio_entry, wait_for, write_config
from tests.support.browser import open_app, send, settings, shot
from tests.support.fake_provider import FakeProvider, tool_outputs
from tests.support.live import LiveServer, live_server

pytestmark = pytest.mark.browser


@pytest.fixture
def server(data_dir: Path, env: dict[str, str], notes: Path) -> Iterator[LiveServer]:
    settings(data_dir, chat_interface="builtin")
    write_config(
        data_dir,
        {
            "notes": stdio_entry(notes, env={"NOTES_TOKEN": "tok-very-secret"}),
            "broken": stdio_entry(notes, env={"NOTES_FAIL_START": "1"}),
        },
    )
    with live_server(data_dir, env) as live:
        wait_for(live, "notes")
        wait_for(live, "broken", ("failed",))
        yield live


def test_the_approval_card_waits_for_a_click(
    browser: Browser, server: LiveServer, provider: FakeProvider, notes: Path
) -> None:
    for width, height in ((1280, 800), (1000, 640)):
        name = f"note-{width}.txt"
        provider.call_tools(
            ("mcp_notes__write_note", {"name": name, "text": "Buy milk\nand bread"})
        )
        page = open_app(browser, server, viewport={"width": width, "height": height})
        send(page, "Write my shopping note")
        card = page.locator(".widget").filter(has_text="Run write_note?")
        expect(card).to_be_visible()
        expect(card).to_contain_text("MCP server “notes”")
        expect(card).to_contain_text("Buy milk")
        approve = card.get_by_role("button", name="Approve")
        expect(approve).to_be_in_viewport()
        shot(page, f"browser-approval-card-{width}x{height}.png")
        assert not (notes / name).exists()
        provider.reply("Your note is saved.")
        approve.click()
        expect(page.get_by_text("Your note is saved.")).to_be_visible()
        expect(card).to_contain_text("Approved at")
        expect(card.get_by_role("button", name="Approve")).to_have_count(0)
        assert (notes / name).read_text() == "Buy milk\nand bread"
        shot(page, f"browser-approval-approved-{width}x{height}.png")
        page.context.close()

    provider.call_tools(("mcp_notes__write_note", {"name": "no.txt", "text": "x"}))
    page = open_app(browser, server)
    send(page, "Write another")
    card = page.locator(".widget").filter(has_text="Run write_note?")
    provider.reply("Okay, I didn't write it.")
    card.get_by_role("button", name="Deny").click()
    expect(page.get_by_text("Okay, I didn't write it.")).to_be_visible()
    expect(card).to_contain_text("Denied at")
    assert not (notes / "no.txt").exists()
    assert "declined" in tool_outputs(provider.chat_requests()[-1].body)[0]


def test_settings_show_servers_and_set_what_asks(
    browser: Browser, server: LiveServer, data_dir: Path
) -> None:
    for width, height in ((1280, 800), (1000, 640)):
        page = open_app(browser, server, viewport={"width": width, "height": height})
        page.get_by_role("button", name="Settings").click()
        notes_row = page.locator("[data-server='notes']")
        expect(notes_row).to_contain_text("Connected · 6 tools")
        broken = page.locator("[data-server='broken']")
        expect(broken).to_contain_text("Failed: it exited before it was ready")
        expect(broken.locator("pre")).to_contain_text("can't open the notes folder")
        notes_row.scroll_into_view_if_needed()
        shot(page, f"browser-mcp-settings-{width}x{height}.png")
        assert "tok-very-secret" not in page.content()
        page.context.close()

    page = open_app(browser, server)
    page.get_by_role("button", name="Settings").click()
    notes_row = page.locator("[data-server='notes']")
    notes_row.get_by_text("Its tools (6)").click()
    notes_row.get_by_label("When notes's echo is used").select_option("allow")
    expect(page.get_by_text("Saved. New tool calls follow it.")).to_be_visible()
    page.get_by_label("When Copy to the clipboard is used").select_option("block")
    # While a change is on its way, the "Saved" of the one before must not show: hold it.
    held: list[Route] = []

    def hold_always_ask(route: Route) -> None:
        if "always_ask_tools" in (route.request.post_data or ""):
            held.append(route)
        else:
            route.continue_()

    page.route("**/api/settings", hold_always_ask)
    with page.expect_request(lambda request: "always_ask_tools" in (request.post_data or "")):
        page.get_by_label("Ask before every tool call").check()
    status = page.locator("section.mcp > p[role=status]")
    expect(status).to_have_text("Saving…")
    for route in held:
        route.continue_()
    page.unroute("**/api/settings")
    expect(status).to_have_text("Saved. New tool calls follow it.")
    saved = json.loads((data_dir / "settings.json").read_text())
    assert saved["tool_policies"] == {"mcp:notes/echo": "allow", "copy_to_clipboard": "block"}
    assert saved["always_ask_tools"] is True

    # Add a server; its secret is shown masked once saved.
    page.get_by_role("button", name="Add server").click()
    form = page.locator(".server-form")
    form.get_by_label("Server name").fill("more notes")
    entry = stdio_entry(data_dir)
    form.get_by_label("Command").fill(entry["command"])
    form.get_by_label("Arguments (one per line)").fill("\n".join(entry["args"]))
    form.get_by_label("Environment (NAME=value per line; saved values show as dots)").fill(
        "NOTES_KEY=abc123"
    )
    page.get_by_role("button", name="Save server").click()
    row = page.locator("[data-server='more notes']")
    expect(row).to_contain_text("Connected · 6 tools", timeout=20_000)
    stored = json.loads((data_dir / "mcp.json").read_text())["mcpServers"]["more notes"]
    assert stored["env"] == {"NOTES_KEY": "abc123"}
    row.get_by_role("button", name="Edit more notes").click()
    expect(
        page.get_by_label("Environment (NAME=value per line; saved values show as dots)")
    ).to_have_value("NOTES_KEY=••••••••")


def test_an_assistant_takes_the_mcp_tools_ticked(browser: Browser, server: LiveServer) -> None:
    page = open_app(browser, server, viewport={"width": 1000, "height": 640})
    page.get_by_role("button", name="Settings").click()
    page.get_by_role("button", name="New assistant").click()
    page.get_by_label("Name", exact=True).fill("Echoer")
    page.get_by_label("Instructions", exact=True).fill("Echo what you are told.")
    every = page.get_by_role("checkbox", name="All MCP servers")
    whole_notes = page.get_by_role("checkbox", name="notes — every tool it has")
    expect(every).to_be_checked()  # a new assistant may use every server, as the built-in one
    expect(whole_notes).to_be_disabled()
    every.uncheck()
    expect(whole_notes).to_be_enabled()
    page.locator(".server-choice", has_text="notes —").get_by_text(
        "or only some of its tools"
    ).click()
    echo = page.get_by_role("checkbox", name="echo", exact=True)
    echo.check()
    echo.scroll_into_view_if_needed()
    shot(page, "browser-assistant-mcp-tools-1000x640.png")
    page.get_by_role("button", name="Save assistant").click()
    expect(page.get_by_role("list", name="Assistants")).to_contain_text("Echoer", timeout=10_000)
    saved = next(
        a
        for a in server.client.get("/api/assistants").json()["assistants"]
        if a["name"] == "Echoer"
    )
    assert [t for t in saved["tools"] if t.startswith("mcp:")] == ["mcp:notes/echo"]
    # The list shows it by the name the server gives it.
    row = page.get_by_role("list", name="Assistants").locator("li", has_text="Echoer")
    expect(row).to_contain_text("notes/echo (MCP)")
