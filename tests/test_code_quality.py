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


# The HTTP layer is the only package that may import the web framework and server directly.
HTTP_PACKAGE = "desktop.api."
HTTP_PACKAGES = ("fastapi", "starlette", "uvicorn")
WINDOW_MODULE = "desktop.shell.window"

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


def _direct_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_layers() -> None:
    """`webview` only in the window module; the web framework only in the HTTP layer."""
    for path in sorted((ROOT / "desktop").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        imports = _direct_imports(path)
        if module != WINDOW_MODULE:
            assert "webview" not in imports, module
        if not module.startswith(HTTP_PACKAGE):
            assert not imports & set(HTTP_PACKAGES), (module, imports & set(HTTP_PACKAGES))


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
