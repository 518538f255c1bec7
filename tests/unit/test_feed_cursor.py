"""The feed cursor: one opaque string over a feed's partitions, and what a reader does with it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumers.feeds import FeedEntry
from consumers.feeds.cursor import START, CursorError, FeedCursor
from hub.topics import OFFER_PARTITIONS
from tests.support.diffusion_changes import cursor_at, offer_ids, upsert

cursors = st.tuples(*[st.integers(0, 10**17)] * OFFER_PARTITIONS).map(FeedCursor)


@given(cursor=cursors)
def test_any_cursor_reads_back_from_its_text(cursor: FeedCursor) -> None:
    assert FeedCursor.parse(str(cursor)) == cursor


def test_a_cursor_at_one_number_everywhere_is_written_as_that_number() -> None:
    assert (str(START), str(FeedCursor.at(42))) == ("0", "42")
    assert FeedCursor.parse("42") == FeedCursor.at(42)
    assert str(cursor_at(p0=3, p5=1)) == "3.0.0.0.0.1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not one this hub gave"),
        ("-1", "not one this hub gave"),
        ("1.2", "has 2 parts where this hub's have 6"),
        ("a.b.c.d.e.f", "not one this hub gave"),
        ("1..2", "not one this hub gave"),
        ("1" * 19, "not one this hub gave"),
    ],
)
def test_a_text_the_hub_did_not_give_is_refused_saying_what_to_send(
    text: str, message: str
) -> None:
    with pytest.raises(CursorError, match=message) as refused:
        FeedCursor.parse(text)
    assert "send 0 to read from the start" in str(refused.value)


def test_a_cursor_moves_past_what_it_reads_and_only_forward() -> None:
    (hotel,) = offer_ids(2, "HOT", 1)
    (camping,) = offer_ids(4, "HPA", 1)
    read = [FeedEntry(3, upsert(hotel, 1)), FeedEntry(7, upsert(camping, 1))]

    moved = START.past(read)

    assert moved == cursor_at(p2=3, p4=7)
    assert moved.past([FeedEntry(1, upsert(hotel, 2))]) == moved  # an older entry moves nothing
    assert moved.furthest(cursor_at(p2=1, p3=5)) == cursor_at(p2=3, p3=5, p4=7)


def test_a_cursor_counts_what_lies_between_it_and_a_head() -> None:
    head = cursor_at(p0=10, p3=4)

    assert cursor_at(p0=7).behind(head) == 7
    assert head.behind(head) == 0
    assert head.back(2) == cursor_at(p0=8, p3=2)
    assert START.back(1) == START
    assert (cursor_at(p1=1).ahead_of(head), cursor_at(p0=10).ahead_of(head)) == (True, False)
    assert head.total == 14


def test_a_cursor_holds_one_number_per_partition() -> None:
    with pytest.raises(CursorError, match="holds 6 numbers"):
        FeedCursor((1, 2))
    with pytest.raises(CursorError, match="of 0 or more"):
        FeedCursor((0, 0, 0, 0, 0, -1))
