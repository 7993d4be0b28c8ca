"""Reading a large JSON file a piece at a time, so an import never holds a whole export (hundreds
of MB) in memory, with ijson's C parser (yajl) doing the work.

Every chunk goes first through a watcher that sees the parser's events: it refuses nesting
deeper than MAX_DEPTH before the builder gets the chunk (ijson's builder costs O(depth²), so a
few MB of brackets would take gigabytes, and later code would hit Python's recursion limit), and
notes the top-level shape. Between chunks the reader checks for cancel and refuses one element
that goes on for more than its byte cap. This reads a top-level array (ChatGPT's export, with
ijson's C builder); json_walk reads an object with arrays in it (this app's export).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import IO, Any

import ijson  # type: ignore[import-untyped]

from desktop.errors import ImportRefused

log = logging.getLogger(__name__)


def choose_backend(get: Callable[[str], Any] = ijson.get_backend) -> Any:
    """ijson's C backend; without it (a build that left it out) the pure-Python one, which is
    tens of times slower on a large import, so the log says so (once: this runs at import)."""
    try:
        return get("yajl2_c")
    except ImportError:
        log.warning(
            "ijson's C backend (yajl2_c) is missing, so imports use the slow pure-Python parser; "
            "the app's build should include it."
        )
        return get("python")


backend = choose_backend()
BACKEND: str = backend.backend_name
CHUNK = 64 * 1024
MAX_READ = 16 * 1024 * 1024
# Real exports nest about 10 levels (a widget tree perhaps 40); pydantic stops at ~250.
MAX_DEPTH = 128
# One ChatGPT conversation is text only: this is hundreds of books.
MAX_ELEMENT_BYTES = 64 * 1024 * 1024

_check: ContextVar[Callable[[], None] | None] = ContextVar("json_stream_check", default=None)


def too_deep(max_depth: int) -> ImportRefused:
    return ImportRefused(
        f"The file nests more than {max_depth} levels deep, which no export does: it is "
        "damaged or made to do harm. Nothing was imported."
    )


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


class WrongShape(Malformed):
    """JSON, but its top level isn't what was asked for (an object, an array)."""


@contextlib.contextmanager
def checking(check: Callable[[], None]) -> Iterator[None]:
    """Call `check` between chunks of every read in this context; to cancel, it raises."""
    token = _check.set(check)
    try:
        yield
    finally:
        _check.reset(token)


def check_cancel() -> None:
    check = _check.get()
    if check is not None:
        check()


class _Outline:
    """The parser's events, one call each: the nesting depth and the top level's shape."""

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        self.depth = 0
        self.top: type | None = None

    def send(self, event: tuple[str, Any]) -> None:
        kind, value = event
        if kind == "start_map" or kind == "start_array":
            shape = dict if kind == "start_map" else list
            if self.depth == 0:
                self.top = shape
            self.depth += 1
            if self.depth > self.max_depth:
                raise too_deep(self.max_depth)
        elif kind == "end_map" or kind == "end_array":
            self.depth -= 1
        elif self.depth == 0:
            self.top = type(value)


def reader(stream: IO[Any]) -> Callable[[int], bytes]:
    handle: Any = stream  # IO's stubs don't admit it may also be a TextIOBase
    if isinstance(handle, io.TextIOWrapper):
        read: Callable[[int], bytes] = handle.buffer.read  # the bytes under it: its position
        return read
    if isinstance(handle, io.TextIOBase):
        return lambda n: handle.read(n).encode("utf-8")
    read = handle.read
    return read


def first_line(exc: Exception) -> str:
    text = exc.args[0] if exc.args else exc
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text).strip().splitlines()[0] if str(text).strip() else "not JSON"


class Scan:
    """One pass over `stream`: the values at `prefix` (ijson's dotted path, "item" for the
    elements of a top-level array) as they complete, and the outline of the top level."""

    def __init__(self, stream: IO[Any], prefix: str | None, max_depth: int = MAX_DEPTH) -> None:
        self._read = reader(stream)
        self.outline = _Outline(max_depth)
        self._events = backend.basic_parse_coro(self.outline)
        self._found: list[Any] = ijson.sendable_list()
        self._items = None
        if prefix is not None:
            self._items = backend.items_coro(self._found, prefix, use_float=True)
        self.consumed = 0
        self.ended = False

    def step(self, size: int = CHUNK) -> list[Any]:
        """Read and parse `size` bytes; the values they completed. Sets `ended` at the end."""
        check_cancel()
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
            raise Malformed(first_line(exc), self.consumed) from exc
        found = list(self._found)
        del self._found[:]
        return found


def read_size(open_for: int) -> int:
    return min(max(CHUNK, open_for // 4), MAX_READ)


def iter_array(
    stream: IO[Any], *, what: str = "conversation", max_bytes: int | None = None
) -> Iterator[Any]:
    """The elements of the JSON array `stream` holds (text or bytes), in order, each refused
    (ImportRefused, naming it by `what` and number) if it runs on for more than `max_bytes`
    (MAX_ELEMENT_BYTES if None). Raises WrongShape (a Malformed, a JSONDecodeError) if the top
    level isn't an array, Malformed for text that isn't JSON, Truncated for text cut short."""
    cap = MAX_ELEMENT_BYTES if max_bytes is None else max_bytes
    scan = Scan(stream, "item")
    count = 0
    run = 0  # bytes read since the last value completed
    while not scan.ended:
        before = scan.consumed
        # yajl lexes a token cut by a chunk's end again from its start with the next chunk:
        # reads that grow with the open value keep one long string linear, not quadratic.
        # ...but never past the cap by more than a chunk, so the cap is exact to a chunk.
        found = scan.step(min(read_size(run), cap - run + CHUNK))
        if scan.outline.top not in (None, list):
            raise WrongShape("Expecting an array at the top", 0)
        for value in found:
            count += 1
            yield value
        run = 0 if found else run + scan.consumed - before
        if run > cap:
            raise ImportRefused(
                f"{what.capitalize()} {count + 1} is larger than {cap / 2**20:g} MB, more "
                "than this app imports in one piece. Nothing was imported."
            )
    if scan.outline.top is None:
        raise WrongShape("Expecting an array, found nothing", 0)
