"""Your data, in a real browser: exporting a chat from its menu and everything from Settings,
importing with a progress bar and cancel, backing up and restoring, and deleting everything
behind a typed confirmation."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.support.browser import open_app, shot
from tests.support.fake_provider import FakeProvider
from tests.support.live import LiveServer

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from data_portability import write_export  # noqa: E402

pytestmark = pytest.mark.browser


def chat(server: LiveServer, provider: FakeProvider, text: str, title: str) -> None:
    provider.reply(f"A reply about {text}")
    thread_id, _ = server.create_thread(text)
    server.call("threads.update", thread_id=thread_id, title=title)


def data_settings(page: Page) -> None:
    """Opens Settings and goes to Your data through the sections bar, as a user would."""
    page.get_by_role("button", name="Settings").click()
    heading = page.get_by_role("heading", name="Your data")
    expect(heading).not_to_be_in_viewport()
    page.get_by_role("navigation", name="Settings sections").get_by_role(
        "button", name="Your data"
    ).click()
    expect(heading).to_be_in_viewport()
    expect(heading).to_be_focused()
    expect(page.get_by_role("navigation", name="Settings sections")).to_be_in_viewport()


def test_export_one_chat_from_its_menu_and_all_from_settings(
    browser: Browser, server: LiveServer, provider: FakeProvider
) -> None:
    chat(server, provider, "tide pools", "Tide pools")
    page = open_app(browser, server, viewport={"width": 1280, "height": 800})
    page.get_by_role("button", name="Actions for Tide pools").click()
    menu = page.get_by_role("menu", name="Actions for Tide pools")
    expect(menu).to_be_visible()
    shot(page, "browser-export-menu-1280x800.png")
    with page.expect_download() as got:
        menu.get_by_role("menuitem", name="Export as Markdown").click()
    download = got.value
    assert download.suggested_filename == "Tide pools.md"
    text = Path(download.path()).read_text(encoding="utf-8")
    assert "# Tide pools" in text and "A reply about tide pools" in text
    expect(menu).to_have_count(0)

    data_settings(page)
    with page.expect_download() as got:
        page.get_by_role("link", name="All chats as JSON").click()
    document = json.loads(Path(got.value.path()).read_text(encoding="utf-8"))
    assert [t["thread"]["title"] for t in document["threads"]] == ["Tide pools"]


def test_an_import_shows_progress_can_be_cancelled_and_then_lands(
    browser: Browser, server: LiveServer, tmp_path: Path
) -> None:
    big = tmp_path / "conversations.json"
    write_export(big, 3000)
    archive = tmp_path / "chatgpt-export.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(big, "conversations.json")
    small = tmp_path / "small.json"
    write_export(small, 20)

    page = open_app(browser, server, viewport={"width": 1000, "height": 640})
    data_settings(page)
    page.get_by_role("button", name="Import…").scroll_into_view_if_needed()
    page.get_by_label("Choose a file to import").set_input_files(str(archive))
    bar = page.get_by_label("Import progress")
    expect(page.get_by_text("chats added so far")).to_be_visible(timeout=60_000)
    expect(bar).to_be_in_viewport()
    shot(page, "browser-import-progress-1000x640.png")
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_text("Cancelled; nothing was imported.")).to_be_visible()
    expect(bar).to_be_hidden()
    assert server.call("threads.list", limit=5, order="asc")["data"] == []

    page.get_by_label("Choose a file to import").set_input_files(str(small))
    expect(page.get_by_text("Imported 24 chats.")).to_be_visible(timeout=60_000)
    page.get_by_role("button", name="Chat").click()
    expect(page.get_by_role("button", name="Conversation 7", exact=True)).to_be_visible()


def test_backup_restore_and_delete_everything(
    browser: Browser, server: LiveServer, provider: FakeProvider
) -> None:
    chat(server, provider, "tide pools", "Tide pools")
    for width, height in ((1280, 800), (1000, 640)):
        page = open_app(browser, server, viewport={"width": width, "height": height})
        data_settings(page)
        page.get_by_role("button", name="Back up now").click()
        expect(page.get_by_text("Backed up (")).to_be_visible()
        backups = page.get_by_role("list", name="Backups")
        expect(backups.get_by_text("Made by you").first).to_be_visible()
        backups.scroll_into_view_if_needed()
        shot(page, f"browser-data-backups-{width}x{height}.png")
        page.close()
    chat(server, provider, "sourdough", "Sourdough")

    page = open_app(browser, server, viewport={"width": 1280, "height": 800})
    expect(page.get_by_role("button", name="Sourdough", exact=True)).to_be_visible()
    data_settings(page)
    page.once("dialog", lambda dialog: dialog.accept())
    restore = page.get_by_role("list", name="Backups").get_by_role("button", name="Restore").first
    restore.click()
    expect(page.get_by_text("Restored the backup from")).to_be_visible()
    expect(page.get_by_role("button", name="Tide pools", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Sourdough", exact=True)).to_have_count(0)

    # The backups list arrives after the panel is drawn and grows above the confirmation; hold
    # it until the confirmation is open, so the test sees the late layout shift every time.
    held: list[Route] = []
    page.route("**/api/backups", lambda route: held.append(route))
    with page.expect_request("**/api/backups"):
        data_settings(page)
    page.get_by_role("button", name="Delete all data…").click()
    confirm = page.get_by_role("button", name="Delete everything")
    word = page.get_by_label("Type delete to confirm")
    expect(word).to_be_focused()
    for route in held:
        route.continue_()
    page.unroute("**/api/backups")
    expect(page.get_by_role("list", name="Backups").get_by_text("Before a restore")).to_be_visible()
    word.fill("delet")
    expect(confirm).to_be_disabled()
    word.fill("delete")
    expect(confirm).to_be_enabled()
    expect(confirm).to_be_in_viewport()
    shot(page, "browser-delete-everything-1280x800.png")
    confirm.click()
    expect(page.get_by_text("All data was deleted.")).to_be_visible()
    assert server.call("threads.list", limit=5, order="asc")["data"] == []
    assert not (server.data_dir / "backups").exists()
