"""Models that retire: the dated table of OpenAI's announced shutdowns and their replacements,
and what a model's shutdown means today. The table is the fallback; a provider that says when a
model shuts down (OpenAI's `GET /v1/models` carries `shutdown_date`) is believed first, because
its date is the one its API will act on."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

# From OpenAI's deprecations page. Add a row when OpenAI announces one; a row whose date has
# passed stays, because settings, assistants and chats written earlier can still name the model.
KNOWN: dict[str, tuple[date, str]] = {
    "gpt-5-mini": (date(2026, 12, 11), "gpt-6.1-terra"),
    "gpt-5": (date(2026, 12, 11), "gpt-6.1-sol"),
    "gpt-5-nano": (date(2026, 12, 11), "gpt-6-luna"),
    "gpt-4o": (date(2027, 1, 14), "gpt-6-luna"),
    "gpt-4o-mini": (date(2027, 1, 14), "gpt-6-luna"),
    "gpt-4.1": (date(2027, 1, 14), "gpt-6-luna"),
    "gpt-4.1-mini": (date(2027, 1, 14), "gpt-6-luna"),
}

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Retirement:
    model: str
    shutdown: date
    # None when the provider dates a model the table doesn't know: nothing to switch to.
    replacement: str | None
    # True from the shutdown date on: the provider no longer answers for the model.
    retired: bool

    @property
    def when(self) -> str:
        return day_words(self.shutdown)

    def view(self) -> dict[str, object]:
        return {
            "shutdown_date": self.shutdown.isoformat(),
            "shutdown_words": self.when,
            "replacement": self.replacement,
            "retired": self.retired,
        }


def retirement(model: str, today: date, provider_date: date | None = None) -> Retirement | None:
    """The model's shutdown as of `today`, or None when none is known."""
    known = KNOWN.get(model)
    shutdown = provider_date or (known[0] if known else None)
    if shutdown is None:
        return None
    replacement = known[1] if known and known[1] != model else None
    return Retirement(model, shutdown, replacement, retired=today >= shutdown)


def parse_date(value: object) -> date | None:
    """A `YYYY-MM-DD` date, or None for anything else (a provider's odd value is ignored, not
    an error: the table still applies)."""
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def day_words(day: date) -> str:
    """`11 Dec 2026`: the same words in every language setting, unlike strftime's %b."""
    month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][
        day.month - 1
    ]
    return f"{day.day} {month} {day.year}"


def shut_down_notice(old: Retirement, new_model: str, also: Sequence[str] = ()) -> str:
    """What the chat says after moving off a model that shut down (`also`: who else moved)."""
    if not also:
        return f"{old.model} shut down on {old.when}; this chat now uses {new_model}."
    movers = ["this chat", *also]
    subject = ", ".join(movers[:-1]) + f" and {movers[-1]}"
    return f"{old.model} shut down on {old.when}; {subject} now use {new_model}."
