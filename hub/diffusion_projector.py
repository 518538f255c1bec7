"""Fans the regional history out to every diffuser's feed (architecture §5), exactly once in effect.

Reads `sitn.regional.changes` and `sitn.diffusion.ticks` from the positions the feed store holds.
Each change, and each tick (the scheduler saw the wall clock pass one of the offer's diffusion
boundaries, `hub.core.clock`), becomes an evaluation: the offer's change and the instant to
project it at. For each, the pure rules (`hub.core.diffusion_rules.fan_out`) say what each
diffuser must receive, given what it last received of that offer (read back from its feed); an
entry caused by a tick carries the tick's time, later than its change's. Entries and the positions
of both topics are appended in one transaction, so after a crash the projector resumes after the
last batch it wrote, and a redelivered change or tick meets feeds that already hold its entries
(the store ignores them).

Its per-offer state (each offer's latest change, when it was last evaluated, ticks that arrived
before their change: `hub.core.clock.Timeline`) is derived from the two topics only: at start it
is rebuilt by reading both from their beginning up to the stored positions. Within a batch the
changes are taken before the ticks, so a batch read again gives the same entries; how ticks and
changes that race are ordered is in `hub.core.clock`.

The fan-out is stored as one sequence per diffuser in the feed tables, not as per-diffuser Kafka
topics: `sitn.regional.changes` is the one log, each feed is its filtered projection, and a
diffuser reaches only its own feed through its API key (`hub.api`). Rules are judged at the
change's event time or the tick's, never the wall clock, so replaying both logs reproduces the
feeds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, TypeVar

from aiokafka import TopicPartition

from hub.core.clock import Evaluation, Tick, Timeline
from hub.core.diffusion import DiffusionChange
from hub.core.diffusion_rules import fan_out, last_received
from hub.core.regional import RegionalChange
from hub.core.registry import Registry
from hub.feed_views import FeedViews
from hub.feeds.port import FeedStore
from hub.stages.runner import Batch, Poison, Positions, SinkRunner
from hub.topic_reader import read_prefix
from hub.topics import DIFFUSION_TICKS, REGIONAL_CHANGES
from hub.wire import DecodeError, RecordError, decode_regional_change, decode_tick

log = logging.getLogger("sitn.diffusion")
T = TypeVar("T")

DIFFUSED_TOPICS = (REGIONAL_CHANGES, DIFFUSION_TICKS)

# Records per batch, hence per feed transaction: at a hundred diffusers a change makes tens of
# entries, and a short transaction keeps both the latency and the other writers' waits short.
BATCH_RECORDS: Final = 500


@dataclass
class DiffusionTally:
    changes: int = 0
    entries: int = 0
    ticks: int = 0


def diffuse(
    feeds: FeedStore,
    registry: Registry,
    changes: Sequence[RegionalChange | Evaluation],
    positions: dict[tuple[str, int], int],
    views: FeedViews | None = None,
) -> list[DiffusionChange]:
    """Fan `changes` out and append the entries with `positions` (blocking: run it in a thread).

    A change is projected at its own time, an `Evaluation` at its `at`. What each diffuser last
    received of the batch's offers is read once for the batch (through `views`, the projector's
    cache checked against the feeds, or straight from the feeds), then kept up to date in memory
    as the batch goes: never one read per diffuser per change.
    """
    items = [
        (item.change, item.at) if isinstance(item, Evaluation) else (item, item.occurred_at)
        for item in changes
    ]
    diffusers = sorted(registry.diffusers)
    offer_ids = sorted({change.offer_id for change, _ in items})
    views = FeedViews(capacity=max(len(offer_ids), 1)) if views is None else views
    known = views.load(feeds, diffusers, offer_ids) if items else {}
    entries: list[DiffusionChange] = []
    for change, at in items:
        previous = {
            diffuser_id: view
            for diffuser_id in diffusers
            if (view := known.get((diffuser_id, change.offer_id))) is not None
        }
        emitted = fan_out(change, previous, registry, at)
        for entry in emitted:
            view = last_received(entry)
            if view is None:
                known.pop((entry.diffuser_id, entry.offer_id), None)
            else:
                known[(entry.diffuser_id, entry.offer_id)] = view
        entries += emitted
    views.stored(feeds.append(entries, positions))
    return entries


def evaluations(
    timeline: Timeline, changes: Sequence[RegionalChange], ticks: Sequence[Tick]
) -> list[Evaluation]:
    """What a batch makes the projector evaluate: the changes first, then the ticks."""
    found = [evaluation for change in changes for evaluation in timeline.change(change)]
    for tick in ticks:
        evaluation = timeline.tick(tick)
        if evaluation is not None:
            found.append(evaluation)
    return found


def diffuse_batch(
    feeds: FeedStore,
    registry: Registry,
    timeline: Timeline,
    changes: Sequence[RegionalChange],
    ticks: Sequence[Tick],
    positions: dict[tuple[str, int], int],
    views: FeedViews | None = None,
) -> list[DiffusionChange]:
    """One batch of both topics into the feeds, with `positions`, in one transaction (blocking).

    `timeline` moves on even if the append fails: the caller then stops, and a restart rebuilds
    it from the topics up to the positions stored.
    """
    return diffuse(feeds, registry, evaluations(timeline, changes, ticks), positions, views)


class DiffusionProjector:
    """The diffusion stage's projection; `run` follows both topics as a member of `group_id`."""

    def __init__(
        self,
        feeds: FeedStore,
        bootstrap: str,
        registry: Callable[[], Registry],
        *,
        group_id: str = "sitn-diffusion",
    ) -> None:
        self.feeds = feeds
        self.bootstrap = bootstrap
        self.registry = registry
        self.tally = DiffusionTally()
        self.timeline = Timeline()
        self.views = FeedViews()
        self.runner: SinkRunner[tuple[list[RegionalChange], list[Tick]]] = SinkRunner(
            bootstrap,
            group_id=group_id,
            topics=DIFFUSED_TOPICS,
            positions=feeds.positions,
            prepare=self.prepare,
            write=self.write,
            on_assigned=self.restore,
            batch_records=BATCH_RECORDS,
        )

    async def run(self, stop: asyncio.Event) -> None:
        await self.runner.run(stop)

    async def restore(
        self, assigned: set[TopicPartition], positions: Mapping[tuple[str, int], int]
    ) -> None:
        """The timeline of the assigned partitions as it was after the last batch written (both
        topics read up to the feeds' positions)."""
        mine = {(tp.topic, tp.partition) for tp in assigned}
        upto = {key: offset for key, offset in positions.items() if key in mine}
        changes = await read_prefix(
            self.bootstrap, REGIONAL_CHANGES, decode_regional_change, upto=upto
        )
        ticks = await read_prefix(self.bootstrap, DIFFUSION_TICKS, decode_tick, upto=upto)
        self.timeline = Timeline()
        self.views = FeedViews()
        await asyncio.to_thread(self.timeline.restore, changes.values, ticks.values)
        log.info(
            "diffusion: timeline of %d partitions restored from %d changes and %d ticks "
            "(%d ticks waiting)",
            len(assigned),
            len(changes.values),
            len(ticks.values),
            len(self.timeline.waiting()),
        )

    def prepare(self, batch: Batch) -> tuple[tuple[list[RegionalChange], list[Tick]], list[Poison]]:
        poison: list[Poison] = []
        changes = _decoded(batch, REGIONAL_CHANGES, decode_regional_change, poison)
        ticks = _decoded(batch, DIFFUSION_TICKS, decode_tick, poison)
        return (changes, ticks), poison

    def write(self, decoded: tuple[list[RegionalChange], list[Tick]], positions: Positions) -> None:
        changes, ticks = decoded
        entries = diffuse_batch(
            self.feeds, self.registry(), self.timeline, changes, ticks, positions, self.views
        )
        self.tally.changes += len(changes)
        self.tally.ticks += len(ticks)
        self.tally.entries += len(entries)


def _decoded(
    batch: Batch, topic: str, decode: Callable[[bytes | None], T], poison: list[Poison]
) -> list[T]:
    values: list[T] = []
    for tp in sorted(tp for tp in batch if tp.topic == topic):
        for record in batch[tp]:
            try:
                values.append(decode(record.value))
            except (DecodeError, RecordError) as error:
                reason = error.message if isinstance(error, DecodeError) else str(error)
                poison.append(Poison(record, f"diffusion cannot take it: {reason}", "invalid"))
    return values
