"""The collection stage's per-offer ledger: causal order and one verdict per event, as pure values.

`decide` judges one contribution against an offer's state; the ledger adds what a stream of them
across contributors needs (docs/architecture.md, "Collection"):

- **Causal order.** A contribution to an offer the hub has never seen (its creation is on another
  contributor's topic and has not been read yet) does not get `offer.unknown`: it *waits* in the
  offer's entry, and is judged right after the creation is accepted, in arrival order. `expire`
  refuses the ones whose creation has not come within a deadline, with `offer.unknown`.
- **One verdict per event.** A rejected event is remembered in the entry, so a redelivery of it has
  no effect instead of a second rejection; an accepted one is already covered by the ordering rule
  (its source version is no longer newer than the contributor's last). A rejected event is
  forgotten once the contributor's last applied version passes it, since rule 5 then covers it.

`collect(entry, contribution, origin, context)` returns the new entry and the outcomes in the
order they happened (the contribution's own, then those of the waiting ones it released). No I/O,
no clock: `expire` is given the instant, the stage reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

from hub.core.collection import (
    Accepted,
    Context,
    NoEffect,
    OfferState,
    Rejected,
    Rejection,
    Verdict,
    arrival,
    decide,
    evolve,
)
from hub.core.contribution import Contribution
from hub.core.regional import RegionalChange

__all__ = [
    "Deferred",
    "Judged",
    "OfferEntry",
    "Origin",
    "Outcome",
    "Waiting",
    "collect",
    "expire",
]


@dataclass(frozen=True)
class Origin:
    """Where a contribution was read: its topic, partition and offset, and its record's time."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int


@dataclass(frozen=True)
class Waiting:
    """A contribution waiting for its offer's creation; it arrived at `origin.timestamp_ms` on
    the topic of `owner` (rule 1 judges it as read there, whatever releases it)."""

    contribution: Contribution
    origin: Origin
    owner: str


@dataclass(frozen=True)
class Judged:
    """A rejected event, remembered so that a redelivery of it has no second verdict."""

    event_id: str
    contributor: str
    source_version: int


@dataclass(frozen=True)
class Deferred:
    """The contribution waits for its offer's creation (see the module docstring)."""

    reason: str


@dataclass(frozen=True)
class Outcome:
    contribution: Contribution
    origin: Origin
    verdict: Verdict | Deferred


@dataclass(frozen=True)
class OfferEntry:
    """What the collection stage keeps of one offer: derivable from nothing but its own records."""

    offer_id: str
    latest: RegionalChange | None = None  # the last accepted change (it carries the full state)
    waiting: tuple[Waiting, ...] = ()  # in arrival order
    rejected: tuple[Judged, ...] = ()

    @cached_property
    def state(self) -> OfferState | None:
        return None if self.latest is None else evolve(self.latest)

    def knows(self, event_id: str) -> bool:
        return any(j.event_id == event_id for j in self.rejected) or any(
            w.contribution.event_id == event_id for w in self.waiting
        )

    def earliest_arrival_ms(self) -> int | None:
        """When the longest-waiting contribution arrived, if any waits."""
        return min((w.origin.timestamp_ms for w in self.waiting), default=None)


def collect(
    entry: OfferEntry, contribution: Contribution, origin: Origin, context: Context
) -> tuple[OfferEntry, tuple[Outcome, ...]]:
    """Judge `contribution` in its offer's entry (see the module docstring)."""
    if entry.knows(contribution.event_id):
        return entry, (
            Outcome(
                contribution,
                origin,
                NoEffect(f"{contribution.event_id} was judged already; this is a redelivery"),
            ),
        )
    verdict = decide(entry.state, contribution, _arrived(context, origin))
    if isinstance(verdict, Rejected):
        if entry.latest is None and verdict.rejection.rule_ids == ("offer.unknown",):
            wait = Waiting(contribution, origin, context.topic_owner)
            waiting = replace(entry, waiting=(*entry.waiting, wait))
            return waiting, (
                Outcome(contribution, origin, Deferred(f"{entry.offer_id} is not created yet")),
            )
        judged = Judged(
            contribution.event_id, contribution.contributor, contribution.source_version
        )
        return replace(entry, rejected=(*entry.rejected, judged)), (
            Outcome(contribution, origin, verdict),
        )
    if isinstance(verdict, NoEffect):
        return entry, (Outcome(contribution, origin, verdict),)
    return _accepted(entry, verdict, Outcome(contribution, origin, verdict), context)


def _arrived(context: Context, origin: Origin) -> Context:
    """`context` with the contribution's own arrival time (a waiting one keeps its own)."""
    return replace(context, received_at=arrival(origin.timestamp_ms))


def _accepted(
    entry: OfferEntry, verdict: Accepted, outcome: Outcome, context: Context
) -> tuple[OfferEntry, tuple[Outcome, ...]]:
    state = verdict.state
    kept = tuple(
        j for j in entry.rejected if j.source_version > state.last_version_of(j.contributor)
    )
    released = entry.waiting
    entry = OfferEntry(entry.offer_id, verdict.change, (), kept)
    outcomes = [outcome]
    for waiting in released:
        own = replace(context, topic_owner=waiting.owner)
        entry, more = collect(entry, waiting.contribution, waiting.origin, own)
        outcomes += more
    return entry, tuple(outcomes)


def expire(
    entry: OfferEntry, now_ms: int, deadline_ms: int
) -> tuple[OfferEntry, tuple[Outcome, ...]]:
    """Refuse, with `offer.unknown`, the waiting contributions that arrived `deadline_ms` or more
    before `now_ms`; the others keep waiting."""
    overdue = [w for w in entry.waiting if now_ms - w.origin.timestamp_ms >= deadline_ms]
    if not overdue:
        return entry, ()
    days = deadline_ms / 86_400_000
    outcomes = tuple(
        Outcome(
            w.contribution,
            w.origin,
            Rejected(
                Rejection(
                    w.contribution.event_id,
                    w.contribution.contributor,
                    w.contribution.offer_id,
                    w.contribution.occurred_at,
                    ("offer.unknown",),
                    f"{w.contribution.offer_id} is unknown: no creation of it arrived within "
                    f"{days:g} days of this contribution; publish the offer's creation (or ask "
                    "the contributor that owns it to), then publish this change again",
                    (),
                )
            ),
        )
        for w in overdue
    )
    judged = tuple(
        Judged(w.contribution.event_id, w.contribution.contributor, w.contribution.source_version)
        for w in overdue
    )
    left = tuple(w for w in entry.waiting if w not in overdue)
    return replace(entry, waiting=left, rejected=(*entry.rejected, *judged)), outcomes
