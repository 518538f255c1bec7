"""A reader's place in a diffuser's feed: one opaque string over the feed's partitions.

A feed is written by several diffusion instances at once, each holding some of the offer
partitions, with no lock between them. So entries are numbered per (diffuser, partition): each
partition's entries of a feed get `seq` 1, 2, 3, ... in commit order, and a cursor holds, for
each partition, the `seq` of the last entry the reader has. A reader therefore never skips an
entry that a slower writer commits late (it is behind that partition's number, not a global one),
and an offer's entries, all on its partition, stay in order.

Text form, opaque to clients (they hand back what they were given):
- ``"N"``: every partition at N; ``"0"`` is the start. A cursor from before feeds were numbered
  per partition (one number per feed) reads the same way, and means the same: migration 0005 starts
  every partition's numbering after the feed's last number, so N is exactly where that reader stood.
- ``"a.b.c.d.e.f"``: partition p at the p-th number.
`FeedCursor.parse` refuses anything else with a message naming the text and what to do.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Protocol

from hub.topics import OFFER_PARTITIONS

__all__ = ["START", "CursorError", "FeedCursor", "Numbered"]

_FORM: Final = re.compile(r"[0-9]{1,18}(\.[0-9]{1,18})*")


class CursorError(ValueError):
    """A cursor text this hub did not give (the message says what to send instead)."""


class Numbered(Protocol):
    """What a cursor moves past: an entry's partition and its number there."""

    @property
    def partition(self) -> int: ...

    @property
    def seq(self) -> int: ...


@dataclass(frozen=True)
class FeedCursor:
    """Per partition (0 .. OFFER_PARTITIONS - 1), the `seq` of the last entry a reader has."""

    seqs: tuple[int, ...] = (0,) * OFFER_PARTITIONS

    def __post_init__(self) -> None:
        if len(self.seqs) != OFFER_PARTITIONS or any(seq < 0 for seq in self.seqs):
            raise CursorError(
                f"a feed cursor holds {OFFER_PARTITIONS} numbers of 0 or more, not {self.seqs!r}"
            )

    @classmethod
    def at(cls, seq: int) -> FeedCursor:
        """Every partition at `seq`."""
        return cls((seq,) * OFFER_PARTITIONS)

    @classmethod
    def parse(cls, text: str) -> FeedCursor:
        if not _FORM.fullmatch(text):
            raise CursorError(
                f"cursor {text!r} is not one this hub gave: send 0 to read from the start, or"
                " the cursor of the last page you read"
            )
        parts = [int(part) for part in text.split(".")]
        if len(parts) == 1:
            return cls.at(parts[0])
        if len(parts) != OFFER_PARTITIONS:
            raise CursorError(
                f"cursor {text!r} has {len(parts)} parts where this hub's have"
                f" {OFFER_PARTITIONS}: send 0 to read from the start, or the cursor of the last"
                " page you read"
            )
        return cls(tuple(parts))

    def __str__(self) -> str:
        if len(set(self.seqs)) == 1:
            return str(self.seqs[0])
        return ".".join(str(seq) for seq in self.seqs)

    def of(self, partition: int) -> int:
        return self.seqs[partition]

    def past(self, entries: Iterable[Numbered]) -> FeedCursor:
        """The cursor after reading `entries` too."""
        seqs = list(self.seqs)
        for entry in entries:
            seqs[entry.partition] = max(seqs[entry.partition], entry.seq)
        return FeedCursor(tuple(seqs))

    def back(self, entries: int) -> FeedCursor:
        """Each partition `entries` earlier (not before the start): reading from it gives each
        partition's last `entries` entries."""
        return FeedCursor(tuple(max(0, seq - entries) for seq in self.seqs))

    def furthest(self, other: FeedCursor) -> FeedCursor:
        """Per partition, the further of the two: a cursor that only moves forward."""
        return FeedCursor(tuple(max(a, b) for a, b in zip(self.seqs, other.seqs, strict=True)))

    @property
    def total(self) -> int:
        """The sum of the partitions' numbers: grows by one per entry (a gauge for metrics)."""
        return sum(self.seqs)

    def behind(self, head: FeedCursor) -> int:
        """How many entries lie between this cursor and `head` (numbers have no gap)."""
        return sum(max(0, h - s) for s, h in zip(self.seqs, head.seqs, strict=True))

    def ahead_of(self, head: FeedCursor) -> bool:
        """True if some partition is past `head`'s: the cursor is not one of this feed's."""
        return any(s > h for s, h in zip(self.seqs, head.seqs, strict=True))

    def covers(self, partition: int, seq: int) -> bool:
        """True if the entry `seq` of `partition` is at or before this cursor."""
        return seq <= self.seqs[partition]


START: Final = FeedCursor()
