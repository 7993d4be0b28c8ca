"""Start the real app as a subprocess, serving only: for CLI tests, crash tests and benchmarks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def start_headless(
    data_dir: Path, env: dict[str, str], *extra: str, stderr: int = subprocess.PIPE
) -> tuple[subprocess.Popen[str], int]:
    """`python -m desktop --no-window --port 0` on `data_dir`; returns the process and its port."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "desktop",
            "--no-window",
            "--port",
            "0",
            "--data-dir",
            str(data_dir),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        cwd=ROOT,
        env={**os.environ, **env},
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if match := re.search(r"serving on http://127\.0\.0\.1:(\d+)", line):
            return proc, int(match.group(1))
    proc.kill()
    out, err = proc.communicate()
    raise AssertionError(f"the app did not start: {out} {err}")


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`python -m desktop ARGS` to its end (the data subcommands), with its output."""
    return subprocess.run(
        [sys.executable, "-m", "desktop", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
    )
