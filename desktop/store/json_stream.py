"""Reading a large JSON array one element at a time, so an import never holds a whole export
(hundreds of MB) in memory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TextIO

_CHUNK = 1 << 20
_decoder = json.JSONDecoder()


class Truncated(ValueError):
    """The array ended before its closing bracket."""


def iter_array(stream: TextIO) -> Iterator[Any]:
    """The elements of the JSON array `stream` holds, in order. Raises ValueError (a
    json.JSONDecodeError, or Truncated) for text that isn't such an array."""
    buffer = stream.read(_CHUNK).lstrip()
    if not buffer.startswith("["):
        raise json.JSONDecodeError("Expecting a list", buffer[:20], 0)
    buffer = buffer[1:]
    first = True
    while True:
        buffer = buffer.lstrip()
        while not buffer:
            more = stream.read(_CHUNK)
            if not more:
                raise Truncated("the list of conversations is cut short")
            buffer = more.lstrip()
        if buffer.startswith("]"):
            return
        if not first:
            if not buffer.startswith(","):
                raise json.JSONDecodeError("Expecting ',' between conversations", buffer[:20], 0)
            buffer = buffer[1:].lstrip()
        while True:
            buffer = buffer.lstrip()
            try:
                value, end = _decoder.raw_decode(buffer)
            except json.JSONDecodeError:
                more = stream.read(_CHUNK)
                if not more:
                    raise
                buffer += more
                continue
            if end == len(buffer):  # a number or word may go on in the next chunk
                more = stream.read(_CHUNK)
                if more:
                    buffer += more
                    continue
            break
        yield value
        first = False
        buffer = buffer[end:]
