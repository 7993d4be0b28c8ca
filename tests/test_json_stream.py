"""The streaming JSON readers the imports use (ijson underneath; json_stream for an array,
json_walk for an object's arrays): same values as json.loads, any chunk size, text or bytes; a
clear error for text that is cut short, isn't the expected shape, nests too deeply or holds one
value larger than its cap, inside the arrays or outside them; cancel heard between chunks."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desktop.errors import ImportRefused
from desktop.store import json_stream
from desktop.store.json_stream import Malformed, Truncated, WrongShape, iter_array
from desktop.store.json_walk import Field, outline, walk

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
CHATS = {"threads": Field("chat", 2**20), "assistants": Field("assistant", 2**20)}


def test_the_c_parser_is_used() -> None:
    assert json_stream.BACKEND == "yajl2_c"


def test_a_missing_c_parser_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    def get(name: str) -> str:
        if name == "yajl2_c":
            raise ImportError(name)
        return name

    with caplog.at_level(logging.WARNING, logger=json_stream.__name__):
        assert json_stream.choose_backend(get) == "python"
    assert "C backend (yajl2_c) is missing" in caplog.text


@settings(max_examples=100, deadline=None)
@given(items=st.lists(values, max_size=8), chunk=st.integers(min_value=1, max_value=40))
def test_any_array_reads_back_the_same_in_any_chunk_size(items: list[object], chunk: int) -> None:
    text = json.dumps(items, indent=1)
    original = json_stream.CHUNK
    json_stream.CHUNK = chunk
    try:
        assert list(iter_array(io.StringIO(text))) == items
        assert list(iter_array(io.BytesIO(text.encode()))) == items
        document = json.dumps({"format": items, "threads": items, "other": items}, indent=1)
        found = walk(io.BytesIO(document.encode()), CHATS, keep=("format",))
        assert list(found) == [("threads", item) for item in items]
    finally:
        json_stream.CHUNK = original


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('[{"a": 1}, {"b": ', Truncated),
        ('[{"a": 1}, {"b": 2}', Truncated),
        ("[1, 2", Truncated),
        ("", Truncated),
        ('{"not": "a list"}', WrongShape),
        ('"a string"', WrongShape),
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


def test_an_objects_arrays_are_read_in_one_pass_in_order() -> None:
    document = {"format": "f", "threads": [{"a": [1, 2.5]}, 2], "x": {"y": [3]}, "assistants": [4]}
    found = list(walk(io.StringIO(json.dumps(document)), CHATS))
    assert found == [("threads", {"a": [1, 2.5]}), ("threads", 2), ("assistants", 4)]


@pytest.mark.parametrize(
    "document",
    [
        {"format": "f", "threads": [], "pad": "p" * 3_000_000},
        {"pad": "p" * 3_000_000, "threads": [1]},
        {"format": "f" * 3_000_000},
        {"threads": [], "pad": {"deep": ["p" * 100] * 30_000}},
        {"threads": "t" * 3_000_000},
    ],
)
def test_a_value_outside_the_arrays_is_capped_at_a_megabyte(document: dict[str, Any]) -> None:
    stream = io.BytesIO(json.dumps(document).encode())
    with pytest.raises(ImportRefused, match=r"field \"\w+\" is larger than 1 MB"):
        list(walk(stream, CHATS))
    assert stream.tell() < 2**20 + 3 * json_stream.CHUNK  # refused as it passed the cap


def test_the_element_cap_counts_only_its_own_array() -> None:
    document = {"before": "b" * 900_000, "threads": [1, 2], "after": "a" * 900_000}
    assert list(walk(io.StringIO(json.dumps(document)), CHATS)) == [("threads", 1), ("threads", 2)]
    big = {"threads": [1, ["x" * 1000] * 1500]}
    with pytest.raises(ImportRefused, match="Chat 2 is larger than 1 MB"):
        list(walk(io.StringIO(json.dumps(big)), CHATS))


def test_spilled_strings_are_replaced_and_count_against_no_cap() -> None:
    blobs = [{"name": n, "content": str(n) * 900_000} for n in range(4)]
    document = {"threads": [{"files": blobs}]}
    spilled: list[int] = []

    def spill(text: str) -> int:
        spilled.append(len(text))
        return len(spilled)

    found = walk(
        io.StringIO(json.dumps(document)), CHATS, spill={"threads.item.files.item.content": spill}
    )
    ((_, chat),) = list(found)
    assert chat == {"files": [{"name": n, "content": n + 1} for n in range(4)]}
    assert spilled == [900_000] * 4


def test_a_top_level_that_isnt_an_object_is_the_wrong_shape() -> None:
    for text in ("[1]", '"s"', ""):
        with pytest.raises(WrongShape if text else Truncated):
            list(walk(io.StringIO(text), CHATS))


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

    head = b'{"format": "f", "other": 7, "version": 1, "threads": ['
    stream = Counting(head + b"1, " * 3_000_000 + b"1]}")
    fields = outline(stream, ("format", "version", "threads"), CHATS)
    assert fields == {"format": "f", "version": 1, "threads": list}  # only what was asked for
    assert stream.reads == 1
    with pytest.raises(WrongShape):
        outline(io.StringIO("[1]"), ("format",))


def test_outline_reads_past_chats_that_come_before_its_fields() -> None:
    document = {"threads": [{"n": n} for n in range(50_000)], "format": "f"}
    assert outline(io.StringIO(json.dumps(document)), ("format",), CHATS) == {"format": "f"}


def test_a_text_wrapper_is_read_through_its_bytes() -> None:
    raw = io.BytesIO(json.dumps(["é", {"k": 1.5}]).encode())
    stream = io.TextIOWrapper(raw, encoding="utf-8")
    assert list(iter_array(stream)) == ["é", {"k": 1.5}]
    assert raw.tell() == len(raw.getvalue())  # so an archive's progress is the file's
