"""All benchmarks, one command: `python bench/run.py` (full scale) or `--small` (what CI runs).

Runs bench/history.py, bench/relay.py, bench/agent_tools.py, bench/mcp_roundtrip.py,
bench/data_portability.py, bench/backup_live.py and bench/launch.py (plus the built bundles' launch when dist/ has
them), then prints one table of every figure next to its target and writes
bench-results/summary.json. Figures never fail the run: they are for reading.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench-results"


def run(script: str, *args: str) -> dict[str, Any]:
    target = OUT / f"{Path(script).stem}.json"
    cmd = [sys.executable, str(ROOT / "bench" / script), *args, "--json", str(target)]
    print("+", " ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)
    return json.loads(target.read_text())  # type: ignore[no-any-return]


def page_sizes() -> dict[str, int]:
    """Bytes of the built page's first script and of the parts it loads on demand."""
    import gzip
    import re

    dist = ROOT / "desktop" / "ui" / "dist"
    index = (dist / "index.html").read_text()
    entry = re.search(r'src="/assets/([^"]+\.js)"', index)
    if entry is None:
        raise SystemExit("the page isn't built: npm --prefix web run build")
    first = (dist / "assets" / entry.group(1)).read_bytes()
    sizes = {"first script": len(first), "first script (gzip)": len(gzip.compress(first))}
    for part in ("highlight", "math"):
        for path in (dist / "assets").glob(f"{part}-*.js"):
            sizes[f"{part} (on demand)"] = path.stat().st_size
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--small", action="store_true", help="CI scale")
    args = parser.parse_args()
    small = ["--small"] if args.small else []
    history = run("history.py", *small, *(["--repeat", "200"] if args.small else []))
    relay = run("relay.py", *small)
    agents = run("agent_tools.py", *small)
    mcp = run("mcp_roundtrip.py", *small)
    data = run("data_portability.py", *small)
    live_backup = run("backup_live.py", *small)
    launch = run("launch.py", "--runs", "5" if args.small else "7")
    bundle_app = ROOT / "dist" / "chatkit-desktop" / "chatkit-desktop"
    bundle_empty = ROOT / "dist" / "empty-window" / "empty-window"
    bundle = None
    if bundle_app.exists() and bundle_empty.exists():
        target = OUT / "launch-bundle.json"
        cmd = [
            sys.executable,
            str(ROOT / "bench" / "launch.py"),
            "--runs",
            "5" if args.small else "7",
            "--app",
            str(bundle_app),
            "--empty",
            str(bundle_empty),
            "--json",
            str(target),
        ]
        subprocess.run(cmd, check=True, cwd=ROOT)
        bundle = json.loads(target.read_text())

    figures = history["figures"]
    large = next(k for k in figures["threads.list first page"] if k not in ("100", "ratio"))
    t, r, m, c = relay["ttft_ms"], relay["relay"], relay["memory_mb"], relay["concurrency"]
    sizes = page_sizes()
    rows: list[tuple[str, str, str, bool | None]] = [
        (
            "launch to a usable composer vs empty window",
            f"{launch['ratio_of_medians']:.2f}x",
            "<= 1.3x",
            launch["ratio_of_medians"] <= 1.3,
        ),
        (
            "page: first script",
            f"{sizes['first script'] / 1000:.0f} kB",
            "< 250 kB",
            sizes["first script"] < 250_000,
        ),
        (
            "page: first script, gzip",
            f"{sizes['first script (gzip)'] / 1000:.0f} kB",
            "reported",
            None,
        ),
    ]
    rows += [
        (f"page: {name}", f"{size / 1000:.0f} kB", "reported", None)
        for name, size in sizes.items()
        if "on demand" in name
    ]
    if bundle:
        rows.append(
            (
                "launch vs empty window (built bundles)",
                f"{bundle['ratio_of_medians']:.2f}x",
                "<= 1.3x",
                bundle["ratio_of_medians"] <= 1.3,
            )
        )
    rows += [
        (
            "time to first token, added (median)",
            f"{t['added_median']:.1f} ms",
            "< 10 ms",
            t["added_median"] < 10,
        ),
        (
            "per-token relay cost",
            f"{r['per_token_us']:.0f} us",
            "< 100 us",
            r["per_token_us"] < 100,
        ),
        (
            "relay throughput vs raw client",
            f"{r['throughput_ratio']:.2f}x",
            ">= 0.5x",
            r["throughput_ratio"] >= 0.5,
        ),
    ]
    for name in (
        "threads.list first page",
        "threads.list deep page",
        "items.list first page",
        "items.list deep page",
    ):
        f = figures[name]
        rows.append(
            (
                f"{name} at {large} threads (median)",
                f"{f[large]['median_ms']:.2f} ms",
                "< 5 ms",
                f[large]["median_ms"] < 5,
            )
        )
        rows.append(
            (f"  {large} vs 100 threads", f"{f['ratio']:.2f}x", "<= 1.5x", f["ratio"] <= 1.5)
        )
    search = agents["search"]
    for name in search["queries"]:
        f = search[name]
        rows.append(
            (
                f"search at {search['threads']} threads, {name}",
                f"{f['median_ms']:.1f} ms",
                "< 50 ms",
                f["median_ms"] < 50,
            )
        )
    for api, f in agents["tool_round_trip"].items():
        rows.append(
            (
                f"tool round-trip added by the app ({api})",
                f"{f['added_ms']:.1f} ms",
                "< 20 ms",
                f["added_ms"] < 20,
            )
        )
    rows.append(
        (
            "MCP tool call, direct (stdio, median)",
            f"{mcp['direct_call_ms']:.1f} ms",
            "reported",
            None,
        )
    )
    for api, f in mcp["apis"].items():
        rows.append(
            (
                f"MCP call through the app, overhead ({api})",
                f"{f['overhead_ms']:.1f} ms",
                "< 20 ms",
                f["overhead_ms"] < 20,
            )
        )
    n = f"{data['conversations']:,} conversations"
    rows += [
        (f"ChatGPT import, {n}", f"{data['import_s']:.1f} s", "< 60 s at 10,000", None),
        (
            f"  import peak memory, {n}",
            f"{data['import_peak_mb']:.0f} MB",
            "< 300 MB",
            data["import_peak_mb"] < 300,
        ),
        (f"JSON export, {n}", f"{data['export_s']:.1f} s", "< 30 s at 10,000", None),
        (
            f"backup of a {data['database_mb']:.0f} MB history",
            f"{data['backup_s']:.1f} s",
            "reported",
            None,
        ),
    ]
    busy = live_backup["during_backup"]
    rows += [
        (
            f"backup of a {live_backup['database_mb']:.0f} MB history, app running",
            f"{live_backup['backup_s']:.1f} s",
            "reported (1 GB full scale)",
            None,
        ),
        (
            "  app answers during it: p95 / max",
            f"{busy['p95_ms']:.0f} / {busy['max_ms']:.0f} ms",
            "p95 < 100 ms",
            busy["p95_ms"] < 100,
        ),
        (
            "restore of that backup, app running",
            f"{live_backup['restore_s']:.1f} s",
            "reported",
            None,
        ),
    ]
    cold = figures["cold start: open + first page"]
    rows += [
        (
            f"cold start at {large} threads",
            f"{cold[large]['median_ms']:.1f} ms",
            f"<= 1.5x of 100 ({cold['ratio']:.2f}x)",
            cold["ratio"] <= 1.5,
        ),
        ("RSS idle", f"{m['idle']:.0f} MB", "<= 150 MB", m["idle"] <= 150),
        (
            f"RSS growth after {m['turns']} turns",
            f"{m['growth']:.1f} MB",
            "<= 20 MB",
            m["growth"] <= 20,
        ),
        ("10 streams + listing: added p95", f"{c['added_p95_ms']:.1f} ms", "reported", None),
        ("10 streams + listing: errors", str(c["errors"]), "0", c["errors"] == 0),
    ]
    print("\nChatKit Desktop benchmarks" + (" (CI scale)" if args.small else ""))
    print(f"{'figure':52} {'measured':>12} {'target':>24}  met")
    for name, value, goal, met in rows:
        mark = "-" if met is None else ("yes" if met else "NO")
        print(f"{name:52} {value:>12} {goal:>24}  {mark}")
    summary = {
        "rows": [{"figure": n, "measured": v, "target": t_, "met": m_} for n, v, t_, m_ in rows],
        "history": history,
        "relay": relay,
        "agents": agents,
        "mcp": mcp,
        "data": data,
        "backup_live": live_backup,
        "launch": launch,
        "launch_bundle": bundle,
        "page_sizes": sizes,
    }
    (OUT / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"wrote {OUT / 'summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
