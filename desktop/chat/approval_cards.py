"""The approval card: a widget that names the tool, where it comes from and its arguments in
full, with Approve, Always allow in this chat and Deny; once answered, it shows what was decided
and when (or why nothing ran)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from chatkit.widgets import DynamicWidgetRoot

from desktop.store.approvals import Decision

ACTION = "approval.decide"
CARD_KEY = "approval"
_DONE = {
    "approve": ("Approved", "success", "check-circle"),
    "always": ("Always allowed in this chat", "success", "check-circle"),
    "deny": ("Denied", "danger", "empty-circle"),
}


def arguments_text(raw: str | None) -> str:
    """The arguments as pretty JSON when they are JSON, else exactly as the model sent them."""
    if not raw:
        return "{}"
    try:
        return json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
    except (TypeError, ValueError):
        return raw


def _code(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}json\n{text}\n{fence}"


def _when(at: float) -> str:
    moment = datetime.fromtimestamp(at)
    if moment.date() == datetime.now().date():
        return moment.strftime("%H:%M")
    return moment.strftime("%Y-%m-%d %H:%M")


def _header(label: str, origin: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "Row",
            "gap": 2,
            "align": "center",
            "children": [
                {"type": "Icon", "name": "bolt", "size": "md"},
                {"type": "Title", "value": f"Run {label}?", "size": "sm"},
            ],
        },
        {"type": "Caption", "value": origin},
    ]


def _card(label: str, origin: str, arguments: str, *rest: dict[str, Any]) -> DynamicWidgetRoot:
    """The card: what runs, where it comes from, its arguments in full, then `rest`."""
    arguments_block = {"type": "Markdown", "value": _code(arguments_text(arguments))}
    return DynamicWidgetRoot.model_validate(
        {
            "type": "Card",
            "key": CARD_KEY,
            "size": "full",
            "children": [*_header(label, origin), arguments_block, *rest],
        }
    )


def pending_card(label: str, origin: str, arguments: str) -> DynamicWidgetRoot:
    def button(text: str, decision: Decision, style: str) -> dict[str, Any]:
        return {
            "type": "Button",
            "label": text,
            "style": style,
            "onClickAction": {
                "type": ACTION,
                "payload": {"decision": decision},
                "loadingBehavior": "container",
            },
        }

    return _card(
        label,
        origin,
        arguments,
        {"type": "Text", "value": "Nothing runs until you choose.", "size": "sm"},
        {
            "type": "Row",
            "gap": 2,
            "wrap": "wrap",
            "children": [
                button("Approve", "approve", "primary"),
                button("Always allow in this chat", "always", "secondary"),
                button("Deny", "deny", "secondary"),
            ],
        },
    )


def answered_card(
    label: str, origin: str, arguments: str, status: str, *, color: str, icon: str
) -> DynamicWidgetRoot:
    return _card(
        label,
        origin,
        arguments,
        {
            "type": "Row",
            "gap": 2,
            "align": "center",
            "children": [
                {"type": "Icon", "name": icon, "size": "sm", "color": color},
                {"type": "Text", "value": status, "size": "sm", "weight": "semibold"},
            ],
        },
    )


def decided_card(
    label: str, origin: str, arguments: str, decision: str, at: float
) -> DynamicWidgetRoot:
    text, color, icon = _DONE.get(decision, ("Answered", "secondary", "info"))
    return answered_card(label, origin, arguments, f"{text} at {_when(at)}", color=color, icon=icon)


def expired_card(label: str, origin: str, arguments: str, why: str) -> DynamicWidgetRoot:
    return answered_card(label, origin, arguments, why, color="secondary", icon="info")


def summary(label: str, origin: str, status: str) -> str:
    """How the card reads to the model on later turns (and what Copy gives)."""
    return f"Approval request for the tool {label} ({origin}): {status}."


def card_facts(widget: Any) -> tuple[str, str, str] | None:
    """(label, origin, arguments) read back from a stored card, to redraw it answered."""
    if getattr(widget, "key", None) != CARD_KEY:
        return None
    data = widget.model_dump(exclude_none=True) if hasattr(widget, "model_dump") else widget
    children = data.get("children") or []
    try:
        title = children[0]["children"][1]["value"]
        origin = children[1]["value"]
        code = children[2]["value"]
    except (KeyError, IndexError, TypeError):
        return None
    label = title.removeprefix("Run ").removesuffix("?")
    body = code.split("\n", 1)[1].rsplit("\n", 1)[0] if "\n" in code else code
    return label, origin, body
