"""Rebuilds the regional store from the streams, resumably, and verifies it against the live one.

What a rebuild reads: the three topics the store projector consumes (`Streams`: the regional
changes, the rejections and the customer data), so a rebuilt store is complete, not only its
offers. It reads each partition from the position the *target* store holds (nothing: from the
beginning) up to exactly the position given for it (`upto`, normally the live store's positions),
and writes through the same `RegionalStore` calls as the live projector: one transaction per
topic and batch, rows and positions together. Hence:

- **Resumable.** Interrupted anywhere (Ctrl-C, kill, a crash), the target holds whole batches and
  the positions right after them; the next run starts there, never from zero.
- **Same positions.** A run stops at `upto` and never beyond, so the target's positions end equal
  to the live store's positions it was given, and `verify` compares the two digests read at those
  very positions (`RegionalStore.digest_with_positions`, one read transaction), even while the
  live worker keeps writing.
- **Same projection.** Records are decoded with the projector's decoders; a record that does not
  decode is logged and skipped, its position kept, exactly as the projector does.

`check_resumable` refuses a target that is not a (partial) rebuild of these streams: positions on
other topics, positions beyond `upto`, rows without positions, or a last rebuilt regional change
that the target does not hold. Reading the topics happens on the event loop; decoding and writing
happen in a worker thread, the next batch being fetched while the previous one is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from hub.codec import DecodeError, decode_customer_record
from hub.core.contribution import CustomerRecord
from hub.kafka_clients import make_consumer, topic_partitions
from hub.store.port import PositionedDigest, Positions, RegionalStore, StoredOffer
from hub.store_projector import judged_rejection, next_positions, records_of
from hub.topics import CUSTOMER_DATA, REGIONAL_CHANGES, REJECTIONS
from hub.wire import decode_regional_change

log = logging.getLogger("sitn.replay")
T = TypeVar("T")

# Records per write transaction. Larger than the live projector's (2,000): a rebuild has a
# backlog, and fewer, larger transactions amortise the per-transaction costs (see bench.rebuild).
BATCH_RECORDS: Final = 5000
_FETCH_TIMEOUT_MS: Final = 500


class RebuildError(ValueError):
    """The rebuild cannot go on; the message names the topic, partition or store at fault."""


@dataclass(frozen=True)
class Streams:
    """The topics a rebuild reads, by role: the store projector's own unless told otherwise."""

    regional_changes: str = REGIONAL_CHANGES
    rejections: str = REJECTIONS
    customer_data: str = CUSTOMER_DATA

    @property
    def topics(self) -> tuple[str, str, str]:
        return (self.regional_changes, self.rejections, self.customer_data)

    def only(self, positions: Positions) -> dict[tuple[str, int], int]:
        """The positions on these streams' topics, of all those a store holds."""
        return {key: offset for key, offset in positions.items() if key[0] in self.topics}


@dataclass
class Progress:
    """Where a run stands: offsets are what the bar counts (records plus transaction markers)."""

    total: int  # offsets this run has to read, over every partition
    done: int = 0  # offsets read and written
    changes: int = 0
    rejections: int = 0
    customer_records: int = 0
    undecodable: int = 0
    # Where the time goes, in the writing thread (what a benchmark splits the rate by).
    decode_seconds: float = 0.0
    write_seconds: float = 0.0

    @property
    def records(self) -> int:
        return self.changes + self.rejections + self.customer_records + self.undecodable


@dataclass(frozen=True)
class Truncation:
    """A partition whose first records are gone (past the topic's retention): not rebuilt."""

    topic: str
    partition: int
    needed_from: int
    starts_at: int


@dataclass(frozen=True)
class RebuildOutcome:
    """What one run did: from which positions, to which, and whether it reached `upto`."""

    finished: bool
    started_from: dict[tuple[str, int], int]  # the target's positions when the run began
    reached: dict[tuple[str, int], int]  # the target's positions when it ended
    progress: Progress
    truncated: tuple[Truncation, ...] = ()


@dataclass(frozen=True)
class Verification:
    """The live store and the rebuild compared at the same positions."""

    live: PositionedDigest
    rebuilt: PositionedDigest
    # (topic, partition, live position, rebuilt position) where they differ.
    position_differences: tuple[tuple[str, int, int, int], ...] = ()
    offer_differences: tuple[str, ...] = field(default=())  # a few, when the digests differ

    @property
    def equal(self) -> bool:
        return not self.position_differences and self.live.digest == self.rebuilt.digest


# ---------------------------------------------------------------- checks before a run


async def check_resumable(
    store: RegionalStore, bootstrap: str, upto: Positions, streams: Streams = Streams()
) -> None:
    """Raises `RebuildError` unless `store` is empty or a partial rebuild of `streams` to `upto`."""
    positions = await asyncio.to_thread(store.positions)
    foreign = sorted({topic for topic, _ in positions if topic not in streams.topics})
    if foreign:
        raise RebuildError(
            f"it holds positions on {', '.join(foreign)}, which a rebuild does not read: it is "
            "not a rebuild of this hub's streams; give an empty database"
        )
    ahead = [
        (topic, partition, offset, upto.get((topic, partition), 0))
        for (topic, partition), offset in sorted(positions.items())
        if offset > upto.get((topic, partition), 0)
    ]
    if ahead:
        topic, partition, offset, live = ahead[0]
        raise RebuildError(
            f"it is ahead of the live store on {topic}[{partition}] ({offset:,} > {live:,}): "
            "it was not rebuilt from these streams up to the live store; give an empty database"
        )
    if not positions:
        if await asyncio.to_thread(_holds_rows, store):
            raise RebuildError(
                "it holds offers, rejections or customer data but no consumed positions: it was "
                "not written by a rebuild; give an empty database"
            )
        return
    await _check_last_changes(store, bootstrap, positions, streams)


def _holds_rows(store: RegionalStore) -> bool:
    return bool(store.offers(limit=1) or store.rejections(limit=1) or store.customer_data())


async def _check_last_changes(
    store: RegionalStore, bootstrap: str, positions: Positions, streams: Streams
) -> None:
    """The regional change right before each stored position must be in the store."""
    wanted = {
        TopicPartition(topic, partition): offset - 1
        for (topic, partition), offset in positions.items()
        if topic == streams.regional_changes and offset > 0
    }
    if not wanted:
        return
    consumer = make_consumer(bootstrap, group_id=None, client_id="sitn-rebuild-check")
    await consumer.start()
    try:
        consumer.assign(list(wanted))
        starts = await consumer.beginning_offsets(list(wanted))
        for tp, offset in sorted(wanted.items()):
            if starts[tp] > offset:
                continue  # past retention: nothing left to compare with
            last = await _last_record_before(consumer, tp, offset + 1, starts[tp])
            if last is None:
                continue  # only transaction markers there: nothing to compare with
            try:
                change = decode_regional_change(last.value)
            except DecodeError:
                continue  # skipped by the projector too
            held = await asyncio.to_thread(store.offer, change.offer_id)
            if held is None or held.version < change.version:
                raise RebuildError(
                    f"it does not hold offer {change.offer_id} version {change.version} (event "
                    f"{change.event_id}), which {tp.topic}[{tp.partition}]@{last.offset} says it "
                    "rebuilt: it is not a rebuild of this hub's streams; give an empty database"
                )
    finally:
        await consumer.stop()


# Transactional producers put a commit marker after each transaction's records: the last data
# record before a position is a few offsets back, never more than this many in practice.
_MARKERS_WINDOW = 64


async def _last_record_before(
    consumer: AIOKafkaConsumer, tp: TopicPartition, end: int, start: int
) -> ConsumerRecord[bytes, bytes] | None:
    """The last data record of `tp` before offset `end` (markers have offsets but no record),
    looking back a window at a time down to `start`."""
    while end > start:
        begin = max(start, end - _MARKERS_WINDOW)
        consumer.seek(tp, begin)
        last = None
        while True:
            batch = await consumer.getmany(tp, timeout_ms=5000, max_records=_MARKERS_WINDOW)
            records = batch.get(tp, [])
            before = [r for r in records if r.offset < end]
            if before:
                last = before[-1]
            if not records or len(before) < len(records) or await consumer.position(tp) >= end:
                break
        if last is not None:
            return last
        end = begin
    return None


# ---------------------------------------------------------------- the run


async def rebuild(
    store: RegionalStore,
    bootstrap: str,
    upto: Positions,
    *,
    streams: Streams = Streams(),
    batch_records: int = BATCH_RECORDS,
    on_progress: Callable[[Progress], None] | None = None,
    stop_after: int | None = None,
) -> RebuildOutcome:
    """Projects `streams` into `store` from its own positions up to `upto` (see module docstring).

    `on_progress` is called (on the event loop) after every written batch. `stop_after` ends the
    run once at least that many records are written in it, as an interruption would (tests and
    operators' trials); the outcome then says `finished=False` and the next run resumes.
    Raises `RebuildError` if a partition cannot reach its position, `KafkaError` if Kafka fails.
    """
    if batch_records < 1:
        raise ValueError(f"batch_records={batch_records}: write at least one record per batch")
    partitions = await topic_partitions(bootstrap, streams.topics)
    started_from = streams.only(await asyncio.to_thread(store.positions))
    starts = {tp: started_from.get((tp.topic, tp.partition), 0) for tp in partitions}
    ends = {tp: upto.get((tp.topic, tp.partition), 0) for tp in partitions}
    ahead = [tp for tp in partitions if starts[tp] > ends[tp]]
    if ahead:
        tp = ahead[0]
        raise RebuildError(
            f"the target is ahead of the positions to rebuild to on {tp.topic}[{tp.partition}] "
            f"({starts[tp]:,} > {ends[tp]:,}); rebuild into an empty database"
        )
    todo = [tp for tp in partitions if starts[tp] < ends[tp]]
    progress = Progress(total=sum(ends[tp] - starts[tp] for tp in todo))
    reached = dict(started_from)
    _report(on_progress, progress)
    if not todo:
        return RebuildOutcome(True, started_from, reached, progress)
    consumer = make_consumer(bootstrap, group_id=None, client_id="sitn-rebuild")
    await consumer.start()
    try:
        consumer.assign(todo)
        truncated = await _seek(consumer, todo, starts, ends)
        remaining = set(todo)
        writing: asyncio.Future[None] | None = None
        try:
            while remaining and (stop_after is None or progress.records < stop_after):
                batch, finished = await _gather(consumer, remaining, ends, batch_records)
                if writing is not None:
                    await asyncio.shield(writing)
                    _report(on_progress, progress)
                    if stop_after is not None and progress.records >= stop_after:
                        break  # the gathered batch is dropped: the next run reads it again
                writing = None
                if batch or finished:
                    # The next batch is fetched while this one is decoded and written.
                    writing = asyncio.ensure_future(
                        asyncio.to_thread(
                            _write, store, batch, finished, streams, progress, reached, starts
                        )
                    )
            if writing is not None:
                await asyncio.shield(writing)
                _report(on_progress, progress)
        except asyncio.CancelledError:
            # A thread cannot be stopped: let the batch in flight commit (or fail) as a whole
            # before the caller goes on, so nothing writes to the target once this returns.
            if writing is not None:
                with contextlib.suppress(Exception):
                    await writing
            raise
    finally:
        await consumer.stop()
    complete = all(reached.get((tp.topic, tp.partition), 0) >= ends[tp] for tp in todo)
    return RebuildOutcome(complete, started_from, reached, progress, tuple(truncated))


def _report(on_progress: Callable[[Progress], None] | None, progress: Progress) -> None:
    if on_progress is not None:
        on_progress(progress)


async def _seek(
    consumer: AIOKafkaConsumer,
    todo: Sequence[TopicPartition],
    starts: Mapping[TopicPartition, int],
    ends: Mapping[TopicPartition, int],
) -> list[Truncation]:
    """Positions the consumer at each partition's start; notes partitions retention cut short."""
    first = await consumer.beginning_offsets(list(todo))
    last = await consumer.end_offsets(list(todo))
    short = [tp for tp in todo if last[tp] < ends[tp]]
    if short:
        tp = short[0]
        raise RebuildError(
            f"{tp.topic}[{tp.partition}] ends at offset {last[tp]:,} but the store to rebuild "
            f"consumed it up to {ends[tp]:,}: the topic was recreated or belongs to another "
            "cluster (check KAFKA_BOOTSTRAP_SERVERS); this store cannot be rebuilt from it"
        )
    truncated: list[Truncation] = []
    for tp in todo:
        if first[tp] > starts[tp]:
            truncated.append(Truncation(tp.topic, tp.partition, starts[tp], first[tp]))
            log.warning(
                "%s[%d] starts at offset %d: records %d to %d are past the topic's retention "
                "and cannot be rebuilt",
                tp.topic,
                tp.partition,
                first[tp],
                starts[tp],
                first[tp] - 1,
            )
            consumer.seek(tp, first[tp])
        else:
            consumer.seek(tp, starts[tp])
    return truncated


Batch = dict[TopicPartition, list[ConsumerRecord]]


async def _gather(
    consumer: AIOKafkaConsumer,
    remaining: set[TopicPartition],
    ends: Mapping[TopicPartition, int],
    batch_records: int,
) -> tuple[Batch, dict[tuple[str, int], int]]:
    """Up to `batch_records` records below their partition's end, and the partitions read to
    their end (consumed up to it, past any transaction marker), which are dropped."""
    batch: Batch = {}
    finished: dict[tuple[str, int], int] = {}
    count = 0
    while remaining and count < batch_records:
        fetched = await consumer.getmany(
            *remaining, timeout_ms=_FETCH_TIMEOUT_MS, max_records=batch_records - count
        )
        for tp, records in fetched.items():
            kept = [record for record in records if record.offset < ends[tp]]
            if kept:
                batch.setdefault(tp, []).extend(kept)
                count += len(kept)
        for tp in sorted(remaining):
            # The position, not the last record: a transaction marker may come last.
            if await consumer.position(tp) >= ends[tp]:
                remaining.discard(tp)
                consumer.pause(tp)
                finished[(tp.topic, tp.partition)] = ends[tp]
        if not fetched and batch:
            break  # nothing more right now: write what there is
    return batch, finished


def _write(
    store: RegionalStore,
    batch: Batch,
    finished: Mapping[tuple[str, int], int],
    streams: Streams,
    progress: Progress,
    reached: dict[tuple[str, int], int],
    starts: Mapping[TopicPartition, int],
) -> None:
    """Decodes and writes one batch, one transaction per topic (rows with their positions)."""
    if positions := _positions(batch, finished, streams.regional_changes):
        records = records_of(batch, streams.regional_changes)
        changes = _decoded(records, lambda r: decode_regional_change(r.value), progress)
        _timed(progress, lambda: store.apply(changes, positions))
        progress.changes += len(changes)
        _advance(progress, reached, positions, starts)
    if positions := _positions(batch, finished, streams.rejections):
        records = records_of(batch, streams.rejections)
        rejections = _decoded(records, judged_rejection, progress)
        _timed(progress, lambda: store.record_rejections(rejections, positions))
        progress.rejections += len(rejections)
        _advance(progress, reached, positions, starts)
    if positions := _positions(batch, finished, streams.customer_data):
        records = records_of(batch, streams.customer_data)
        customers: list[CustomerRecord] = _decoded(
            records, lambda r: decode_customer_record(r.value), progress
        )
        _timed(progress, lambda: store.record_customer_data(customers, positions))
        progress.customer_records += len(customers)
        _advance(progress, reached, positions, starts)


def _positions(
    batch: Batch, finished: Mapping[tuple[str, int], int], topic: str
) -> dict[tuple[str, int], int]:
    """Where `topic`'s partitions are consumed to after `batch`: past its last records, or to
    the end for a partition read to its end."""
    positions = next_positions(batch, topic)
    positions.update({key: end for key, end in finished.items() if key[0] == topic})
    return positions


def _timed(progress: Progress, write: Callable[[], None]) -> None:
    started = time.perf_counter()
    write()
    progress.write_seconds += time.perf_counter() - started


def _advance(
    progress: Progress,
    reached: dict[tuple[str, int], int],
    positions: Mapping[tuple[str, int], int],
    starts: Mapping[TopicPartition, int],
) -> None:
    for key, offset in positions.items():
        before = reached.get(key, starts.get(TopicPartition(*key), 0))
        progress.done += max(0, offset - before)
        reached[key] = max(offset, before)


def _decoded(
    records: list[ConsumerRecord], decoder: Callable[[ConsumerRecord], T], progress: Progress
) -> list[T]:
    started = time.perf_counter()
    values: list[T] = []
    for record in records:
        try:
            values.append(decoder(record))
        except DecodeError as error:
            progress.undecodable += 1
            log.error(
                "skipping undecodable record %s[%d]@%d: %s",
                record.topic,
                record.partition,
                record.offset,
                error,
            )
    progress.decode_seconds += time.perf_counter() - started
    return values


# ---------------------------------------------------------------- after a run


def verify(
    live: PositionedDigest,
    rebuilt: RegionalStore,
    streams: Streams = Streams(),
    *,
    live_store: RegionalStore | None = None,
) -> Verification:
    """Compares the rebuilt store with the live one read at `live` (positions and digest).

    With `live_store`, digests that differ come with a few offers that differ (read now: if the
    live store moved on since `live` was read, some may be its newer versions).
    """
    mine = rebuilt.digest_with_positions()
    theirs, ours = streams.only(live.positions), streams.only(mine.positions)
    differences = tuple(
        (topic, partition, theirs.get((topic, partition), 0), ours.get((topic, partition), 0))
        for topic, partition in sorted(set(theirs) | set(ours))
        if theirs.get((topic, partition), 0) != ours.get((topic, partition), 0)
    )
    offers: tuple[str, ...] = ()
    if mine.digest != live.digest and live_store is not None:
        offers = tuple(offer_differences(live_store, rebuilt))
    return Verification(PositionedDigest(live.digest, theirs), mine, differences, offers)


def offer_differences(live: RegionalStore, rebuilt: RegionalStore, limit: int = 5) -> list[str]:
    """Up to `limit` offers whose public content differs, each said in one line."""
    found: list[str] = []
    live_pages, rebuilt_pages = _all_offers(live), _all_offers(rebuilt)
    mine, theirs = next(rebuilt_pages, None), next(live_pages, None)
    while (mine is not None or theirs is not None) and len(found) < limit:
        if theirs is not None and (mine is None or theirs.offer_id < mine.offer_id):
            found.append(f"{theirs.offer_id}: in the live store only (version {theirs.version})")
            theirs = next(live_pages, None)
        elif mine is not None and (theirs is None or mine.offer_id < theirs.offer_id):
            found.append(f"{mine.offer_id}: in the rebuilt store only (version {mine.version})")
            mine = next(rebuilt_pages, None)
        elif mine is not None and theirs is not None:
            if _public(mine) != _public(theirs):
                found.append(
                    f"{mine.offer_id}: live version {theirs.version} ({theirs.status}), rebuilt "
                    f"version {mine.version} ({mine.status})"
                    + ("" if mine.version != theirs.version else ", different content")
                )
            mine, theirs = next(rebuilt_pages, None), next(live_pages, None)
    return found


def _public(offer: StoredOffer) -> tuple[object, ...]:
    return (offer.offer_type, offer.status, offer.version, offer.public, offer.provenance)


def _all_offers(store: RegionalStore, page: int = 500) -> Iterator[StoredOffer]:
    after = ""
    while True:
        offers = store.offers(after, page)
        yield from offers
        if len(offers) < page:
            return
        after = offers[-1].offer_id
