"""Time-driven diffusion changes as events: the scheduler's ticks, and what the projector makes
of them.

Judged on the shipped Normandy registry with a hotel and a festival in Deauville entered by the
Calvados board. Time is driven by a fake clock (a callable returning the time a test sets), never
by sleeping; the projector writes into an `InMemoryFeedStore`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from consumers.diffusion_projector import diffuse, diffuse_batch, timeline_parts
from consumers.feeds.cursor import START
from consumers.feeds.memory import InMemoryFeedStore
from consumers.feeds.port import FeedEntry
from hub.codec import DecodeError
from hub.core.clock import Evaluation, Kept, Tick, TickSchedule, Timeline
from hub.core.diffusion import DiffusionChange, DiffusionKind, DiffusionReason
from hub.core.diffusion_rules import boundary_facts, next_boundary
from hub.core.ledger import OfferEntry
from hub.core.offer import OfferFields
from hub.core.regional import OfferStatus, RegionalChange
from hub.scheduler import Scheduler, entry_boundaries
from hub.topics import DIFFUSION_TICKS, OFFER_PARTITIONS, hub_topics
from hub.wire import decode_tick, encode_offer_entry, encode_tick
from tests.support.timed_offers import (
    AFTER_FESTIVAL,
    END_OF_SUMMER,
    MAY_DAY,
    PHOTO,
    SUMMER_PHOTO,
    FakeClock,
    festival,
    offer,
    registry,
    tick,
)


def every_feed(feeds: InMemoryFeedStore) -> dict[str, list[FeedEntry]]:
    return {d: feeds.changes(d, START, 10_000) for d in sorted(registry().diffusers)}


def held_views(feeds: InMemoryFeedStore) -> dict[str, list[tuple[str, OfferFields | None]]]:
    """What each diffuser holds of each offer: the view of its current upsert, or nothing."""
    return {
        diffuser_id: [(e.change.offer_id, e.change.view) for e in feeds.snapshot(diffuser_id)]
        for diffuser_id in sorted(registry().diffusers)
    }


def project_in_batches(
    changes: Sequence[RegionalChange], ticks: Sequence[Tick], feeds: InMemoryFeedStore
) -> Timeline:
    """Both topics into `feeds`, one batch each (changes, then ticks)."""
    timeline = Timeline()
    diffuse_batch(feeds, registry(), timeline, changes, [], {("sitn.regional.changes", 0): 1})
    diffuse_batch(feeds, registry(), timeline, [], ticks, {(DIFFUSION_TICKS, 0): 1})
    return timeline


def entries_of(feeds: InMemoryFeedStore) -> list[DiffusionChange]:
    return [entry.change for feed in every_feed(feeds).values() for entry in feed]


# ---------------------------------------------------------------- the scheduler


def test_no_tick_is_due_before_the_clock_reaches_a_boundary() -> None:
    clock = FakeClock(END_OF_SUMMER - timedelta(microseconds=1))
    scheduler = Scheduler("unused:9092", registry, clock)
    scheduler.observe([offer()])
    assert scheduler.due() == []
    assert scheduler.schedule.next_due(registry()) == END_OF_SUMMER


def test_once_the_clock_passes_a_media_rights_end_one_tick_is_due_at_that_boundary() -> None:
    clock = FakeClock(END_OF_SUMMER + timedelta(hours=3))
    scheduler = Scheduler("unused:9092", registry, clock)
    scheduler.observe([offer(version=4)])
    (due,) = scheduler.due()
    assert (due.offer_id, due.version, due.at) == (offer().offer_id, 4, END_OF_SUMMER)
    assert SUMMER_PHOTO.url in due.reason
    assert "2026-09-30" in due.reason
    assert scheduler.due() == []


def test_after_a_tick_the_scheduler_waits_for_the_next_boundary() -> None:
    autumn_photo = replace(
        SUMMER_PHOTO, url="https://media.example/automne.jpg", rights_end=date(2026, 11, 15)
    )
    change = offer(media=(PHOTO, SUMMER_PHOTO, autumn_photo))
    clock = FakeClock(END_OF_SUMMER)
    scheduler = Scheduler("unused:9092", registry, clock)
    scheduler.observe([change])
    assert [t.at for t in scheduler.due()] == [END_OF_SUMMER]
    following = next_boundary(change, registry(), END_OF_SUMMER)
    assert following == datetime(2026, 11, 16, tzinfo=UTC)
    assert scheduler.schedule.next_due(registry()) == following
    clock.now = following
    assert [t.at for t in scheduler.due()] == [following]


def test_a_clock_past_several_boundaries_ticks_once_at_the_latest() -> None:
    autumn_photo = replace(
        SUMMER_PHOTO, url="https://media.example/automne.jpg", rights_end=date(2026, 11, 15)
    )
    scheduler = Scheduler("unused:9092", registry, FakeClock(datetime(2027, 1, 1, tzinfo=UTC)))
    scheduler.observe([offer(media=(PHOTO, SUMMER_PHOTO, autumn_photo))])
    (due,) = scheduler.due()
    assert due.at == datetime(2026, 11, 16, tzinfo=UTC)
    assert "the latest of 2 boundaries" in due.reason
    assert autumn_photo.url in due.reason


def test_a_restored_scheduler_does_not_tick_again_what_it_ticked() -> None:
    clock = FakeClock(END_OF_SUMMER + timedelta(days=1))
    first = Scheduler("unused:9092", registry, clock)
    first.observe([offer()])
    sent = first.due()
    assert len(sent) == 1
    restarted = Scheduler("unused:9092", registry, clock)
    restarted.restore([offer()], sent)
    assert restarted.due() == []


def test_a_scheduler_given_only_the_boundary_facts_ticks_as_one_given_the_changes() -> None:
    autumn_photo = replace(
        SUMMER_PHOTO, url="https://media.example/automne.jpg", rights_end=date(2026, 11, 15)
    )
    changes = [offer(media=(PHOTO, SUMMER_PHOTO, autumn_photo)), festival()]
    clock = FakeClock(datetime(2027, 1, 1, tzinfo=UTC))
    whole = Scheduler("unused:9092", registry, clock)
    whole.restore(changes, [])
    facts = Scheduler("unused:9092", registry, clock)
    facts.restore([boundary_facts(change) for change in changes], [])
    assert facts.due() == whole.due() != []


def test_a_ledger_entry_gives_the_boundary_facts_of_its_latest_change() -> None:
    entry = encode_offer_entry(OfferEntry(offer().offer_id, offer(version=3)))
    assert entry_boundaries(entry) == boundary_facts(offer(version=3))
    assert entry_boundaries(None) is None  # a tombstone
    waiting = encode_offer_entry(OfferEntry(offer().offer_id))
    assert entry_boundaries(waiting) is None  # an offer not created yet


def test_a_restored_scheduler_ticks_a_boundary_passed_while_the_hub_was_down() -> None:
    scheduler = Scheduler("unused:9092", registry, FakeClock(END_OF_SUMMER + timedelta(days=20)))
    scheduler.restore([offer()], [])
    assert [t.at for t in scheduler.due()] == [END_OF_SUMMER]


def test_a_new_version_is_ticked_from_its_own_time_even_before_an_older_tick() -> None:
    clock = FakeClock(END_OF_SUMMER + timedelta(days=2))
    scheduler = Scheduler("unused:9092", registry, clock)
    scheduler.observe([offer(version=1)])
    assert [t.version for t in scheduler.due()] == [1]
    # Version 2 happened on 20 September (a late correction): its own projection shows the summer
    # photo, so the boundary after it must be ticked again, for version 2.
    scheduler.observe([offer(version=2, occurred_at=datetime(2026, 9, 20, tzinfo=UTC))])
    (again,) = scheduler.due()
    assert (again.version, again.at) == (2, END_OF_SUMMER)


def test_a_redelivered_change_is_not_ticked_twice() -> None:
    scheduler = Scheduler("unused:9092", registry, FakeClock(END_OF_SUMMER))
    scheduler.observe([offer()])
    assert len(scheduler.due()) == 1
    scheduler.observe([offer()])
    assert scheduler.due() == []


@pytest.mark.parametrize("status", [OfferStatus.WITHDRAWN, OfferStatus.DELETED])
def test_an_offer_out_of_the_base_gets_no_tick(status: OfferStatus) -> None:
    scheduler = Scheduler("unused:9092", registry, FakeClock(datetime(2030, 1, 1, tzinfo=UTC)))
    scheduler.observe([offer(status=status)])
    assert scheduler.due() == []
    assert scheduler.schedule.next_due(registry()) is None


def test_a_registry_change_moves_the_next_boundary() -> None:
    schedule = TickSchedule()
    schedule.observe_change(offer())
    assert schedule.next_due(registry()) == END_OF_SUMMER
    ended = replace(
        registry(),
        concessions=tuple(
            replace(c, validity=replace(c.validity, valid_until=date(2026, 6, 30)))
            if c.concession_id == "concession-standard-cdt-calvados"
            else c
            for c in registry().concessions
        ),
    )
    (due,) = schedule.due(ended, datetime(2026, 7, 1, 8, tzinfo=UTC))
    assert due.at == datetime(2026, 7, 1, tzinfo=UTC)
    assert "concession concession-standard-cdt-calvados ended on 2026-06-30" in due.reason


def test_the_schedule_never_ticks_at_or_before_a_change_time() -> None:
    schedule = TickSchedule()
    schedule.observe_change(offer(occurred_at=END_OF_SUMMER))  # at the boundary itself
    assert schedule.due(registry(), END_OF_SUMMER + timedelta(days=30)) == []


# ---------------------------------------------------------------- the projector's timeline


def test_a_tick_read_before_its_change_waits_for_it() -> None:
    timeline = Timeline()
    early = tick(offer(), END_OF_SUMMER)
    assert timeline.tick(early) is None
    assert timeline.waiting() == [early]
    assert timeline.change(offer()) == [
        Evaluation(offer(), MAY_DAY),
        Evaluation(offer(), END_OF_SUMMER),
    ]
    assert timeline.waiting() == []


def test_a_tick_of_an_older_version_is_dropped() -> None:
    timeline = Timeline()
    timeline.change(offer(version=1))
    timeline.change(offer(version=2, occurred_at=MAY_DAY + timedelta(days=1)))
    assert timeline.tick(tick(offer(version=1), END_OF_SUMMER)) is None
    assert timeline.waiting() == []


def test_a_tick_not_later_than_its_change_adds_nothing() -> None:
    timeline = Timeline()
    timeline.change(offer(occurred_at=END_OF_SUMMER))
    assert timeline.tick(tick(offer(), END_OF_SUMMER)) is None


def test_a_waiting_tick_for_a_version_later_than_the_change_read_keeps_waiting() -> None:
    timeline = Timeline()
    later = tick(offer(version=2), END_OF_SUMMER)
    timeline.tick(later)
    assert timeline.change(offer(version=1)) == [Evaluation(offer(version=1), MAY_DAY)]
    assert timeline.waiting() == [later]


def test_the_timeline_state_does_not_depend_on_the_order_things_were_read_in() -> None:
    v1, v2 = offer(version=1), offer(version=2, occurred_at=datetime(2026, 9, 1, tzinfo=UTC))
    ticks = [tick(v1, datetime(2026, 8, 1, tzinfo=UTC)), tick(v2, END_OF_SUMMER)]
    states = set()
    for order in interleavings([v1, v2], ticks):
        timeline = Timeline()
        for item in order:
            if isinstance(item, Tick):
                timeline.tick(item)
            else:
                timeline.change(item)
        latest = timeline.latest(v1.offer_id)
        states.add((latest.version if latest else None, timeline.evaluated_at(v1.offer_id)))
    assert states == {(2, END_OF_SUMMER)}


# ---------------------------------------------------------------- ticks into the feeds


def test_a_tick_after_a_media_rights_end_upserts_the_view_without_that_media() -> None:
    feeds = InMemoryFeedStore()
    project_in_batches([offer()], [tick(offer(), END_OF_SUMMER)], feeds)
    timed = [e for e in entries_of(feeds) if e.occurred_at == END_OF_SUMMER]
    assert {e.diffuser_id for e in timed} == {
        e.diffuser_id for e in entries_of(feeds) if e.occurred_at == MAY_DAY
    }
    for entry in timed:
        assert (entry.kind, entry.reason, entry.version) == (
            DiffusionKind.UPSERT,
            DiffusionReason.CHANGED,
            1,
        )
        assert entry.view is not None
        assert entry.view.media is not None
        assert [m.url for m in entry.view.media] == [PHOTO.url]


def test_a_tick_after_an_events_last_date_removes_it_from_every_feed() -> None:
    feeds = InMemoryFeedStore()
    project_in_batches([festival()], [tick(festival(), AFTER_FESTIVAL)], feeds)
    entered = {e.diffuser_id for e in entries_of(feeds) if e.occurred_at == MAY_DAY}
    removals = [e for e in entries_of(feeds) if e.occurred_at == AFTER_FESTIVAL]
    assert entered
    assert {e.diffuser_id for e in removals} == entered
    assert {(e.kind, e.reason) for e in removals} == {
        (DiffusionKind.REMOVAL, DiffusionReason.EVENT_ENDED)
    }
    assert all(list(feeds.snapshot(d)) == [] for d in entered)


def test_a_tick_before_a_boundary_sends_nothing() -> None:
    feeds = InMemoryFeedStore()
    project_in_batches([offer()], [tick(offer(), datetime(2026, 7, 1, tzinfo=UTC))], feeds)
    assert {e.occurred_at for e in entries_of(feeds)} == {MAY_DAY}


def test_replaying_the_same_changes_and_ticks_gives_the_same_feeds() -> None:
    changes = [
        offer(),
        festival(),
        offer(version=2, occurred_at=datetime(2026, 5, 2, tzinfo=UTC), name="Hôtel des Planches"),
    ]
    ticks = [
        tick(festival(), AFTER_FESTIVAL),
        tick(changes[2], END_OF_SUMMER),
    ]
    live, replayed = InMemoryFeedStore(), InMemoryFeedStore()
    project_in_batches(changes, ticks, live)
    project_in_batches(changes, ticks, replayed)
    assert every_feed(live) == every_feed(replayed)
    assert any(e.change.occurred_at == END_OF_SUMMER for f in every_feed(live).values() for e in f)


def test_a_duplicate_tick_adds_nothing() -> None:
    feeds = InMemoryFeedStore()
    timeline = project_in_batches([offer()], [tick(offer(), END_OF_SUMMER)], feeds)
    before = every_feed(feeds)
    again = diffuse_batch(
        feeds, registry(), timeline, [], [tick(offer(), END_OF_SUMMER)], {(DIFFUSION_TICKS, 0): 2}
    )
    assert again == []
    assert every_feed(feeds) == before


def test_a_feed_ignores_a_tick_evaluated_twice_even_past_the_timeline() -> None:
    feeds = InMemoryFeedStore()
    project_in_batches([offer()], [tick(offer(), END_OF_SUMMER)], feeds)
    before = every_feed(feeds)
    diffuse(feeds, registry(), [Evaluation(offer(), END_OF_SUMMER)], {(DIFFUSION_TICKS, 0): 2})
    assert every_feed(feeds) == before


def test_a_tick_read_before_its_change_reaches_the_feeds_once_the_change_does() -> None:
    feeds = InMemoryFeedStore()
    timeline = Timeline()
    early = diffuse_batch(
        feeds, registry(), timeline, [], [tick(festival(), AFTER_FESTIVAL)], {("t", 0): 1}
    )
    assert early == []
    entries = diffuse_batch(feeds, registry(), timeline, [festival()], [], {("c", 0): 1})
    assert {e.kind for e in entries if e.occurred_at == AFTER_FESTIVAL} == {DiffusionKind.REMOVAL}


def test_whatever_the_interleaving_each_diffuser_ends_with_the_same_view() -> None:
    v1 = offer(version=1)
    v2 = offer(version=2, occurred_at=datetime(2026, 9, 1, tzinfo=UTC), name="Les Planches")
    ticks = [tick(v1, datetime(2026, 8, 1, tzinfo=UTC)), tick(v2, END_OF_SUMMER)]
    outcomes = []
    for order in interleavings([v1, v2], ticks):
        feeds = InMemoryFeedStore()
        timeline = Timeline()
        for offset, item in enumerate(order):
            changes = [item] if isinstance(item, RegionalChange) else []
            read_ticks = [item] if isinstance(item, Tick) else []
            diffuse_batch(feeds, registry(), timeline, changes, read_ticks, {("t", 0): offset + 1})
        outcomes.append(held_views(feeds))
    assert len(outcomes) == 6
    assert all(outcome == outcomes[0] for outcome in outcomes)
    held = [view for views in outcomes[0].values() for _, view in views]
    assert held
    assert all(view is not None and view.media == (PHOTO,) for view in held)


# ---------------------------------------------------------------- the wire and the topic


def test_a_tick_survives_encode_and_decode() -> None:
    sent = tick(offer(version=7), END_OF_SUMMER, "rights of media x ended on 2026-09-30")
    assert decode_tick(encode_tick(sent)) == sent


def test_bytes_of_another_record_are_not_a_tick() -> None:
    from hub.codec import encode_record

    with pytest.raises(DecodeError, match="not a Tick"):
        decode_tick(encode_record("RegionalChange", offer()))


def test_the_tick_topic_is_kept_forever_and_partitioned_by_offer() -> None:
    spec = next(spec for spec in hub_topics() if spec.name == DIFFUSION_TICKS)
    assert spec.partitions == OFFER_PARTITIONS
    assert ("retention.ms", "-1") in spec.config


# ---------------------------------------------------------------- helpers


def interleavings(
    changes: Sequence[RegionalChange], ticks: Sequence[Tick]
) -> Iterator[list[RegionalChange | Tick]]:
    """Every merge of the two topics that keeps each topic's own order."""
    size = len(changes) + len(ticks)
    for places in itertools.combinations(range(size), len(changes)):
        merged: list[RegionalChange | Tick] = []
        pending_changes, pending_ticks = list(changes), list(ticks)
        for index in range(size):
            merged.append(pending_changes.pop(0) if index in places else pending_ticks.pop(0))
        yield merged


# ---------------------------------------------------------------- restarting from the saved rows


def restored(feeds: InMemoryFeedStore) -> Timeline:
    """A restarted projector's timeline: the feed store's rows, as `DiffusionProjector.restore`."""
    timeline = Timeline()
    rows = feeds.timeline(range(OFFER_PARTITIONS), changes=False)
    timeline.restore_parts(timeline_parts(rows, feeds.timeline_change))
    return timeline


def test_each_batch_saves_the_rows_of_the_offers_it_touched_and_only_those() -> None:
    feeds = InMemoryFeedStore()
    timeline = Timeline()
    diffuse_batch(feeds, registry(), timeline, [offer(), festival()], [], {("c", 0): 2})
    assert [row.offer_id for row in feeds.timeline(range(OFFER_PARTITIONS))] == sorted(
        [offer().offer_id, festival().offer_id]
    )
    assert timeline.touched() == [], "the batch took them"
    diffuse_batch(feeds, registry(), timeline, [], [tick(offer(), END_OF_SUMMER)], {("t", 0): 1})
    (row,) = [r for r in feeds.timeline(range(OFFER_PARTITIONS)) if r.offer_id == offer().offer_id]
    assert (row.version, row.evaluated_at) == (1, END_OF_SUMMER)


def test_a_projector_restarted_from_its_rows_goes_on_as_one_that_never_stopped() -> None:
    v2 = offer(version=2, occurred_at=datetime(2026, 9, 1, tzinfo=UTC), name="Les Planches")
    before = ([offer(), festival()], [tick(v2, END_OF_SUMMER)])  # a tick waiting for v2
    after = ([v2], [tick(festival(), AFTER_FESTIVAL), tick(offer(), END_OF_SUMMER)])
    steady, stopped = InMemoryFeedStore(), InMemoryFeedStore()
    for feeds, restart in ((steady, False), (stopped, True)):
        timeline = Timeline()
        diffuse_batch(feeds, registry(), timeline, before[0], before[1], {("c", 0): 1})
        if restart:
            timeline = restored(feeds)
            assert timeline.waiting() == [tick(v2, END_OF_SUMMER)]
        diffuse_batch(feeds, registry(), timeline, after[0], [], {("c", 0): 2})
        diffuse_batch(feeds, registry(), timeline, [], after[1], {("t", 0): 2})
    assert every_feed(stopped) == every_feed(steady)
    assert any(e.occurred_at == AFTER_FESTIVAL for e in entries_of(stopped))


def test_a_restored_timeline_decodes_a_change_only_when_a_tick_needs_it() -> None:
    feeds = InMemoryFeedStore()
    diffuse_batch(feeds, registry(), Timeline(), [offer(), festival()], [], {("c", 0): 2})
    loads: list[str] = []
    timeline = Timeline()
    parts = timeline_parts(feeds.timeline(range(OFFER_PARTITIONS)))
    timeline.restore_parts(
        replace(p, latest=Kept(p.latest.version, counted(p.latest.load, p.offer_id, loads)))
        if isinstance(p.latest, Kept)
        else p
        for p in parts
    )
    assert timeline.change(offer(version=1)) == [], "a redelivery, known by its version alone"
    assert loads == []
    (evaluation,) = [e for e in [timeline.tick(tick(festival(), AFTER_FESTIVAL))] if e]
    assert loads == [festival().offer_id]
    assert evaluation.change == festival()
    (saved,) = timeline.touched()
    assert isinstance(saved.latest, Kept), "its bytes are stored already: not written again"


def counted(
    load: Callable[[], RegionalChange], offer_id: str, loads: list[str]
) -> Callable[[], RegionalChange]:
    def counting() -> RegionalChange:
        loads.append(offer_id)
        return load()

    return counting


def test_a_change_read_late_that_another_instance_moved_on_stops_the_stage_loudly() -> None:
    feeds = InMemoryFeedStore()
    diffuse_batch(feeds, registry(), Timeline(), [offer()], [], {("c", 0): 1})
    timeline = restored(feeds)
    v2 = offer(version=2, occurred_at=datetime(2026, 9, 1, tzinfo=UTC), name="Les Planches")
    diffuse_batch(feeds, registry(), Timeline(), [v2], [], {("c", 0): 2})  # the new owner's
    with pytest.raises(RuntimeError, match="no longer holds version 1"):
        timeline.tick(tick(offer(), END_OF_SUMMER))
