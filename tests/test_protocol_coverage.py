"""The built-in client handles every event and update type in chatkit's ThreadStreamEvent union.

The list of types comes from chatkit's own pydantic models, so a type added to chatkit fails
this test until web/src/chat/state.ts handles it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_args

from chatkit.types import ThreadItemUpdate, ThreadStreamEvent

STATE_TS = Path(__file__).resolve().parent.parent / "web" / "src" / "chat" / "state.ts"


def literal_types(union: Any) -> set[str]:
    while get_args(union) and not hasattr(union, "model_fields"):
        args = get_args(union)
        if len(args) == 1 or not all(hasattr(a, "model_fields") for a in args):
            union = args[0]
            continue
        return {model.model_fields["type"].default for model in args}
    raise AssertionError(f"not a union of models: {union}")


def handler_keys(table: str) -> set[str]:
    source = STATE_TS.read_text()
    start = source.index(f"export const {table}")
    body = source[start : source.index("\n};", start)]
    return set(re.findall(r'^  "?([a-z_.]+)"?: ', body, flags=re.MULTILINE))


def test_every_stream_event_type_is_handled() -> None:
    expected = literal_types(ThreadStreamEvent)
    assert "thread.item.updated" in expected and len(expected) >= 12
    assert handler_keys("EVENT_HANDLERS") == expected


def test_every_item_update_type_is_handled() -> None:
    expected = literal_types(ThreadItemUpdate)
    assert "assistant_message.content_part.text_delta" in expected
    assert handler_keys("UPDATE_HANDLERS") == expected


WIDGETS_TS = STATE_TS.parent / "widgets.ts"
# Chart series kinds: not components, drawn inside the Chart.
_SERIES = {"bar", "line", "area"}


def widget_types() -> set[str]:
    import chatkit.widgets as widgets

    found: set[str] = set()
    for name in dir(widgets):
        fields = getattr(getattr(widgets, name), "model_fields", None)
        if fields and "type" in fields:
            found.update(a for a in get_args(fields["type"].annotation) if isinstance(a, str))
    return found


def test_every_widget_type_is_rendered_by_the_built_in_client() -> None:
    """A widget type added to chatkit fails this test until web/src/chat/widgets.ts draws it."""
    types = widget_types()
    assert {"Card", "Chart", "Checkbox", "RadioGroup", "Basic"} <= types
    source = WIDGETS_TS.read_text()
    rendered = set(re.findall(r'case "([A-Za-z]+)"', source))
    assert types - _SERIES - rendered == set()
    assert all(f'"{kind}"' in source for kind in types & _SERIES)
