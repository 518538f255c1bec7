"""The collection ledger (`hub.core.ledger`): causal order across contributors, one verdict per
event, and the deadline of a contribution that waits for its offer's creation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from hub.core.collection import Accepted, NoEffect, Rejected
from hub.core.contribution import Contribution, OfferCreated
from hub.core.ledger import Deferred, OfferEntry, Origin, collect, expire
from hub.core.offer import OfferType
from tests.unit.test_collection_rules import (
    NEW_NAMES,
    change,
    context,
    contribution,
    offer_fields,
)

OFFER = "HOTNOR014V500001"
DAY_MS = 86_400_000


def origin(offset: int, at_ms: int = 0) -> Origin:
    return Origin("sitn.contrib.x", 0, offset, at_ms)


def creation() -> Contribution:
    return contribution("cdt-calvados", OfferCreated(OfferType.HOT, offer_fields()))


def test_a_change_to_an_offer_not_created_yet_waits_instead_of_being_refused() -> None:
    early = contribution("ot-deauville", change(names=NEW_NAMES))
    entry, outcomes = collect(OfferEntry(OFFER), early, origin(1), context("ot-deauville"))
    assert [type(o.verdict) for o in outcomes] == [Deferred]
    assert [w.contribution for w in entry.waiting] == [early]
    assert entry.latest is None


def test_the_waiting_change_is_judged_right_after_the_creation_is_accepted() -> None:
    early = contribution("ot-deauville", change(names=NEW_NAMES))
    entry, _ = collect(OfferEntry(OFFER), early, origin(1), context("ot-deauville"))
    created = creation()
    entry, outcomes = collect(entry, created, origin(2), context("cdt-calvados"))
    assert [type(o.verdict) for o in outcomes] == [Accepted, Accepted]
    assert [o.contribution.contributor for o in outcomes] == ["cdt-calvados", "ot-deauville"]
    assert entry.latest is not None
    assert entry.latest.version == 2
    assert entry.latest.contributor == "ot-deauville"
    assert entry.waiting == ()


def test_a_waiting_change_has_the_same_outcome_as_one_that_came_after_the_creation() -> None:
    early = contribution("ot-deauville", change(names=NEW_NAMES))
    created = creation()
    waited, _ = collect(OfferEntry(OFFER), early, origin(1), context("ot-deauville"))
    waited, _ = collect(waited, created, origin(2), context("cdt-calvados"))
    in_order, _ = collect(OfferEntry(OFFER), created, origin(2), context("cdt-calvados"))
    in_order, _ = collect(in_order, early, origin(1), context("ot-deauville"))
    assert waited.latest == in_order.latest


def test_a_redelivered_waiting_change_waits_once() -> None:
    early = contribution("ot-deauville", change(names=NEW_NAMES))
    entry, _ = collect(OfferEntry(OFFER), early, origin(1), context("ot-deauville"))
    again, outcomes = collect(entry, early, origin(1), context("ot-deauville"))
    assert again == entry
    assert isinstance(outcomes[0].verdict, NoEffect)


def test_a_redelivered_rejection_gets_no_second_verdict() -> None:
    created = creation()
    entry, _ = collect(OfferEntry(OFFER), created, origin(1), context("cdt-calvados"))
    foreign = contribution("cdt-eure", change(names=NEW_NAMES))
    entry, first = collect(entry, foreign, origin(2), context("cdt-eure"))
    assert isinstance(first[0].verdict, Rejected)
    again, second = collect(entry, foreign, origin(2), context("cdt-eure"))
    assert isinstance(second[0].verdict, NoEffect)
    assert again == entry


def test_a_remembered_rejection_is_forgotten_once_the_contributor_moves_past_it() -> None:
    created = creation()
    entry, _ = collect(OfferEntry(OFFER), created, origin(1), context("cdt-calvados"))
    bad = contribution("cdt-calvados", OfferCreated(OfferType.RES, offer_fields()), version=2)
    entry, outcomes = collect(entry, bad, origin(2), context("cdt-calvados"))
    assert isinstance(outcomes[0].verdict, Rejected)
    assert [j.event_id for j in entry.rejected] == [bad.event_id]
    later = contribution("cdt-calvados", change(names=NEW_NAMES), version=3)
    entry, outcomes = collect(entry, later, origin(3), context("cdt-calvados"))
    assert isinstance(outcomes[0].verdict, Accepted)
    assert entry.rejected == ()


def test_a_waiting_change_is_refused_offer_unknown_once_the_deadline_has_passed() -> None:
    early = contribution("ot-deauville", change(names=NEW_NAMES))
    entry, _ = collect(OfferEntry(OFFER), early, origin(1, at_ms=0), context("ot-deauville"))
    kept, none = expire(entry, now_ms=7 * DAY_MS - 1, deadline_ms=7 * DAY_MS)
    assert none == ()
    assert kept == entry
    after, outcomes = expire(entry, now_ms=7 * DAY_MS, deadline_ms=7 * DAY_MS)
    [outcome] = outcomes
    assert isinstance(outcome.verdict, Rejected)
    assert outcome.verdict.rejection.rule_ids == ("offer.unknown",)
    assert "7 days" in outcome.verdict.rejection.message
    assert after.waiting == ()
    # A redelivery after the refusal is the same event: no second verdict.
    _, again = collect(after, early, origin(1), context("ot-deauville"))
    assert isinstance(again[0].verdict, NoEffect)


def test_an_event_time_a_year_past_the_records_arrival_is_rejected_rather_than_waiting() -> None:
    arrived_ms = 1_772_355_600_000  # 2026-03-01, the record's time on the broker
    future = replace(
        contribution("ot-deauville", change(names=NEW_NAMES)),
        occurred_at=datetime(2027, 3, 2, tzinfo=UTC),
    )
    entry, outcomes = collect(
        OfferEntry(OFFER), future, origin(1, arrived_ms), context("ot-deauville")
    )
    [outcome] = outcomes
    assert isinstance(outcome.verdict, Rejected)
    assert outcome.verdict.rejection.rule_ids == ("ordering.event_time",)
    assert "reached the hub (2026-03-01T09:00:00+00:00)" in outcome.verdict.rejection.message
    assert entry.waiting == ()
    in_time = replace(
        future, event_id="ot-deauville/fixed", occurred_at=datetime(2027, 2, 28, tzinfo=UTC)
    )
    entry, outcomes = collect(entry, in_time, origin(2, arrived_ms), context("ot-deauville"))
    assert [type(o.verdict) for o in outcomes] == [Deferred]
