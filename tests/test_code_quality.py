"""Lint and type checks run with the tests, so the one test command checks everything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_ruff_lint() -> None:
    result = run("ruff", "check", "desktop", "tests", "bench", "packaging")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format() -> None:
    result = run("ruff", "format", "--check", "desktop", "tests", "bench", "packaging")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict() -> None:
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


CORE = ("store", "migrations", "chat_server", "provider", "converter", "app", "config", "protocol")


def test_core_modules_never_import_the_ui() -> None:
    for name in CORE:
        path = ROOT / "desktop" / f"{name}.py"
        text = path.read_text()
        assert "import webview" not in text and "from webview" not in text, path
