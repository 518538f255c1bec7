"""The diffusion scheduler: publishes a `Tick` when the wall clock passes a diffusion boundary.

This is the one place of the hub that reads the wall clock (through an injected `Clock`, so tests
drive time without waiting for real boundaries). It follows `sitn.regional.changes`, keeps per
offer the latest change and the next instant its diffusion may change with no new change (a
media's rights starting or ending, an event's last date passing, a diffusion convention or a
concession starting or ending: `hub.core.clock.TickSchedule`), and when the clock passes it,
publishes a `Tick` at that boundary on `sitn.diffusion.ticks` (idempotent producer, acks=all,
keyed by offer id), then looks for the next boundary. The diffusion projector turns each tick
into feed entries dated at the boundary, so a replay of both topics reproduces them.

Restarts: the state is rebuilt at start from two compacted topics, in proportion to the offers, not
the history: `sitn.collection.boundaries` (one record per offer: the `BoundaryFacts` of its latest
change, a few hundred bytes, written by the collection stage in the transaction that wrote the
change), which is all the scheduler decodes and keeps of the changes, and its own
`sitn.scheduler.state` (each offer's latest tick, written once the broker holds that tick on
`sitn.diffusion.ticks`, which keeps every tick for replays). The end offsets of
`sitn.regional.changes` are taken first and followed from there; a change read twice (in the facts
and after those offsets) is taken once. A partition never written on the facts topic (an older
hub's, until the collection stage writes them from its ledger) is read from its ledger entries, and
one with no ledger either but a history (older still) from its history; a partition never written
on the state topic is read from the ticks topic, and its latest ticks are written to the state
topic. The cyclic garbage collector is paused while the state is built and its objects are frozen
after (`hub.garbage_collector`). So a restart neither loses a tick (a boundary passed
while the hub was down is ticked at start, at its own instant) nor sends one again, but for a tick
sent just before a crash and not yet noted on the state topic. A tick sent twice (that one, or a
publish that failed after the broker had it) is harmless: same offer, version and instant, so the
projector evaluates nothing new, and a feed ignores an entry it already holds.

Blocking work (decoding, computing boundaries, encoding) runs in a worker thread, never on the
event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord

from hub.collection.tasks import TaskAssignor
from hub.core.clock import Tick, TickSchedule
from hub.core.diffusion_rules import BoundaryFacts, boundary_facts
from hub.core.regional import RegionalChange
from hub.core.registry import Registry
from hub.garbage_collector import collector_paused
from hub.kafka_clients import make_producer, security_options
from hub.topic_reader import read_prefix, read_prefix_records
from hub.topics import (
    COLLECTION_BOUNDARIES,
    COLLECTION_STATE,
    DIFFUSION_TICKS,
    REGIONAL_CHANGES,
    SCHEDULER_STATE,
)
from hub.wire import (
    DecodeError,
    RecordError,
    decode_boundary_facts,
    decode_offer_entry,
    decode_regional_change,
    decode_tick,
    encode_tick,
)

log = logging.getLogger("sitn.scheduler")
tick_log = logging.getLogger("sitn.scheduler.ticks")  # one line per tick: for debugging

Clock = Callable[[], datetime]
T = TypeVar("T")


def wall_clock() -> datetime:
    """The current time, aware, in UTC: the only wall-clock read of the hub's processing."""
    return datetime.now(UTC)


@dataclass
class SchedulerTally:
    changes: int = 0
    ticks: int = 0


class Scheduler:
    """Ticks every offer's diffusion boundaries as the clock passes them (module docstring)."""

    def __init__(
        self,
        bootstrap: str,
        registry: Callable[[], Registry],
        clock: Clock = wall_clock,
        *,
        poll_seconds: float = 1.0,
        changes_topic: str = REGIONAL_CHANGES,
        ticks_topic: str = DIFFUSION_TICKS,
        state_topic: str = COLLECTION_STATE,
        facts_topic: str = COLLECTION_BOUNDARIES,
        state_ticks_topic: str = SCHEDULER_STATE,
        group_id: str = "sitn-scheduler",
    ) -> None:
        self.bootstrap = bootstrap
        self.changes_topic = changes_topic  # the topics are named here so tests can isolate them
        self.ticks_topic = ticks_topic
        self.state_topic = state_topic
        self.facts_topic = facts_topic
        self.state_ticks_topic = state_ticks_topic
        self.registry = registry
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.schedule = TickSchedule()
        self.tally = SchedulerTally()
        self.ready = asyncio.Event()  # set once the state is restored and ticks can go out
        self.group_id = group_id
        self._assigned: set[TopicPartition] | None = None  # to restore, after a rebalance
        # How far the changes are taken in, per partition (the next offset): the restore counts
        # as read up to the end offsets it took. For progress reports; never committed.
        self.positions: dict[tuple[str, int], int] = {}

    def restore(
        self, changes: Iterable[RegionalChange | BoundaryFacts], ticks: Iterable[Tick]
    ) -> None:
        """Takes in the history of both topics (blocking: run it in a thread)."""
        self.schedule.restore(changes, ticks)

    def observe(self, changes: Iterable[RegionalChange | BoundaryFacts]) -> None:
        for change in changes:
            self.schedule.observe_change(change)
            self.tally.changes += 1

    def due(self) -> list[Tick]:
        """The ticks the clock has made due now, taken in as sent (blocking: run it in a thread)."""
        return self.schedule.due(self.registry(), self.clock())

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the regional changes as a member of `group_id`: instances share the offers by
        partition, and each ticks only the offers of the partitions it holds."""
        consumer = AIOKafkaConsumer(
            **security_options(),
            bootstrap_servers=self.bootstrap,
            client_id=self.group_id,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            partition_assignment_strategy=(TaskAssignor,),
            session_timeout_ms=10_000,
            heartbeat_interval_ms=2_000,
        )
        producer = make_producer(self.bootstrap, client_id=self.group_id)
        consumer.subscribe([self.changes_topic], listener=_Reassigned(self, consumer))
        await producer.start()
        try:
            await consumer.start()
            try:
                while not stop.is_set():
                    if self._assigned is not None:
                        await self._restore_assigned(consumer, producer)
                    await self.publish_due(producer)
                    batch = await consumer.getmany(
                        timeout_ms=int(self.poll_seconds * 1000), max_records=2000
                    )
                    records = [record for tp in sorted(batch) for record in batch[tp]]
                    if records and self._assigned is None:
                        await asyncio.to_thread(self._observe_records, records)
                    if self._assigned is None:
                        for tp in sorted(consumer.assignment()):
                            self.positions[(tp.topic, tp.partition)] = await consumer.position(tp)
            finally:
                await consumer.stop()
        finally:
            await producer.stop()

    async def _restore_assigned(
        self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer
    ) -> None:
        """The schedule of the assigned partitions, from the boundary facts and the ticks
        (module docstring); the changes are followed from their end offsets taken first."""
        started = time.perf_counter()
        assigned, self._assigned = self._assigned or set(), None
        partitions = sorted(tp.partition for tp in assigned)
        ends = await consumer.end_offsets(sorted(assigned)) if assigned else {}
        upto = {(tp.topic, tp.partition): offset for tp, offset in ends.items()}
        with collector_paused():
            changes, source = await self._read_facts(partitions, upto)
            ticks = await self._read_ticks(partitions, producer)
            read = time.perf_counter() - started
            self.schedule = TickSchedule()
            await asyncio.to_thread(self._restore_and_plan, changes, ticks)
        for tp in sorted(assigned):
            consumer.seek(tp, ends[tp])
        consumer.resume(*assigned)
        self.positions = dict(upto)
        log.info(
            "scheduler: %d partitions; %d %s and %d ticks read back in %.1f s, next boundaries "
            "planned in %.1f s",
            len(assigned),
            len(changes),
            source,
            len(ticks),
            read,
            time.perf_counter() - started - read,
        )
        self.ready.set()

    async def _read_ticks(self, partitions: list[int], producer: AIOKafkaProducer) -> list[Tick]:
        """Each offer's latest tick, from `sitn.scheduler.state`; for a partition holding none
        there but ticks (an older hub's), from the ticks topic, whose latest tick per offer is
        then written to the state topic, so the next start reads only that (if that is cut
        short, the offers not written get their last tick again: harmless)."""
        ticks, noted = await self._read_partitions(self.state_ticks_topic, decode_tick, partitions)
        unnoted = [p for p in partitions if p not in noted]
        if not unnoted:
            return ticks
        history, _ = await self._read_partitions(self.ticks_topic, decode_tick, unnoted)
        if history:
            latest = await asyncio.to_thread(_latest_encoded, history)
            await self._note_sent(producer, latest)
            log.warning(
                "scheduler: %d ticks of %d partition(s) read from %s (none on %s); the latest of "
                "each of %d offers written there for next time",
                len(history),
                len(unnoted),
                self.ticks_topic,
                self.state_ticks_topic,
                len(latest),
            )
        return ticks + history

    async def _note_sent(self, producer: AIOKafkaProducer, sent: list[tuple[Tick, bytes]]) -> None:
        """Sent ticks (and their bytes) on the compacted state topic, once the broker holds them
        on the ticks topic."""
        deliveries = [
            await producer.send(self.state_ticks_topic, key=tick.offer_id.encode(), value=value)
            for tick, value in sent
        ]
        await asyncio.gather(*deliveries)

    async def _read_facts(
        self, partitions: list[int], upto: dict[tuple[str, int], int]
    ) -> tuple[list[BoundaryFacts], str]:
        """Each offer's facts, from `sitn.collection.boundaries`; for a partition holding none
        there (an older hub's, until the collection stage writes them), from its ledger entries;
        for one with no ledger entry either but a history (older still), from its history. A
        partition counts by what it holds committed, not by its end offset: an aborted write
        moves that too."""
        changes, with_facts = await self._read_partitions(
            self.facts_topic, decode_boundary_facts, partitions
        )
        source = "offers' boundary facts"
        without = [p for p in partitions if p not in with_facts]
        if not without:
            return changes, source
        entries, with_entries = await self._read_partitions(
            self.state_topic, entry_boundaries, without
        )
        changes += [c for c in entries if c is not None]
        source += f", ledger entries of {len(without)} partition(s) with no facts yet"
        bare = {
            (self.changes_topic, p): upto[(self.changes_topic, p)]
            for p in without
            if upto.get((self.changes_topic, p), 0) > 0 and p not in with_entries
        }
        if bare:
            history = await read_prefix(
                self.bootstrap,
                self.changes_topic,
                change_boundaries,
                upto=bare,
                client_id=self.group_id,
            )
            changes += history.values
            source += f" and changes of {len(bare)} with no ledger yet"
        return changes, source

    async def _read_partitions(
        self, topic: str, decode: Callable[[bytes | None], T], partitions: list[int]
    ) -> tuple[list[T], set[int]]:
        """`topic`'s records on `partitions`, decoded, and the partitions that hold any."""
        read = await read_prefix_records(
            self.bootstrap,
            topic,
            lambda record: (record.partition, decode(record.value)),
            upto={(topic, p): 2**62 for p in partitions},
            client_id=self.group_id,
        )
        return [value for _, value in read.values], {partition for partition, _ in read.values}

    def _restore_and_plan(self, changes: list[BoundaryFacts], ticks: list[Tick]) -> None:
        """Restores, then computes every offer's next boundary, so ready means ready to tick."""
        self.restore(changes, ticks)
        self.schedule.next_due(self.registry())

    async def publish_due(self, producer: AIOKafkaProducer) -> list[Tick]:
        """Sends the due ticks, waits until the broker holds every one of them, then notes them
        on the state topic.

        The schedule takes a tick in before it is sent; if sending fails the error stops the
        scheduler, and the restart rebuilds the schedule from the topics, so the tick goes again.
        """
        due = await asyncio.to_thread(self._due_encoded)
        deliveries = [
            await producer.send(self.ticks_topic, key=tick.offer_id.encode(), value=value)
            for tick, value in due
        ]
        await asyncio.gather(*deliveries)
        await self._note_sent(producer, due)
        for tick, _ in due:
            tick_log.info(
                "tick %s v%d at %s: %s", tick.offer_id, tick.version, tick.at, tick.reason
            )
        self.tally.ticks += len(due)
        return [tick for tick, _ in due]

    def _due_encoded(self) -> list[tuple[Tick, bytes]]:
        return [(tick, encode_tick(tick)) for tick in self.due()]

    def _observe_records(self, records: list[ConsumerRecord]) -> None:
        changes: list[BoundaryFacts] = []
        for record in records:
            try:
                changes.append(change_boundaries(record.value))
            except (DecodeError, RecordError) as error:
                log.error(
                    "regional change %d@%d skipped: %s", record.partition, record.offset, error
                )
        self.observe(changes)


def entry_boundaries(value: bytes | None) -> BoundaryFacts | None:
    """The boundary facts of the latest change an offer's ledger record holds (None: a
    tombstone, or not created yet), decoding the whole entry."""
    if value is None:
        return None
    latest = decode_offer_entry(value).latest
    return None if latest is None else boundary_facts(latest)


def _latest_encoded(ticks: Iterable[Tick]) -> list[tuple[Tick, bytes]]:
    """The latest tick of each offer (by version, then instant), by offer id, with its bytes."""
    latest: dict[str, Tick] = {}
    for tick in ticks:
        known = latest.get(tick.offer_id)
        if known is None or (tick.version, tick.at) > (known.version, known.at):
            latest[tick.offer_id] = tick
    return [(latest[offer_id], encode_tick(latest[offer_id])) for offer_id in sorted(latest)]


def change_boundaries(value: bytes | None) -> BoundaryFacts:
    return boundary_facts(decode_regional_change(value))


class _Reassigned(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, scheduler: Scheduler, consumer: AIOKafkaConsumer) -> None:
        self.scheduler = scheduler
        self.consumer = consumer

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        # Restored by the loop (reading topics here would hold the group up); paused until then.
        self.scheduler._assigned = set(assigned)
        if assigned:
            self.consumer.pause(*assigned)
