"""Reading a large JSON file a piece at a time, so an import never holds a whole export (hundreds
of MB) in memory, with ijson's C parser (yajl) doing the work.

Every chunk goes first through a watcher that sees the parser's events: it refuses nesting
deeper than MAX_DEPTH before the builder gets the chunk (ijson's builder costs O(depth²), so a
few MB of brackets would take gigabytes, and later code would hit Python's recursion limit), and
notes the top-level shape. Between chunks the reader checks for cancel and refuses one element
that goes on for more than its byte cap.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable, Collection, Iterator
from contextvars import ContextVar
from typing import IO, Any

import ijson  # type: ignore[import-untyped]

from desktop.errors import ImportRefused

try:
    _backend = ijson.get_backend("yajl2_c")
except ImportError:  # pragma: no cover - wheels carry the C backend on every platform we ship
    _backend = ijson.get_backend("python")

BACKEND: str = _backend.backend_name
CHUNK = 64 * 1024
MAX_READ = 16 * 1024 * 1024
# Real exports nest about 10 levels (a widget tree perhaps 40); pydantic stops at ~250.
MAX_DEPTH = 128
# One ChatGPT conversation is text only: this is hundreds of books.
MAX_ELEMENT_BYTES = 64 * 1024 * 1024

_check: ContextVar[Callable[[], None] | None] = ContextVar("json_stream_check", default=None)


class Truncated(ValueError):
    """The text ended before the JSON did."""


class Malformed(json.JSONDecodeError):
    """Text that isn't JSON, or not the JSON expected; `offset` is about where (in bytes)."""

    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(reason, "", 0)
        self.reason = reason
        self.offset = offset

    def __str__(self) -> str:
        return f"{self.reason} (near byte {self.offset:,})"


@contextlib.contextmanager
def checking(check: Callable[[], None]) -> Iterator[None]:
    """Call `check` between chunks of every read in this context; to cancel, it raises."""
    token = _check.set(check)
    try:
        yield
    finally:
        _check.reset(token)


class _Outline:
    """The parser's events, one call each: the nesting depth and the top level's shape.
    Top-level fields hold their value when it is a scalar, else `list` or `dict`."""

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        self.depth = 0
        self.top: type | None = None
        self.key: str | None = None
        self.fields: dict[str, Any] = {}

    def send(self, event: tuple[str, Any]) -> None:
        kind, value = event
        if kind == "start_map" or kind == "start_array":
            shape = dict if kind == "start_map" else list
            if self.depth == 0:
                self.top = shape
            elif self.depth == 1 and self.key is not None:
                self.fields[self.key] = shape
            self.depth += 1
            if self.depth > self.max_depth:
                raise ImportRefused(
                    f"The file nests more than {self.max_depth} levels deep, which no export "
                    "does: it is damaged or made to do harm. Nothing was imported."
                )
        elif kind == "end_map" or kind == "end_array":
            self.depth -= 1
        elif self.depth == 1:
            if kind == "map_key":
                self.key = value
            elif self.key is not None:
                self.fields[self.key] = value
        elif self.depth == 0:
            self.top = type(value)


def _reader(stream: IO[Any]) -> Callable[[int], bytes]:
    handle: Any = stream  # IO's stubs don't admit it may also be a TextIOBase
    if isinstance(handle, io.TextIOWrapper):
        read: Callable[[int], bytes] = handle.buffer.read  # the bytes under it: its position
        return read
    if isinstance(handle, io.TextIOBase):
        return lambda n: handle.read(n).encode("utf-8")
    read = handle.read
    return read


def _first_line(exc: Exception) -> str:
    text = exc.args[0] if exc.args else exc
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text).strip().splitlines()[0] if str(text).strip() else "not JSON"


class Scan:
    """One pass over `stream`: the values at `prefix` (ijson's dotted path, "item" for the
    elements of a top-level array) as they complete, and the outline of the top level."""

    def __init__(self, stream: IO[Any], prefix: str | None, max_depth: int = MAX_DEPTH) -> None:
        self._read = _reader(stream)
        self.outline = _Outline(max_depth)
        self._events = _backend.basic_parse_coro(self.outline)
        self._found: list[Any] = ijson.sendable_list()
        self._items = None
        if prefix is not None:
            self._items = _backend.items_coro(self._found, prefix, use_float=True)
        self.consumed = 0
        self.ended = False

    def step(self, size: int = CHUNK) -> list[Any]:
        """Read and parse `size` bytes; the values they completed. Sets `ended` at the end."""
        check = _check.get()
        if check is not None:
            check()
        chunk = self._read(size)
        self.consumed += len(chunk)
        try:
            if chunk:
                self._events.send(chunk)
                if self._items is not None:
                    self._items.send(chunk)
            else:
                self.ended = True
                try:
                    self._events.close()
                    if self._items is not None:
                        self._items.close()
                except ijson.IncompleteJSONError as exc:
                    where = f"at byte {self.consumed:,}" if self.consumed else "it is empty"
                    raise Truncated(f"it ends too soon ({where})") from exc
        except ijson.JSONError as exc:
            raise Malformed(_first_line(exc), self.consumed) from exc
        found = list(self._found)
        del self._found[:]
        return found


def _read_size(open_for: int) -> int:
    return min(max(CHUNK, open_for // 4), MAX_READ)


def iter_items(
    stream: IO[Any],
    prefix: str,
    *,
    what: str = "conversation",
    max_bytes: int | None = None,
    top: type = list,
) -> Iterator[Any]:
    """The values at `prefix` in order, each refused (ImportRefused, naming it by `what` and
    number) if it runs on for more than `max_bytes` (MAX_ELEMENT_BYTES if None). Raises Malformed (a JSONDecodeError) for
    text that isn't JSON or whose top level isn't a `top`, Truncated for text cut short."""
    cap = MAX_ELEMENT_BYTES if max_bytes is None else max_bytes
    field = prefix.split(".", 1)[0]
    scan = Scan(stream, prefix)
    count = 0
    run = 0  # bytes read since the last value completed
    since = 0  # of those, the bytes inside the array the values come from
    while not scan.ended:
        before = scan.consumed
        # yajl lexes a token cut by a chunk's end again from its start with the next chunk:
        # reads that grow with the open value keep one long string linear, not quadratic.
        # ...but never past the cap by more than a chunk, so the cap is exact to a chunk.
        found = scan.step(min(_read_size(run), cap - since + CHUNK))
        shape = scan.outline.top
        if shape is not None and shape is not top:
            raise Malformed(f"Expecting a {top.__name__} at the top", 0)
        for value in found:
            count += 1
            yield value
        read = scan.consumed - before
        run = 0 if found else run + read
        inside = top is list or scan.outline.key == field
        since = 0 if found else since + (read if inside else 0)
        if since > cap:
            raise ImportRefused(
                f"{what.capitalize()} {count + 1} is larger than {cap / 2**20:g} MB, more "
                "than this app imports in one piece. Nothing was imported."
            )
    if scan.outline.top is None:
        raise Malformed(f"Expecting a {top.__name__}, found nothing", 0)


def iter_array(
    stream: IO[Any], *, what: str = "conversation", max_bytes: int | None = None
) -> Iterator[Any]:
    """The elements of the JSON array `stream` holds (text or bytes), in order."""
    return iter_items(stream, "item", what=what, max_bytes=max_bytes)


def outline(stream: IO[Any], keys: Collection[str]) -> dict[str, Any]:
    """The top-level object's fields, read only until all of `keys` have been seen (a field
    holding a container is given as `list` or `dict`). Raises like iter_items."""
    scan = Scan(stream, None)
    while not scan.ended and not all(k in scan.outline.fields for k in keys):
        scan.step(_read_size(scan.consumed))
        if scan.outline.top not in (None, dict):
            raise Malformed("Expecting an object at the top", 0)
    if scan.outline.top is None:
        raise Malformed("Expecting an object, found nothing", 0)
    return scan.outline.fields
