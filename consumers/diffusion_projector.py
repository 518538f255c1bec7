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
before their change: `hub.core.clock.Timeline`) is saved in the feed database, one row per offer
(`FeedStore.timeline`), in the transaction that writes the entries and positions it goes with. On
an assignment the rows of the assigned partitions are read back without the changes' bytes, and a
change is read and decoded when a tick first needs it: a restart reads one small row per offer,
not the history. A feed database that has
positions but no rows (written before the rows existed) is restored once from both topics, up to
the stored positions, and every offer's row is then saved. Within a batch the
changes are taken before the ticks, so a batch read again gives the same entries; how ticks and
changes that race are ordered is in `hub.core.clock`.

The fan-out is stored as one sequence per diffuser in the feed tables, not as per-diffuser Kafka
topics: `sitn.regional.changes` is the one log, each feed is its filtered projection, and a
diffuser reaches only its own feed through its API key (`consumers.api`). Rules are judged at the
change's event time or the tick's, never the wall clock, so replaying both logs reproduces the
feeds.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, TypeVar

from aiokafka import TopicPartition

from consumers.feed_views import FeedViews
from consumers.feeds.port import FeedStore, TimelineRow
from hub.core.clock import Evaluation, Kept, OfferTimeline, Tick, Timeline
from hub.core.diffusion import DiffusionChange
from hub.core.diffusion_rules import fan_out, last_received
from hub.core.regional import RegionalChange
from hub.core.registry import Registry
from hub.garbage_collector import collector_paused
from hub.settings import DEFAULT_BATCH_MS
from hub.stages.runner import Batch, Poison, Positions, SinkRunner
from hub.topic_reader import read_prefix
from hub.topics import DIFFUSION_TICKS, OFFER_PARTITIONS, REGIONAL_CHANGES, expected_partition
from hub.wire import (
    DecodeError,
    RecordError,
    decode_regional_change,
    decode_tick,
    encode_regional_change,
    encode_tick,
)

log = logging.getLogger("sitn.diffusion")
T = TypeVar("T")

DIFFUSED_TOPICS = (REGIONAL_CHANGES, DIFFUSION_TICKS)

# Records per batch, hence per feed transaction: at a hundred diffusers a change makes tens of
# entries, and a short transaction keeps both the latency and the other writers' waits short.
BATCH_RECORDS: Final = 500


@dataclass(frozen=True)
class Decoded:
    """A batch of both topics, decoded, with the changes' bytes by offer id."""

    changes: list[RegionalChange]
    ticks: list[Tick]
    raw: dict[str, tuple[int, bytes]]  # offer id -> (version, bytes) of its latest change


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
    timeline: Sequence[TimelineRow] = (),
) -> list[DiffusionChange]:
    """Fan `changes` out and append the entries with `positions` and the `timeline` rows
    (blocking: run it in a thread).

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
    views.stored(feeds.append(entries, positions, timeline))
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
    raw: Mapping[str, tuple[int, bytes]] | None = None,
) -> list[DiffusionChange]:
    """One batch of both topics into the feeds, with `positions` and the timeline rows of the
    offers it touched, in one transaction (blocking). `raw`: the batch's changes as read, by
    offer id (their latest), so a row stores the record's bytes instead of encoding them again.

    `timeline` moves on even if the append fails: the caller then stops, and a restart rebuilds
    it from the rows stored.
    """
    found = evaluations(timeline, changes, ticks)
    rows = timeline_rows(timeline.touched(), raw or {})
    return diffuse(feeds, registry, found, positions, views, rows)


def timeline_rows(
    parts: Sequence[OfferTimeline], raw: Mapping[str, tuple[int, bytes]]
) -> list[TimelineRow]:
    """The rows that save `parts` (a change kept as bytes stays as stored: None); `raw` gives
    the bytes a change was read as, used when they are of the version the timeline holds."""
    rows: list[TimelineRow] = []
    for part in parts:
        latest = part.latest
        change: bytes | None = None
        if isinstance(latest, RegionalChange):
            version, read = raw.get(part.offer_id, (0, b""))
            change = read if version == latest.version else encode_regional_change(latest)
        rows.append(
            TimelineRow(
                part.offer_id,
                expected_partition(part.offer_id.encode(), OFFER_PARTITIONS),
                0 if latest is None else latest.version,
                change,
                part.evaluated_at,
                tuple(encode_tick(tick) for tick in part.waiting),
            )
        )
    return rows


def timeline_parts(
    rows: Sequence[TimelineRow], load: Callable[[str], bytes | None] | None = None
) -> list[OfferTimeline]:
    """The saved rows as the timeline takes them back, each change decoded when first needed:
    from the row's bytes, or, for rows read without them, read with `load` (the feed store's
    `timeline_change`) then."""
    parts: list[OfferTimeline] = []
    for row in rows:
        latest: Kept | None = None
        if row.change is not None:
            latest = Kept(row.version, functools.partial(decode_regional_change, row.change))
        elif row.version > 0 and load is not None:
            latest = Kept(row.version, functools.partial(_stored_change, load, row))
        waiting = tuple(decode_tick(t) for t in row.waiting)
        parts.append(OfferTimeline(row.offer_id, latest, row.evaluated_at, waiting))
    return parts


def _stored_change(load: Callable[[str], bytes | None], row: TimelineRow) -> RegionalChange:
    value = load(row.offer_id)
    change = None if value is None else decode_regional_change(value)
    if change is None or change.version != row.version:
        # Another instance moved the offer on: this one lost its partition; its restart
        # takes the rows as they now stand.
        raise RuntimeError(
            f"the timeline row of {row.offer_id} no longer holds version {row.version}; "
            "the diffusion stage restarts from the rows as they are"
        )
    return change


class DiffusionProjector:
    """The diffusion stage's projection; `run` follows both topics as a member of `group_id`."""

    def __init__(
        self,
        feeds: FeedStore,
        bootstrap: str,
        registry: Callable[[], Registry],
        *,
        group_id: str = "sitn-diffusion",
        batch_ms: int = DEFAULT_BATCH_MS,
    ) -> None:
        self.feeds = feeds
        self.bootstrap = bootstrap
        self.registry = registry
        self.tally = DiffusionTally()
        self.timeline = Timeline()
        self.views = FeedViews()
        self.runner: SinkRunner[Decoded] = SinkRunner(
            bootstrap,
            group_id=group_id,
            topics=DIFFUSED_TOPICS,
            positions=feeds.positions,
            prepare=self.prepare,
            write=self.write,
            on_assigned=self.restore,
            batch_records=BATCH_RECORDS,
            batch_ms=batch_ms,
        )

    async def run(self, stop: asyncio.Event) -> None:
        await self.runner.run(stop)

    async def restore(
        self, assigned: set[TopicPartition], positions: Mapping[tuple[str, int], int]
    ) -> None:
        """The timeline of the assigned partitions as it was after the last batch written: the
        feeds' rows, or once, for a partition that has positions but no rows yet (a database
        older than the rows), both topics up to its positions."""
        started = time.monotonic()
        partitions = sorted({tp.partition for tp in assigned})
        self.timeline = Timeline()
        self.views = FeedViews()
        with (
            collector_paused()
        ):  # hundreds of thousands of long-lived objects: hub.garbage_collector
            # Without the changes' bytes: a change is read and decoded when a tick first needs it.
            rows = await asyncio.to_thread(
                functools.partial(self.feeds.timeline, partitions, changes=False)
            )
            parts = await asyncio.to_thread(timeline_parts, rows, self.feeds.timeline_change)
            self.timeline.restore_parts(parts)
        with_rows = {row.partition for row in rows}
        bare = {
            (tp.topic, tp.partition): positions[(tp.topic, tp.partition)]
            for tp in assigned
            if tp.partition not in with_rows and positions.get((tp.topic, tp.partition), 0) > 0
        }
        log.info(
            "diffusion: timeline of %d partitions restored from %d offers' rows in %.2f s "
            "(%d ticks waiting)",
            len(assigned),
            len(rows),
            time.monotonic() - started,
            len(self.timeline.waiting()),
        )
        if bare:
            await self._restore_from_topics(bare)

    async def _restore_from_topics(self, upto: Mapping[tuple[str, int], int]) -> None:
        """The timeline of partitions without rows, from both topics' prefixes; then the rows of
        their offers that still have none are saved (another instance may have saved some)."""
        started = time.monotonic()
        changes = await read_prefix(
            self.bootstrap, REGIONAL_CHANGES, decode_regional_change, upto=upto
        )
        ticks = await read_prefix(self.bootstrap, DIFFUSION_TICKS, decode_tick, upto=upto)
        read = time.monotonic() - started
        saved = await asyncio.to_thread(self._save_restored, changes.values, ticks.values, upto)
        log.warning(
            "diffusion: %d partition(s) without timeline rows read from %d changes and %d ticks "
            "in %.2f s; %d offers' rows saved in %.2f s for next time",
            len({partition for _, partition in upto}),
            len(changes.values),
            len(ticks.values),
            read,
            saved,
            time.monotonic() - started - read,
        )

    def _save_restored(
        self, changes: list[RegionalChange], ticks: list[Tick], upto: Mapping[tuple[str, int], int]
    ) -> int:
        self.timeline.restore(changes, ticks)
        offers = {c.offer_id for c in changes} | {t.offer_id for t in ticks}
        present = {row.offer_id for row in self.feeds.timeline({p for _, p in upto})}
        parts = [self.timeline.part(o) for o in sorted(offers - present)]
        self.feeds.append([], {}, timeline_rows(parts, {}))
        return len(parts)

    def prepare(self, batch: Batch) -> tuple[Decoded, list[Poison]]:
        poison: list[Poison] = []
        raw: dict[str, tuple[int, bytes]] = {}
        changes = _decoded(batch, REGIONAL_CHANGES, decode_regional_change, poison, raw)
        ticks = _decoded(batch, DIFFUSION_TICKS, decode_tick, poison)
        return Decoded(changes, ticks, raw), poison

    def write(self, decoded: Decoded, positions: Positions) -> None:
        changes, ticks = decoded.changes, decoded.ticks
        entries = diffuse_batch(
            self.feeds,
            self.registry(),
            self.timeline,
            changes,
            ticks,
            positions,
            self.views,
            decoded.raw,
        )
        self.tally.changes += len(changes)
        self.tally.ticks += len(ticks)
        self.tally.entries += len(entries)


def _decoded(
    batch: Batch,
    topic: str,
    decode: Callable[[bytes | None], T],
    poison: list[Poison],
    raw: dict[str, tuple[int, bytes]] | None = None,
) -> list[T]:
    """The topic's records of `batch`, decoded; with `raw`, the bytes of each offer's latest
    change of the batch, with its version."""
    values: list[T] = []
    for tp in sorted(tp for tp in batch if tp.topic == topic):
        for record in batch[tp]:
            try:
                value = decode(record.value)
                values.append(value)
                if raw is not None and isinstance(value, RegionalChange) and record.value:
                    known = raw.get(value.offer_id)
                    if known is None or known[0] < value.version:
                        raw[value.offer_id] = (value.version, record.value)
            except (DecodeError, RecordError) as error:
                reason = error.message if isinstance(error, DecodeError) else str(error)
                poison.append(Poison(record, f"diffusion cannot take it: {reason}", "invalid"))
    return values
