"""Canonical JSON: our fast path must give exactly the RFC 8785 bytes of the reference package."""

from __future__ import annotations

import math

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from eventlog.canonical import CanonicalJSONError, canonical_json

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_canonical_bytes_equal_the_rfc8785_reference(value: object) -> None:
    try:
        expected = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError):
        with pytest.raises(CanonicalJSONError):
            canonical_json(value)
        return
    assert canonical_json(value) == expected


def test_keys_are_sorted_and_whitespace_removed() -> None:
    assert (
        canonical_json({"b": [1, {"d": True, "c": None}], "a": "é\n"})
        == b'{"a":"\xc3\xa9\\n","b":[1,{"c":null,"d":true}]}'
    )


@pytest.mark.parametrize("value", [math.nan, math.inf, 2**60, "\ud800", object()])
def test_values_json_cannot_carry_exactly_are_refused(value: object) -> None:
    with pytest.raises(CanonicalJSONError):
        canonical_json({"x": value})
