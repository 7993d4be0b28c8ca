"""Reading a JSON object whose big parts are arrays (this app's export: `threads`, `assistants`)
in one pass, an element at a time, with every byte of the file under a cap.

An element of a streamed array may run to its field's cap; anything else (the header's scalars,
fields this app doesn't know) to OUTSIDE_MAX_BYTES, and is never built unless asked for: a file
padded with a huge unknown field is refused after a megabyte, not read into memory. String values
at a `spill` path (an attachment's base64) are handed to a function as they complete and replaced
by what it returns, so they count against no cap and a chat's attachments never sit in memory
together. Depth and cancel are checked as in json_stream.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

import ijson  # type: ignore[import-untyped]

from desktop.errors import ImportRefused
from desktop.store import json_stream
from desktop.store.json_stream import (
    CHUNK,
    MAX_DEPTH,
    Malformed,
    Truncated,
    WrongShape,
    too_deep,
)

# A header field is a few bytes; a megabyte leaves room for any field a later version adds.
OUTSIDE_MAX_BYTES = 1024 * 1024

Spill = Callable[[str], Any]


@dataclass(frozen=True)
class Field:
    """A top-level array read an element at a time; `what` names an element in messages."""

    what: str
    max_bytes: int = json_stream.MAX_ELEMENT_BYTES


class _Walker:
    """ijson's prefixed events, one call each: the depth, the kept header fields, and the
    elements of the streamed arrays built as they complete."""

    def __init__(
        self,
        fields: Mapping[str, Field],
        keep: Collection[str],
        spill: Mapping[str, Spill],
        max_depth: int,
    ) -> None:
        self.fields, self.keep, self.spill, self.max_depth = fields, keep, spill, max_depth
        self.depth = 0
        self.top: type | None = None
        self.key: str | None = None
        self.kept: dict[str, Any] = {}
        self.streaming: str | None = None  # the field whose array is being read
        self.counts: dict[str, int] = dict.fromkeys(fields, 0)
        self.builder: Any = None
        self.done: list[tuple[str, Any]] = []
        self.marks = 0  # a key or an element completed: the caps count from the last one
        self.spilled = 0  # characters handed to `spill` since the caller last looked

    def send(self, event: tuple[str, str, Any]) -> None:
        prefix, kind, value = event
        before = self.depth
        opens = kind == "start_map" or kind == "start_array"
        if opens:
            self.depth += 1
            if self.depth > self.max_depth:
                raise too_deep(self.max_depth)
        elif kind == "end_map" or kind == "end_array":
            self.depth -= 1
            if before <= 2 and self.builder is None:
                self.streaming = None  # the end of the top object, or of a streamed array
                return
        if before == 0:
            self.top = dict if kind == "start_map" else list if opens else type(value)
        elif before == 1:
            self._top_level(kind, value)
        elif self.streaming is not None:
            self._element(prefix, kind, value)

    def _top_level(self, kind: str, value: Any) -> None:
        if kind == "map_key":
            self.key = value
            self.marks += 1
            return
        if self.key is not None and self.key in self.keep:
            shape = {"start_map": dict, "start_array": list}.get(kind)
            self.kept[self.key] = shape or value
        if kind == "start_array" and self.key in self.fields:
            self.streaming = self.key

    def _element(self, prefix: str, kind: str, value: Any) -> None:
        if self.builder is None:
            self.builder = ijson.ObjectBuilder()
        if kind == "string" and prefix in self.spill:
            self.spilled += len(value)
            value = self.spill[prefix](value)
        self.builder.event(kind, value)
        if self.depth == 2:
            name = self.streaming or ""
            self.done.append((name, self.builder.value))
            self.counts[name] += 1
            self.builder = None
            self.marks += 1


def walk(
    stream: IO[Any],
    fields: Mapping[str, Field],
    *,
    keep: Collection[str] = (),
    spill: Mapping[str, Spill] | None = None,
    until: Callable[[dict[str, Any]], bool] = lambda kept: False,
    max_depth: int = MAX_DEPTH,
) -> Iterator[tuple[str, Any]]:
    """The elements of `fields`' arrays as (field, element), in the file's order; stops early
    once `until(kept header fields)` is true. Raises ImportRefused for a part over its cap,
    WrongShape (a Malformed) if the top level isn't an object, Malformed for text that isn't
    JSON, Truncated for text cut short."""
    read = json_stream.reader(stream)
    walker = _Walker(fields, keep, spill or {}, max_depth)
    events = json_stream.backend.parse_coro(walker, use_float=True)
    consumed = run = marks = 0
    ended = False
    while not ended and not until(walker.kept):
        json_stream.check_cancel()
        field = fields.get(walker.streaming or "")
        cap = field.max_bytes if field is not None else OUTSIDE_MAX_BYTES
        # As in json_stream: reads grow with an open value (linear), but stop a chunk past the cap.
        chunk = read(min(json_stream.read_size(run), max(0, cap - run) + CHUNK))
        consumed += len(chunk)
        try:
            if chunk:
                events.send(chunk)
            else:
                ended = True
                try:
                    events.close()
                except ijson.IncompleteJSONError as exc:
                    where = f"at byte {consumed:,}" if consumed else "it is empty"
                    raise Truncated(f"it ends too soon ({where})") from exc
        except ijson.JSONError as exc:
            raise Malformed(json_stream.first_line(exc), consumed) from exc
        if walker.top not in (None, dict):
            raise WrongShape("Expecting an object at the top", 0)
        yield from walker.done
        del walker.done[:]
        run = 0 if walker.marks != marks else run + len(chunk) - walker.spilled
        marks, walker.spilled = walker.marks, 0
        if run > cap:
            raise ImportRefused(_too_large(walker, field, cap))
    if walker.top is None:
        raise WrongShape("Expecting an object, found nothing", 0)


def _too_large(walker: _Walker, field: Field | None, cap: int) -> str:
    size = f"{cap / 2**20:g} MB"
    if field is not None:
        n = walker.counts[walker.streaming or ""] + 1
        return (
            f"{field.what.capitalize()} {n} is larger than {size}, more than this app imports "
            "in one piece. Nothing was imported."
        )
    name = str(walker.key)[:40]
    return (
        f"The file's field \"{name}\" is larger than {size}, which no export's is: the file is "
        "damaged or made to do harm. Nothing was imported."
    )


def outline(
    stream: IO[Any], keys: Collection[str], fields: Mapping[str, Field] | None = None
) -> dict[str, Any]:
    """The top-level scalars named in `keys` (a container given as `list` or `dict`), read only
    until all have been seen; other fields are skipped, within their caps. Raises like walk."""
    kept: dict[str, Any] = {}

    def seen(found: dict[str, Any]) -> bool:
        kept.update(found)
        return all(k in found for k in keys)

    for _ in walk(stream, fields or {}, keep=keys, until=seen):
        pass
    return kept
