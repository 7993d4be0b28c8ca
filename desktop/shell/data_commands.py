"""The data subcommands: `export`, `import`, `backup` and `restore` (with `--data-dir`).

`export` and `backup` only read the history (a read-only connection, SQLite's online backup), so
they also work while the app runs. `import` and `restore` write it: they hold the data dir's
instance lock while they work, and while the app runs on that data dir they say so and change
nothing."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from desktop.errors import DesktopError
from desktop.shell.launch import fail

RUNNING = (
    "ChatKit Desktop is running on {data}. Close it first, then run this again "
    "(nothing was changed)."
)


WRITES = ("import", "restore")


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    export = commands.add_parser(
        "export", parents=[common], help="write all chats (or one) to a JSON or Markdown file"
    )
    export.add_argument(
        "--format",
        choices=["json", "markdown"],
        default="json",
        help="json (lossless, re-importable) or markdown (readable; a zip for all chats)",
    )
    export.add_argument("--thread", metavar="ID", help="only this chat")
    export.add_argument("out", metavar="OUT", help="the file to write")
    imported = commands.add_parser(
        "import",
        parents=[common],
        help="add the chats of a ChatKit Desktop JSON export or a ChatGPT data export",
    )
    imported.add_argument(
        "path", metavar="PATH", help="export.json, ChatGPT's conversations.json, or its zip"
    )
    commands.add_parser(
        "backup",
        parents=[common],
        help="back up the chat history, attachments and settings; prints the backup's path",
    )
    restore = commands.add_parser(
        "restore",
        parents=[common],
        help="put a backup back in place (the newest if none is named)",
    )
    restore.add_argument("backup", nargs="?", help="a backup's folder name or path")


class _Progress:
    """A progress line on stderr for long imports (redrawn in place on a terminal)."""

    def __init__(self) -> None:
        self._shown = time.monotonic()  # quick imports show no progress at all

    def read(self, chats: int) -> None:
        self._show(f"Importing… {chats:,} chats read and checked. Ctrl+C cancels.")

    def __call__(self, added: int, skipped: int) -> None:
        self._show(f"Importing… {added:,} chats added ({skipped:,} already here). Ctrl+C cancels.")

    def _show(self, line: str) -> None:
        now = time.monotonic()
        if now - self._shown < 0.5:
            return
        self._shown = now
        end = "\r" if sys.stderr.isatty() else "\n"
        print(line, end=end, file=sys.stderr, flush=True)

    @staticmethod
    def done() -> None:
        if sys.stderr.isatty():
            print(" " * 70, end="\r", file=sys.stderr, flush=True)


def run_command(args: argparse.Namespace, data: Path) -> int:
    from desktop.paths import resolve_paths
    from desktop.settings.config import load_settings
    from desktop.shell.instance import InstanceLock
    from desktop.store.backups import create_backup, find_backup, restore_backup, restored_line

    lock = InstanceLock(data)
    held = lock.acquire()
    if not held and args.command in WRITES:
        return fail(RUNNING.format(data=data))
    # Not held: the app runs, and this command only reads, which is safe beside it.
    try:
        keep = load_settings(resolve_paths(data).settings).backups_keep
        if args.command == "export":
            from desktop.store.export_json import export_json
            from desktop.store.export_markdown import export_markdown

            out = Path(args.out).expanduser()
            write = export_markdown if args.format == "markdown" else export_json
            count = write(data, out, args.thread)
            print(f"Exported {count} chat{'s' if count != 1 else ''} to {out}.")
            return 0
        if args.command == "import":
            from desktop.store.chatgpt_archive import looks_like_chatgpt
            from desktop.store.import_chatgpt import parse_chatgpt
            from desktop.store.import_json import parse_export, write_import

            source = Path(args.path).expanduser()
            # Attachments are decoded to files in the data dir, so staging renames them.
            scratch = data / "imports"
            chatgpt = looks_like_chatgpt(source)
            try:
                parsed = parse_chatgpt(source) if chatgpt else parse_export(source, scratch)
                shown = _Progress()
                result = write_import(data, parsed, shown, shown.read)
            except KeyboardInterrupt:
                return fail("import cancelled; nothing was added.", 130)
            except RecursionError:
                # json_stream refuses deep nesting first; this is the last guard, said plainly.
                return fail(f"{source.name} nests too deeply to import; nothing was added.")
            finally:
                _Progress.done()
            print(
                f"Imported {result.added} chat{'s' if result.added != 1 else ''}"
                + (f" ({result.skipped} already here)." if result.skipped else ".")
            )
            for note in result.notes:
                print(note, file=sys.stderr)
            return 0
        if args.command == "backup":
            made = create_backup(data, "manual", keep=keep)
            print(made.path)
            return 0
        chosen = find_backup(data, args.backup)
        saved = restore_backup(data, chosen, keep=keep)
        print(restored_line(chosen))
        if saved is not None:
            print(f"What was there before is kept as {saved.path}.")
        return 0
    except DesktopError as exc:
        return fail(exc.message)
    finally:
        if held:
            lock.release()
