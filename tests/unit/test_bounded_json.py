"""JSON from contributors' files is decoded only when its nesting is bounded, never recursing."""

from __future__ import annotations

import json

import pytest

from producers import bounded_json


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_a_document_nested_100000_levels_deep_is_refused_saying_where() -> None:
    with pytest.raises(bounded_json.TooDeep, match="deeper than 64 levels at line 1, column 65"):
        bounded_json.loads(nested(100_000))


def test_the_place_of_the_refusal_is_counted_in_lines_and_columns() -> None:
    with pytest.raises(bounded_json.TooDeep) as refused:
        bounded_json.loads('{\n  "a":\n   ' + nested(100))
    assert (refused.value.line, refused.value.column) == (3, 4 + 63)


def test_a_document_at_the_limit_is_decoded() -> None:
    assert bounded_json.loads(nested(64).encode()) == json.loads(nested(64))


def test_brackets_inside_strings_are_not_nesting() -> None:
    text = json.dumps({"a": "[" * 1000, "b": '\\"[{' * 1000})
    assert bounded_json.loads(text) == json.loads(text)


def test_an_unterminated_string_is_a_decoding_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        bounded_json.loads('["' + '\\"[' * 100_000)


def test_utf_16_documents_are_measured_in_their_own_characters() -> None:
    text = json.dumps(["\u5b22\u225b"])  # code units whose bytes hold '"', '[' and '"'
    assert bounded_json.loads(text.encode("utf-16")) == ["\u5b22\u225b"]
