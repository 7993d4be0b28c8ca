"""Launch time under Xvfb: process start -> a usable app, against an empty pywebview window.

Both are timed from outside, from just before the process is spawned to the line it prints when
it is ready: the empty window when its page's load event fires, the app when its page says the
composer is usable (a fresh data dir with a key and the built-in chat, so the figure doesn't
include onboarding or a wait for OpenAI's CDN). Runs alternate between the two, after one untimed
launch of each: from source, that launch writes the bytecode of the app's own modules (installed
packages, the empty window's, got theirs from pip), as any second launch on a user's machine finds
it; PYTHONDONTWRITEBYTECODE is dropped so that it can. Usage:

    python bench/launch.py --runs 7
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.xvfb import start_xvfb  # noqa: E402


def timed_launch(args: list[str], ready: re.Pattern[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    elapsed = None
    for line in proc.stdout:
        if ready.search(line):
            elapsed = time.perf_counter() - t0
            break
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    if elapsed is None:
        raise RuntimeError(f"{args} never reported a loaded page")
    return elapsed


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "median_s": statistics.median(samples),
        "min_s": min(samples),
        "max_s": max(samples),
        "n": len(samples),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", type=Path, default=ROOT / "bench-results" / "launch.json")
    parser.add_argument("--app", help="a built app binary to time instead of `python -m desktop`")
    parser.add_argument("--empty", help="a built empty-window binary to time instead of the script")
    args = parser.parse_args()
    app_cmd = [args.app] if args.app else [sys.executable, "-m", "desktop"]
    empty_cmd = (
        [args.empty] if args.empty else [sys.executable, str(ROOT / "bench" / "empty_window.py")]
    )
    xvfb, screen = start_xvfb()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["DISPLAY"] = screen
    empty: list[float] = []
    app: list[float] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            app_env = {**env, "OPENAI_API_KEY": "sk-bench-0000000000000000"}

            def launch_app(run: int) -> float:
                # A fresh data dir each run: a first launch does the most work (creating the DB).
                data = Path(tmp) / f"run{run}"
                data.mkdir()
                (data / "settings.json").write_text(json.dumps({"chat_interface": "builtin"}))
                return timed_launch(
                    [*app_cmd, "--data-dir", str(data)], re.compile("window is ready"), app_env
                )

            timed_launch(empty_cmd, re.compile("^loaded"), env)
            launch_app(-1)
            for run in range(args.runs):
                empty.append(timed_launch(empty_cmd, re.compile("^loaded"), env))
                app.append(launch_app(run))
    finally:
        xvfb.terminate()
        xvfb.wait()
    result = {
        "empty_window": summary(empty),
        "app": summary(app),
        "ratio_of_medians": statistics.median(app) / statistics.median(empty),
        "samples": {"empty_window": empty, "app": app},
    }
    kind = "built bundles" if args.app else "from source"
    print(f"Launch to a usable window under Xvfb, {kind}, {args.runs} runs each (seconds)")
    print(f"{'':22} {'median':>8} {'min':>8} {'max':>8}")
    for name in ("empty_window", "app"):
        s = result[name]
        print(f"{name:22} {s['median_s']:8.2f} {s['min_s']:8.2f} {s['max_s']:8.2f}")  # type: ignore[index]
    print(f"app / empty window (medians): {result['ratio_of_medians']:.2f}x")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
