"""What a failing receiver's answer may leave in the hub: one short line of printable text."""

from __future__ import annotations

from consumers.webhooks.replies import REPLY_EXCERPT_CHARS, excerpt, printable

HOSTILE = (
    b"\x1b[2J\x1b[31mPWNED\x1b[0m \x1b]0;new title\x07\xc2\x9b1mbold"
    b" nul\x00here <script>alert(1)</script>\r\nsecond line\t\xe2\x80\xaeevil"
)


def test_terminal_escapes_are_removed_and_other_controls_written_as_escapes() -> None:
    kept = excerpt(HOSTILE)

    assert "\x1b" not in kept
    assert "\x9b" not in kept
    assert "\x00" not in kept
    assert "\u202e" not in kept
    assert "new title" not in kept
    assert kept.startswith("PWNED bold nul\\x00here")
    assert "second line \\u202eevil" in kept
    assert kept.isprintable()


def test_html_is_kept_as_text_for_the_pages_to_escape() -> None:
    assert "<script>alert(1)</script>" in excerpt(HOSTILE)


def test_a_ten_kilobyte_answer_is_cut_to_the_excerpts_bound() -> None:
    kept = excerpt(b"A" * 10_240)

    assert len(kept) == REPLY_EXCERPT_CHARS
    assert kept.endswith("…")


def test_bytes_that_are_not_utf8_are_replaced_not_kept() -> None:
    assert excerpt(b"caf\xe9 \xff") == "caf\ufffd \ufffd"


def test_a_line_is_cut_to_the_bound_it_is_given() -> None:
    assert printable("x" * 50, 10) == "x" * 9 + "…"
    assert printable("short", 10) == "short"
