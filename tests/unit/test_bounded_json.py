"""JSON from outside read within bounds (``dossiers.bounded_json``): the nesting is measured without recursion
and without counting brackets inside strings, the scan stops early, and too-deep, too-large or malformed text
is an ``InvalidInput`` naming what it was, never a ``RecursionError``."""

from __future__ import annotations

import json

import pytest

from dossiers.bounded_json import MAX_JSON_DEPTH, check_bounds, loads_bounded, nesting_depth
from dossiers.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ('"[[[{"', 0),
        ("[]", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ("[[], [[]], []]", 3),
        ('["]]]]", ["[[[["]]', 2),
        (
            r'["\"[[[", ["\\", [1]]]',
            3,
        ),  # an escaped quote does not end the string; an escaped backslash does not escape
        (r'{"k\\": "[[["}', 1),
        (b'[{"a": "\\u005b\\u005b"}]', 2),
    ],
)
def test_the_depth_counts_arrays_and_objects_only_outside_strings(text: str | bytes, depth: int) -> None:
    assert nesting_depth(text) == depth
    json.loads(text)  # every example is valid JSON


def test_the_scan_stops_just_above_the_bound() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    assert nesting_depth(deep, stop_above=32) == 33
    assert nesting_depth(deep) == 100_000


def test_a_hundred_thousand_levels_are_an_invalid_input_naming_the_limit_not_a_recursion_error() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(InvalidInput) as caught:
        loads_bounded(deep, what="details")
    assert caught.value.details == {"field": "details", "limit": MAX_JSON_DEPTH}
    assert "lồng nhau quá sâu" in caught.value.message_vi


def test_the_depth_limit_is_inclusive() -> None:
    assert loads_bounded("[" * 5 + "]" * 5, what="x", max_depth=5) == [[[[[]]]]]
    with pytest.raises(InvalidInput):
        loads_bounded("[" * 6 + "]" * 6, what="x", max_depth=5)


def test_the_size_limit_counts_utf8_bytes() -> None:
    text = json.dumps("ễ" * 10, ensure_ascii=False)  # 3 bytes per letter, 2 quotes
    assert loads_bounded(text, what="x", max_bytes=32) == "ễ" * 10
    with pytest.raises(InvalidInput) as caught:
        loads_bounded(text, what="x", max_bytes=31)
    assert caught.value.details == {"field": "x", "limit": 31}
    assert "quá lớn" in caught.value.message_vi


def test_bytes_are_checked_like_text() -> None:
    with pytest.raises(InvalidInput):
        check_bounds(b"[" * 40, what="body")
    check_bounds(b"[" * 10 + b"]" * 10, what="body")


@pytest.mark.parametrize("text", ["{", "[1,]", "nope", "", '{"a": 1}}', "[" * 3, "\xff"])
def test_malformed_json_within_bounds_is_an_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        loads_bounded(text, what="details")
    assert caught.value.details == {"field": "details"}
    assert caught.value.message_vi == "Dữ liệu JSON của details không hợp lệ."


def test_a_number_too_long_to_convert_is_malformed_not_a_crash() -> None:
    with pytest.raises(InvalidInput):
        loads_bounded("1" * 5000, what="details")
