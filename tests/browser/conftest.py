"""Fixtures for the browser tests: one Chromium per module, the built-in client by default,
Chat Completions (one flavour is enough to drive the page)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.support.browser import CHROMIUM, FLAGS, settings
from tests.support.live import LiveServer, live_server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def api() -> str:
    return "chat_completions"


@pytest.fixture
def server(data_dir: Path, env: dict[str, str]) -> Iterator[LiveServer]:
    settings(data_dir, chat_interface="builtin")
    with live_server(data_dir, env) as live:
        yield live
