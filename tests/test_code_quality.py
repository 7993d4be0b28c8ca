"""Lint and type checks run with the tests, so the one test command checks everything."""

from __future__ import annotations

import ast
import json
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


def test_import_contracts() -> None:
    """The layers and boundaries written in pyproject.toml's [tool.importlinter]."""
    result = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports"))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]


WALK = """
import importlib, json, pkgutil, sys
import desktop
loaded = {}
for info in pkgutil.walk_packages(desktop.__path__, "desktop."):
    if info.name in ("desktop.shell.window", "desktop.__main__"):
        continue
    importlib.import_module(info.name)
    loaded[info.name] = "webview" in sys.modules
print(json.dumps(loaded))
"""


def test_no_module_but_the_window_loads_webview() -> None:
    """Every module of the package, a new one included, in a fresh interpreter: importing any of
    them (and all of them together) never loads the UI toolkit."""
    result = subprocess.run(
        [sys.executable, "-c", WALK], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert len(loaded) > 20, loaded
    assert [name for name, ui in loaded.items() if ui] == []


def test_agents_are_built_in_one_place() -> None:
    """Only desktop/chat/agent.py constructs an `Agent` (from an assistant, the provider settings
    and the tool registry); everything else asks it."""
    builders = set()
    for path in sorted((ROOT / "desktop").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call):
                func = node.func.value if isinstance(node.func, ast.Subscript) else node.func
                if isinstance(func, ast.Name) and func.id == "Agent":
                    builders.add(path.relative_to(ROOT).as_posix())
    assert builders == {"desktop/chat/agent.py"}


MAX_LINES = 300


def test_no_module_is_over_300_lines() -> None:
    """Small modules, each with one job: the package's Python and the page's TypeScript (tests
    aside; the built page is not a source)."""
    sources = [*(ROOT / "desktop").rglob("*.py"), *(ROOT / "web" / "src").rglob("*.ts")]
    assert len(sources) > 100, sources
    sizes = {p.relative_to(ROOT).as_posix(): len(p.read_text().splitlines()) for p in sources}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}
