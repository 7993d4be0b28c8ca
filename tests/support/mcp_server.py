"""A real MCP server for the tests (and the bundle smoke test and the benchmark), on the mcp
package's own server: `python mcp_server.py stdio`, `... http PORT` (Streamable HTTP) or
`... sse PORT`.

Its tools: `echo`, `add`, `write_note` (writes a file: something that acts), `slow` (reports
progress, then answers), `crash` (the process dies mid-call) and `pid`; one listed resource,
`notes://readme`, and an unlisted template, `notes://private/{name}`.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("notes")


@server.tool()
def echo(text: str) -> str:
    """Says the text back."""
    return f"echo: {text}"


@server.tool()
def add(a: int, b: int) -> int:
    """Adds two whole numbers."""
    return a + b


@server.tool()
def write_note(name: str, text: str) -> str:
    """Writes a note file into the notes folder."""
    folder = Path(os.environ.get("NOTES_DIR", "."))
    (folder / name).write_text(text, encoding="utf-8")
    return f"wrote {len(text)} characters to {name}"


@server.tool()
async def slow(seconds: float, ctx: Context) -> str:
    """Works for a while, reporting progress."""
    steps = 4
    for i in range(steps):
        await ctx.report_progress(i + 1, steps, f"step {i + 1} of {steps}")
        await asyncio.sleep(seconds / steps)
    return f"done after {seconds} s"


@server.tool()
def crash() -> str:
    """Stops the server process at once."""
    print("notes server: crashing on purpose", file=sys.stderr, flush=True)
    os._exit(3)


@server.resource("notes://readme", name="Notes readme", mime_type="text/plain")
def readme() -> str:
    return "The notes folder keeps shopping lists and ideas."


@server.resource("notes://private/{name}", name="Private note", mime_type="text/plain")
def private(name: str) -> str:
    # A template, so never in the server's list: what a server can read but didn't offer.
    return f"PRIVATE NOTE {name}: the door code is 4711."


@server.tool()
def pid() -> int:
    """The server's process id."""
    return os.getpid()


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else "stdio"
    print(f"notes server starting ({mode})", file=sys.stderr, flush=True)
    if os.environ.get("NOTES_FAIL_START"):
        print("notes server: can't open the notes folder", file=sys.stderr, flush=True)
        sys.exit(2)
    pid_file = os.environ.get("NOTES_PID_FILE")
    if pid_file:
        with open(pid_file, "a", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()}\n")
    if mode == "http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    elif mode == "sse":
        server.run("sse", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run("stdio")


if __name__ == "__main__":
    main()
