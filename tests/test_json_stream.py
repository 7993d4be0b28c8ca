"""The streaming JSON-array reader the ChatGPT import uses: same values as json.loads, any
chunk size, and a clear error for text that is cut short or isn't a list."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desktop.store import json_stream
from desktop.store.json_stream import Truncated, iter_array

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(items=st.lists(values, max_size=8), chunk=st.integers(min_value=1, max_value=40))
def test_any_array_reads_back_the_same_in_any_chunk_size(items: list[object], chunk: int) -> None:
    text = json.dumps(items, indent=1)
    original = json_stream._CHUNK
    json_stream._CHUNK = chunk
    try:
        assert list(iter_array(io.StringIO(text))) == items
    finally:
        json_stream._CHUNK = original


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('[{"a": 1}, {"b": ', json.JSONDecodeError),
        ('[{"a": 1}, {"b": 2}', Truncated),
        ("[1, 2", Truncated),
        ('{"not": "a list"}', json.JSONDecodeError),
        ("[1 2]", json.JSONDecodeError),
        ("", json.JSONDecodeError),
    ],
)
def test_bad_text_is_refused(text: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        list(iter_array(io.StringIO(text)))
