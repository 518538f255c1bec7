"""JSON from contributors' files, decoded only once its nesting is known to be bounded.

Python's decoder recurses once per level of nesting: a document nested 100,000 levels deep ends
in a `RecursionError` (or worse), from the decoder or from any code walking the result. `loads`
first measures the nesting with one regular-expression pass that skips strings, and decodes only a
document nested at most `JSON_DEPTH_MAX` levels; so no `RecursionError` can come out of it or of
code recursing over what it returns. Every failure is a `ValueError`: `TooDeep` (with where the
limit was passed), `json.JSONDecodeError` or `UnicodeDecodeError`.
"""

from __future__ import annotations

import json
import re

# Real records nest about a dozen levels (a DATAtourisme place's address, its city, department,
# region and country, each labelled per language; a Tourinsoft record is five). 64 leaves room for
# richer exports and stays far below the interpreter's recursion limit.
JSON_DEPTH_MAX = 64

# A string (its closing quote optional, so an unterminated one ends the scan instead of making it
# retry from every later quote), an opening or a closing bracket. Commas, colons and literals are
# skipped between matches.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|(?P<open>[\[{])|(?P<close>[\]}])', re.DOTALL)


class TooDeep(ValueError):
    """The document nests deeper than the limit: where it first does, as the decoder counts."""

    def __init__(self, line: int, column: int, limit: int) -> None:
        super().__init__(
            f"nested deeper than {limit} levels at line {line}, column {column}; real records "
            "nest about a dozen: check how the file was exported"
        )
        self.line = line
        self.column = column
        self.limit = limit


def loads(content: bytes | str, *, depth_max: int = JSON_DEPTH_MAX) -> object:
    """The decoded document, refused with `TooDeep` if nested deeper than `depth_max` levels."""
    # Decoded here as json.loads would (UTF-8, -16 or -32), so brackets are found in text.
    text = (
        content.decode(json.detect_encoding(content), "surrogatepass")
        if isinstance(content, bytes)
        else content
    )
    depth = 0
    for token in _TOKENS.finditer(text):
        kind = token.lastgroup
        if kind == "open":
            depth += 1
            if depth > depth_max:
                line = text.count("\n", 0, token.start()) + 1
                column = token.start() - text.rfind("\n", 0, token.start())
                raise TooDeep(line, column, depth_max)
        elif kind == "close":
            depth -= 1
    return json.loads(text)
