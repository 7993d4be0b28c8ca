"""Shared pieces for the browser tests: Debian's Chromium driven by Playwright against a real
server. No browser is ever downloaded."""

from __future__ import annotations

import json
import os
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.support.live import TOKEN, LiveServer

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("CHATKIT_ARTIFACTS", ROOT / "artifacts"))
CHROMIUM = os.environ.get("CHATKIT_CHROMIUM", "/usr/bin/chromium")
CHATKIT_SCRIPT = "https://cdn.platform.openai.com/deployments/chatkit/chatkit.js"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def settings(data_dir: Path, **values: object) -> None:
    path = data_dir / "settings.json"
    current = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps({**current, **values}))


def open_app(browser: Browser, server: LiveServer, **context: object) -> Page:
    options: dict[str, object] = {"viewport": {"width": 1100, "height": 760}, **context}
    page = browser.new_context(**options).new_page()  # type: ignore[arg-type]
    page.goto(f"{server.url}/?token={TOKEN}")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    assert "token=" not in page.url
    return page


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def send(page: Page, text: str) -> None:
    box = page.get_by_label("Message", exact=True)
    box.fill(text)
    box.press("Enter")
