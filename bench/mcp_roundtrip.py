"""What an MCP tool call costs through the app, against calling the same server directly.

The server is the tests' stdio MCP server (tests/support/mcp_server.py), its `echo` tool.

- direct: a plain MCP client session (the `mcp` package) calling `echo`, median.
- through the app: a turn through POST /chatkit in which the model calls `mcp_notes__echo`
  (allowed in Settings, so no approval card) and then answers, minus the same turn without the
  call, minus what the extra model request costs the raw `openai` client. That is the whole MCP
  round-trip as the app makes it; minus the direct call, what is left is the app's overhead.

    python bench/mcp_roundtrip.py            # 50 turns per API flavour
    python bench/mcp_roundtrip.py --small    # CI scale: 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

import httpx
import openai

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent_tools import TOKEN, raw_tool_request, start_app, timed_turn  # noqa: E402

from tests.mcp_helpers import SERVER_SCRIPT, stdio_entry, write_config  # noqa: E402
from tests.support.fake_provider import FakeProvider, ToolCalls  # noqa: E402


async def direct_calls(repeat: int, quiet: TextIO) -> float:
    """Median seconds of one `echo` call on a session of its own (after warm-up)."""
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(command=sys.executable, args=[str(SERVER_SCRIPT), "stdio"])
    samples = []
    async with (
        stdio_client(params, errlog=quiet) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        await session.list_tools()
        for i in range(repeat + 3):
            t0 = time.perf_counter()
            await session.call_tool("echo", {"text": f"hi {i}"})
            if i >= 3:
                samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


async def through_app(provider: FakeProvider, url: str, api: str, repeat: int) -> dict[str, float]:
    raw = openai.AsyncOpenAI(base_url=provider.base_url, api_key="sk-bench", max_retries=0)
    call = ToolCalls([("mcp_notes__echo", {"text": "hi"})])
    plain, tooled, extra = [], [], []
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
    ) as client:
        allow = {"settings": {"tool_policies": {"mcp:notes": "allow"}}}
        (await client.put("/api/settings", json=allow)).raise_for_status()
        for _ in range(300):  # until the server is connected
            servers = (await client.get("/api/mcp")).json()["servers"]
            if servers and servers[0]["state"] == "connected":
                break
            await asyncio.sleep(0.1)
        for i in range(repeat + 3):
            provider.reply("Fine.")
            p = await timed_turn(client, f"plain {i}")
            provider.reply(call, "Echoed.")
            t = await timed_turn(client, f"tool {i}")
            provider.reply(call)
            e = await raw_tool_request(raw, api)
            if i >= 3:
                plain.append(p)
                tooled.append(t)
                extra.append(e)
    await raw.close()
    med = statistics.median
    return {
        "turn_with_mcp_call_ms": med(tooled) * 1000,
        "turn_without_ms": med(plain) * 1000,
        "extra_model_request_ms": med(extra) * 1000,
        "mcp_round_trip_in_app_ms": (med(tooled) - med(plain) - med(extra)) * 1000,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--small", action="store_true", help="CI scale")
    parser.add_argument("--json", type=Path, default=ROOT / "bench-results" / "mcp_roundtrip.json")
    args = parser.parse_args()
    repeat = 20 if args.small else 50
    with open(os.devnull, "w") as quiet:  # the server's start-up line
        direct_ms = asyncio.run(direct_calls(repeat * 2, quiet)) * 1000
    provider = FakeProvider().start()
    results: dict[str, Any] = {"direct_call_ms": direct_ms, "apis": {}}
    try:
        for api in ("chat_completions", "responses"):
            with tempfile.TemporaryDirectory() as tmp:
                data = Path(tmp) / "data"
                data.mkdir()
                write_config(data, {"notes": stdio_entry(Path(tmp))})
                proc, url = start_app(data, provider, api)
                try:
                    f = asyncio.run(through_app(provider, url, api, repeat))
                finally:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(timeout=30)
                f["overhead_ms"] = f["mcp_round_trip_in_app_ms"] - direct_ms
                results["apis"][api] = f
    finally:
        provider.stop()
    print("MCP tool round-trip (stdio server, fake provider, 127.0.0.1)")
    print(f"direct call on an MCP client session: {direct_ms:.2f} ms (median)")
    for api, f in results["apis"].items():
        print(
            f"{api:17} through the app {f['mcp_round_trip_in_app_ms']:6.1f} ms, overhead "
            f"{f['overhead_ms']:6.1f} ms over the direct call (turn with the call "
            f"{f['turn_with_mcp_call_ms']:.1f} ms, without {f['turn_without_ms']:.1f} ms, extra "
            f"model request {f['extra_model_request_ms']:.1f} ms)"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
