"""current_time: today's date and the local time (models don't know either)."""

from __future__ import annotations

from datetime import datetime

from agents import FunctionTool

from desktop.chat.tools.base import define


async def current_time() -> str:
    """Today's date, the day of the week and the user's local time with its UTC offset."""
    now = datetime.now().astimezone()
    return now.strftime("%A %d %B %Y, %H:%M (UTC%z)")


def build() -> FunctionTool:
    return define(current_time, name="current_time", timeout_s=5)
