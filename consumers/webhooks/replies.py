"""What a receiver's answer may leave in the hub: one short line of plain, printable text.

A failing receiver's answer is kept in its webhook's last error, which `sitn webhook list`,
`sitn status` and the dashboard show. The receiver controls those bytes, so before they are kept:
- terminal escape sequences (ANSI CSI and OSC, 7- and 8-bit) are removed, so an answer cannot
  recolour, retitle or rewrite an operator's terminal;
- line breaks and tabs become spaces, and every other character that is not printable (NUL and
  other controls, bidirectional overrides, unassigned code points) is written as its escape
  (``\\x00``, ``\\u202e``), so nothing invisible is kept and nothing is silently lost;
- the text is cut to a bound (`REPLY_EXCERPT_CHARS` for the answer's body), ending with "…".
HTML is left as text: the dashboard's templates escape everything they show.
"""

from __future__ import annotations

import re
from typing import Final

# How much of a failing receiver's answer is kept, in characters after cleaning.
REPLY_EXCERPT_CHARS: Final = 120
# What is read of the answer to make that excerpt: enough for 120 characters of 4-byte UTF-8.
REPLY_READ_BYTES: Final = 4 * REPLY_EXCERPT_CHARS
# A whole last error: the delivery, the status and reason, and the excerpt.
ERROR_CHARS: Final = 400

_ESCAPES: Final = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"  # CSI: colours, cursor moves, erasing
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC: window titles, links
    r"|\x1b[ -/]*[0-~]?"  # any other escape, and a lone ESC
)


def printable(text: str, limit: int = ERROR_CHARS) -> str:
    """`text` as one line of printable characters, at most `limit` long (see the docstring)."""
    cleaned = _ESCAPES.sub("", text)
    shown = "".join(
        " "
        if c in "\t\n\r\x0b\x0c"
        else c
        if c.isprintable()
        else c.encode("unicode_escape").decode("ascii")
        for c in cleaned
    )
    line = " ".join(shown.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def excerpt(body: bytes) -> str:
    """The part of a receiver's answer that is kept: UTF-8 (bad bytes replaced), cleaned, cut."""
    return printable(body.decode("utf-8", errors="replace"), REPLY_EXCERPT_CHARS)
