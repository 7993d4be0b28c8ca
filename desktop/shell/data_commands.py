"""The data subcommands: `backup` and `restore` (with `--data-dir`). They hold the data dir's
instance lock while they work, so they never write to a history the app has open: while the app
runs on that data dir, they say so and change nothing."""

from __future__ import annotations

import argparse
from pathlib import Path

from desktop.errors import ConfigError, StoreError
from desktop.shell.launch import fail

RUNNING = (
    "ChatKit Desktop is running on {data}. Close it first, then run this again "
    "(nothing was changed)."
)


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
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


def run_command(args: argparse.Namespace, data: Path) -> int:
    from desktop.paths import resolve_paths
    from desktop.settings.config import load_settings
    from desktop.shell.instance import InstanceLock
    from desktop.store.backups import create_backup, find_backup, restore_backup

    lock = InstanceLock(data)
    if not lock.acquire():
        return fail(RUNNING.format(data=data))
    try:
        keep = load_settings(resolve_paths(data).settings).backups_keep
        if args.command == "backup":
            made = create_backup(data, "manual", keep=keep)
            print(made.path)
            return 0
        chosen = find_backup(data, args.backup)
        saved = restore_backup(data, chosen, keep=keep)
        print(f"Restored {chosen.name}.")
        if saved is not None:
            print(f"What was there before is kept as {saved.path}.")
        return 0
    except (StoreError, ConfigError) as exc:
        return fail(exc.message)
    finally:
        lock.release()
