"""The streaming JSON reader the imports use (ijson underneath): same values as json.loads, any
chunk size, text or bytes; a clear error for text that is cut short, isn't the expected shape,
nests too deeply or holds one value larger than the cap; cancel heard between chunks."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desktop.errors import ImportRefused
from desktop.store import json_stream
from desktop.store.json_stream import Malformed, Truncated, iter_array, iter_items, outline

values = st.recursive(
    st.none()
    | st.booleans()
    # yajl refuses integers beyond 64 bits ("integer overflow"): no export holds one.
    | st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)


def test_the_c_parser_is_used() -> None:
    assert json_stream.BACKEND == "yajl2_c"


@settings(max_examples=100, deadline=None)
@given(items=st.lists(values, max_size=8), chunk=st.integers(min_value=1, max_value=40))
def test_any_array_reads_back_the_same_in_any_chunk_size(items: list[object], chunk: int) -> None:
    text = json.dumps(items, indent=1)
    original = json_stream.CHUNK
    json_stream.CHUNK = chunk
    try:
        assert list(iter_array(io.StringIO(text))) == items
        assert list(iter_array(io.BytesIO(text.encode()))) == items
    finally:
        json_stream.CHUNK = original


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('[{"a": 1}, {"b": ', Truncated),
        ('[{"a": 1}, {"b": 2}', Truncated),
        ("[1, 2", Truncated),
        ("", Truncated),
        ('{"not": "a list"}', Malformed),
        ('"a string"', Malformed),
        ("[1 2]", Malformed),
        ("[1] [2]", Malformed),
    ],
)
def test_bad_text_is_refused(text: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        list(iter_array(io.StringIO(text)))


def test_malformed_text_is_a_json_decode_error() -> None:
    # chatgpt_archive catches json.JSONDecodeError: its callers need no change.
    with pytest.raises(json.JSONDecodeError):
        list(iter_array(io.StringIO("[1 2]")))


def test_invalid_utf8_is_malformed() -> None:
    with pytest.raises(Malformed):
        list(iter_array(io.BytesIO(b'["\xff"]')))


def test_deep_nesting_is_refused_before_it_costs_anything() -> None:
    # ijson's builder is quadratic in depth: 100,000 levels would take gigabytes.
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(ImportRefused, match="nests more than 128 levels deep"):
        list(iter_array(io.BytesIO(deep)))
    ok = b"[" * json_stream.MAX_DEPTH + b"]" * json_stream.MAX_DEPTH
    assert list(iter_array(io.BytesIO(ok))) == json.loads(ok)


def test_one_value_over_the_cap_is_refused_by_its_number() -> None:
    small = json.dumps("x" * 10)
    big = json.dumps("y" * 3_000_000)
    text = f"[{small}, {small}, {big}, {small}]"
    with pytest.raises(ImportRefused, match=r"Chat 3 is larger than 1 MB"):
        list(iter_array(io.StringIO(text), what="chat", max_bytes=2**20))
    assert len(list(iter_array(io.StringIO(text), max_bytes=4 * 2**20))) == 4


def test_a_long_string_reads_in_linear_time() -> None:
    # yajl re-lexes a token cut by a chunk from its start; growing reads keep this quick.
    text = b'["' + b"z" * 40_000_000 + b'"]'
    (value,) = iter_array(io.BytesIO(text))
    assert len(value) == 40_000_000


def test_the_cap_counts_only_the_array_the_values_come_from() -> None:
    document = {"before": "b" * 3_000_000, "threads": [1, 2], "after": "a" * 3_000_000}
    text = json.dumps(document)
    found = iter_items(io.StringIO(text), "threads.item", top=dict, max_bytes=2**20)
    assert list(found) == [1, 2]


def test_cancel_is_heard_between_chunks() -> None:
    calls = []

    def check() -> None:
        calls.append(1)
        if len(calls) > 3:
            raise KeyboardInterrupt

    text = b'["' + b"z" * 5_000_000 + b'"]'
    with json_stream.checking(check), pytest.raises(KeyboardInterrupt):
        list(iter_array(io.BytesIO(text)))
    assert len(calls) == 4
    assert list(iter_array(io.BytesIO(b"[1]"))) == [1]  # the check is gone outside


def test_outline_stops_once_it_has_the_fields() -> None:
    class Counting(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            self.reads = getattr(self, "reads", 0) + 1
            return super().read(size)

    stream = Counting(b'{"format": "f", "version": 1, "threads": [' + b"1, " * 3_000_000 + b"1]}")
    fields = outline(stream, ("format", "version", "threads"))
    assert fields == {"format": "f", "version": 1, "threads": list}
    assert stream.reads == 1
    with pytest.raises(Malformed):
        outline(io.StringIO("[1]"), ("format",))


def test_a_text_wrapper_is_read_through_its_bytes() -> None:
    raw = io.BytesIO(json.dumps(["é", {"k": 1.5}]).encode())
    stream = io.TextIOWrapper(raw, encoding="utf-8")
    assert list(iter_array(stream)) == ["é", {"k": 1.5}]
    assert raw.tell() == len(raw.getvalue())  # so an archive's progress is the file's
