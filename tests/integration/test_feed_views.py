"""The projector's cache of last-received views: used only while the feeds agree with it.

`FeedViews` must never change what the feeds get: the fan-out of a demo stream batch by batch
with one cache kept across batches gives the same feeds as reading every view back from the
feeds; and a feed moved by another writer (an operator's resync) is read again, not trusted.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from consumers.diffusion_projector import diffuse
from consumers.feed_views import FeedViews
from consumers.feeds import FeedStore
from consumers.feeds.cursor import START
from consumers.feeds.memory import InMemoryFeedStore
from consumers.feeds.sql import SqlFeedStore
from hub.codec import encode_contribution
from hub.collection_processor import CollectionProcessor, Inbound
from hub.core.diffusion import DiffusionReason
from hub.core.regional import RegionalChange
from hub.core.registry import Registry
from hub.reference import load_normandy_territory
from hub.registry.format import load_normandy_registry
from hub.topics import REGIONAL_CHANGES, contrib_topic
from hub.wire import decode_regional_change
from producers.demo import as_contribution, creations, generate_changes, generate_offers
from tests.support.diffusion_changes import DIFFUSER, OTHER_DIFFUSER, removal, upsert

DIFFUSERS = [DIFFUSER, OTHER_DIFFUSER]


def test_a_cached_view_is_used_while_the_feed_has_not_moved() -> None:
    feeds, views = InMemoryFeedStore(), FeedViews()
    views.stored(feeds.append([upsert("HOT-1", 1, name="Premier")], {}))

    found = views.load(feeds, DIFFUSERS, ["HOT-1"])

    assert found[(DIFFUSER, "HOT-1")].fields == upsert("HOT-1", 1, name="Premier").view
    assert (views.hits, views.reads) == (1, 0)


def test_a_feed_another_writer_moved_is_read_again() -> None:
    feeds, views = InMemoryFeedStore(), FeedViews()
    views.stored(feeds.append([upsert("HOT-1", 1, name="Premier")], {}))
    feeds.append([upsert("HOT-1", 2, name="Renommé par un autre")], {})

    found = views.load(feeds, DIFFUSERS, ["HOT-1"])

    assert found[(DIFFUSER, "HOT-1")].fields == upsert("HOT-1", 2, name="Renommé par un autre").view
    assert (views.hits, views.reads) == (0, 1)


def test_a_removal_by_another_writer_leaves_no_view() -> None:
    feeds, views = InMemoryFeedStore(), FeedViews()
    views.stored(
        feeds.append([upsert("HOT-1", 1), upsert("HOT-1", 1, diffuser=OTHER_DIFFUSER)], {})
    )
    feeds.append([removal("HOT-1", 2)], {})

    found = views.load(feeds, DIFFUSERS, ["HOT-1"])

    assert sorted(found) == [(OTHER_DIFFUSER, "HOT-1")]


def test_the_offers_used_least_recently_leave_the_cache_first() -> None:
    feeds, views = InMemoryFeedStore(), FeedViews(capacity=2)
    views.stored(feeds.append([upsert(offer, 1) for offer in ("A-1", "B-2", "C-3")], {}))

    views.load(feeds, DIFFUSERS, ["B-2", "C-3"])
    views.load(feeds, DIFFUSERS, ["A-1"])

    assert (views.hits, views.reads) == (2, 1)


def test_a_cache_needs_room_for_one_offer() -> None:
    with pytest.raises(ValueError, match="at least 1 offer"):
        FeedViews(capacity=0)


def demo_regional_history(registry: Registry) -> list[RegionalChange]:
    territory = load_normandy_territory()
    offers = generate_offers(40, 7, tuple(territory.values()))
    stream = creations(offers) + generate_changes(
        offers, 160, 7, invalid_ratio=0.1, registry=registry
    )
    processor = CollectionProcessor(registry, territory)
    history: list[RegionalChange] = []
    for offset, (org, demo_change) in enumerate(stream):
        contribution = as_contribution(org, demo_change)
        record = Inbound(
            topic=contrib_topic(org),
            partition=0,
            offset=offset,
            timestamp_ms=0,
            key=contribution.offer_id.encode(),
            value=encode_contribution(contribution),
        )
        history += [
            decode_regional_change(out.value)
            for out in processor.process(record)
            if out.topic == REGIONAL_CHANGES
        ]
    return history


def feeds_of(feeds: FeedStore, registry: Registry) -> dict[str, list[tuple[int, str, int, str]]]:
    return {
        diffuser: [
            (e.seq, e.change.offer_id, e.change.version, f"{e.change.kind}:{e.change.reason}")
            for e in feeds.changes(diffuser, after=START, limit=100_000)
        ]
        for diffuser in sorted(registry.diffusers)
    }


@pytest.mark.parametrize("capacity", [1, 7, 5_000])
def test_the_cache_kept_across_batches_changes_nothing_the_feeds_get(
    capacity: int, tmp_path: Path
) -> None:
    registry = load_normandy_registry()
    history = demo_regional_history(registry)
    fresh, cached = InMemoryFeedStore(), SqlFeedStore(f"sqlite:///{tmp_path}/feeds.db")
    cached.migrate()
    views = FeedViews(capacity=capacity)
    removed = 0
    for start in range(0, len(history), 13):
        batch = history[start : start + 13]
        position = {(REGIONAL_CHANGES, 0): start + len(batch)}
        diffuse(fresh, registry, batch, position)
        diffuse(cached, registry, batch, position, views)
        # Another writer removes the offers the next batch changes from every feed holding
        # them: the cache must notice, or it would hand the rules views the feeds no longer show.
        if start % 39 == 0:
            ahead = sorted({change.offer_id for change in history[start + 13 : start + 26]})
            held = fresh.currents(sorted(registry.diffusers), ahead)
            for (diffuser, offer_id), last in sorted(held.items()):
                taken = replace(
                    removal(offer_id, last.change.version, diffuser=diffuser),
                    reason=DiffusionReason.RESYNC,
                    occurred_at=last.change.occurred_at + timedelta(seconds=1),
                )
                for feeds in (fresh, cached):
                    feeds.append([taken], {})
                removed += 1

    assert (len(history) > 100, removed > 0, views.hits > 0) == (True, True, True)
    assert feeds_of(cached, registry) == feeds_of(fresh, registry)
    cached.close()
