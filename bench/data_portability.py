"""Import, export and backup at scale.

- import: a synthetic ChatGPT export of N conversations x 20 messages (10,000 x 20 = 200,000
  messages; every fifth conversation has a regenerated answer, so a branch) through
  `python -m desktop import`: wall time and the process's peak memory.
- export: the same history through `python -m desktop export` (JSON): wall time, peak memory.
- backup: `python -m desktop backup` of that history: wall time and the size backed up.

    python bench/data_portability.py            # 10,000 conversations
    python bench/data_portability.py --small    # CI scale: 1,000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = 20
WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "a",
    "lazy",
    "dog",
    "while",
    "seven",
    "wizards",
    "quietly",
    "hex",
]


def conversation(n: int) -> dict[str, Any]:
    mapping: dict[str, Any] = {
        "root": {"id": "root", "parent": None, "children": ["m0"], "message": None}
    }
    for i in range(MESSAGES):
        role = "user" if i % 2 == 0 else "assistant"
        words = " ".join(WORDS[(n + i + k) % len(WORDS)] for k in range(40))
        node_id = f"m{i}"
        mapping[node_id] = {
            "id": node_id,
            "parent": "root" if i == 0 else f"m{i - 1}",
            "children": [f"m{i + 1}"] if i < MESSAGES - 1 else [],
            "message": {
                "id": node_id,
                "author": {"role": role},
                "create_time": 1_700_000_000 + n * 100 + i,
                "content": {"content_type": "text", "parts": [f"{n}-{i} {words}"]},
                "metadata": {},
            },
        }
    if n % 5 == 0:  # a regenerated last answer: a branch
        mapping[f"m{MESSAGES - 2}"]["children"].append("alt")
        mapping["alt"] = {
            "id": "alt",
            "parent": f"m{MESSAGES - 2}",
            "children": [],
            "message": {
                "id": "alt",
                "author": {"role": "assistant"},
                "create_time": 1_700_000_000 + n * 100 + 99,
                "content": {"content_type": "text", "parts": ["another answer"]},
                "metadata": {},
            },
        }
    return {
        "title": f"Conversation {n}",
        "create_time": 1_700_000_000 + n * 100,
        "update_time": 1_700_000_000 + n * 100 + MESSAGES,
        "mapping": mapping,
        "current_node": f"m{MESSAGES - 1}",
        "conversation_id": f"conv-{n}",
    }


def write_export(path: Path, count: int) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("[")
        for n in range(count):
            if n:
                handle.write(",")
            handle.write(json.dumps(conversation(n)))
        handle.write("]")


# Runs `python -m desktop ARGS` and then reports that process's own peak memory.
_WRAPPER = (
    "import resource, runpy, sys\n"
    "sys.argv = ['desktop', *sys.argv[1:]]\n"
    "try:\n"
    "    runpy.run_module('desktop', run_name='__main__')\n"
    "finally:\n"
    "    print('PEAK_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
)


def timed(*args: str) -> tuple[float, float, str]:
    """Seconds, the command's own peak memory (MB), and what it printed."""
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *args], capture_output=True, text=True, cwd=ROOT
    )
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{args[0]} failed: {done.stderr}")
    peak_kb = int(done.stderr.rsplit("PEAK_KB", 1)[1].split()[0])
    return seconds, peak_kb / 1024, done.stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--small", action="store_true", help="CI scale")
    parser.add_argument(
        "--json", type=Path, default=ROOT / "bench-results" / "data_portability.json"
    )
    args = parser.parse_args()
    count = 1_000 if args.small else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "conversations.json"
        write_export(source, count)
        size_mb = source.stat().st_size / 1e6
        data = Path(tmp) / "data"
        imp_s, imp_mb, imp_out = timed("import", str(source), "--data-dir", str(data))
        exp_s, exp_mb, _ = timed("export", str(Path(tmp) / "out.json"), "--data-dir", str(data))
        db_mb = (data / "chats.db").stat().st_size / 1e6
        bak_s, _, _ = timed("backup", "--data-dir", str(data))
    results = {
        "conversations": count,
        "messages": count * MESSAGES,
        "export_file_mb": size_mb,
        "import_s": imp_s,
        "import_peak_mb": imp_mb,
        "import_output": imp_out,
        "export_s": exp_s,
        "export_peak_mb": exp_mb,
        "database_mb": db_mb,
        "backup_s": bak_s,
    }
    print(
        f"ChatGPT export: {count:,} conversations, {count * MESSAGES:,} messages, {size_mb:.0f} MB"
    )
    print(f"import   {imp_s:6.1f} s, peak {imp_mb:5.0f} MB (goal < 60 s, < 300 MB)  {imp_out}")
    print(f"export   {exp_s:6.1f} s, peak {exp_mb:5.0f} MB (goal < 30 s)")
    print(f"backup   {bak_s:6.1f} s of a {db_mb:.0f} MB history")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
