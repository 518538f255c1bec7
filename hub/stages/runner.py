"""The one Kafka loop of the stages that project topics into a database (store, diffusion).

`SinkRunner` is a member of its stage's consumer group (`read_committed`, no auto-commit), so
instances of a stage share the partitions and a stopped or killed one hands its partitions over.
The database holds the positions, written in the same transaction as the rows (tracking records),
so on every assignment the runner seeks to the positions the database holds, whatever the group's
offsets say. It then gathers batches and hands each to the stage's `project` in a worker thread
in two steps: `prepare` decodes it (and says which records it cannot take), `write` writes the
rows with the positions *after* the batch: the consumer's positions, which are past any
transaction marker, so a database that has taken everything holds the topics' end offsets.

A record the stage cannot take (`Poison`) goes to `sitn.deadletter` with its bytes, origin and
the reason, delivered before the batch's transaction is written, and the stage goes on: nothing
is lost, and a crash between the two at worst writes the dead letter again, under the same key
(its origin). After each write the group's offsets are committed too, for `sitn
status`'s lag only: nothing reads them back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError
from aiokafka.structs import ConsumerRecord

from hub.collection.tasks import TaskAssignor
from hub.kafka_clients import make_producer, security_options
from hub.settings import DEFAULT_BATCH_MS
from hub.topics import DEADLETTER
from hub.wire import encode_dead_letter

__all__ = ["Batch", "Poison", "Positions", "SinkRunner"]

log = logging.getLogger("sitn.stages")

Batch = dict[TopicPartition, list[ConsumerRecord]]
Positions = dict[tuple[str, int], int]

# A batch closes at `batch_records` records or `batch_ms` (DEFAULT_BATCH_MS, SITN_BATCH_MS) after
# it began gathering, whichever comes first: under a backlog batches fill at once, and a quiet
# stage adds at most the window.
T = TypeVar("T")


@dataclass(frozen=True)
class Poison:
    """A record the stage could not take, and why (`kind`: the dead letter's `error_kind`)."""

    record: ConsumerRecord
    reason: str
    kind: str


class SinkRunner(Generic[T]):
    def __init__(
        self,
        bootstrap: str,
        *,
        group_id: str,
        topics: Sequence[str],
        positions: Callable[[], Mapping[tuple[str, int], int]],
        prepare: Callable[[Batch], tuple[T, Sequence[Poison]]],
        write: Callable[[T, Positions], None],
        on_assigned: Callable[[set[TopicPartition], Mapping[tuple[str, int], int]], Awaitable[None]]
        | None = None,
        batch_records: int = 2000,
        batch_ms: int = DEFAULT_BATCH_MS,
        session_timeout_ms: int = 10_000,
        client_id: str | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.group_id = group_id
        self.client_id = client_id or group_id  # the group's member ids sort by it
        self.topics = tuple(topics)
        self.positions = positions  # blocking: called in a worker thread
        self.prepare = prepare  # blocking: called in a worker thread
        self.write = write  # blocking: called in a worker thread
        self.on_assigned = on_assigned  # awaited after each assignment, before any batch
        self.batch_records = batch_records
        self.batch_seconds = batch_ms / 1000
        self.session_timeout_ms = session_timeout_ms
        self.assigned: set[TopicPartition] = set()
        self.ready = asyncio.Event()  # set once partitions are assigned and sought
        self.dead_lettered = 0
        self._written: Positions = {}
        self._seek: set[TopicPartition] = set()

    async def run(self, stop: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(
            **security_options(),
            bootstrap_servers=self.bootstrap,
            client_id=self.client_id,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            partition_assignment_strategy=(TaskAssignor,),
            session_timeout_ms=self.session_timeout_ms,
            heartbeat_interval_ms=max(self.session_timeout_ms // 5, 100),
        )
        producer = make_producer(self.bootstrap, client_id=f"{self.group_id}-deadletter")
        consumer.subscribe(list(self.topics), listener=_Listener(self, consumer))
        await producer.start()
        try:
            await consumer.start()
            try:
                while not stop.is_set():
                    if self._seek:
                        await self._seek_to_stored(consumer)
                        continue
                    batch = await self._gather(consumer, stop)
                    if self._seek:
                        continue  # a rebalance came in between: read again from the database
                    moved = await self._moved(consumer)
                    if not batch and not moved:
                        continue
                    prepared, poison = await asyncio.to_thread(self.prepare, batch)
                    if poison:
                        await self._dead_letter(producer, poison)
                    await asyncio.to_thread(self.write, prepared, moved)
                    self._written.update(moved)
                    # A rebalance during the write may have taken every partition that moved:
                    # the database has them, and the group's offsets only feed `sitn status`.
                    still_ours = {
                        TopicPartition(t, p): o
                        for (t, p), o in moved.items()
                        if TopicPartition(t, p) in self.assigned
                    }
                    if still_ours:
                        try:
                            await consumer.commit(still_ours)
                        except CommitFailedError as error:  # the group moved on meanwhile
                            log.debug("%s: offsets not committed: %s", self.group_id, error)
            finally:
                await consumer.stop()
        finally:
            await producer.stop()

    async def _seek_to_stored(self, consumer: AIOKafkaConsumer) -> None:
        wanted, self._seek = set(self._seek), set()
        stored = dict(await asyncio.to_thread(self.positions))
        for tp in sorted(wanted & consumer.assignment()):
            offset = stored.get((tp.topic, tp.partition))
            if offset is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, offset)
            self._written[(tp.topic, tp.partition)] = offset if offset is not None else 0
        if self.on_assigned is not None:
            await self.on_assigned(set(self.assigned), stored)
        consumer.resume(*wanted)
        self.ready.set()

    async def _gather(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> Batch:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.batch_seconds
        gathered: Batch = {}
        count = 0
        while count < self.batch_records and not stop.is_set() and not self._seek:
            left = deadline - loop.time()
            if left <= 0:
                break
            batch = await consumer.getmany(
                timeout_ms=max(1, int(left * 1000)), max_records=self.batch_records - count
            )
            for tp, records in batch.items():
                gathered.setdefault(tp, []).extend(records)
                count += len(records)
        return gathered

    async def _moved(self, consumer: AIOKafkaConsumer) -> Positions:
        moved: Positions = {}
        for tp in sorted(consumer.assignment()):
            if tp in consumer.paused():
                continue
            position = await consumer.position(tp)
            if self._written.get((tp.topic, tp.partition)) != position:
                moved[(tp.topic, tp.partition)] = position
        return moved

    async def _dead_letter(self, producer: AIOKafkaProducer, poison: Sequence[Poison]) -> None:
        deliveries = []
        for item in poison:
            r = item.record
            value = encode_dead_letter(
                topic=r.topic,
                partition=r.partition,
                offset=r.offset,
                key=r.key,
                value=r.value,
                reason=item.reason,
                kind=item.kind,
                failed_at=datetime.fromtimestamp(r.timestamp / 1000, UTC),
            )
            key = f"{r.topic}:{r.partition}:{r.offset}".encode()
            deliveries.append(await producer.send(DEADLETTER, key=key, value=value))
            log.error(
                "%s: %s[%d]@%d dead-lettered: %s",
                self.group_id,
                r.topic,
                r.partition,
                r.offset,
                item.reason,
            )
        await asyncio.gather(*deliveries)
        self.dead_lettered += len(poison)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: SinkRunner[Any], consumer: AIOKafkaConsumer) -> None:
        self.runner = runner
        self.consumer = consumer

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self.runner.assigned -= set(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        # Sought by the loop from the database's positions; paused until then.
        log.info(
            "%s: %d partition(s) assigned: %s",
            self.runner.group_id,
            len(assigned),
            ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(assigned)) or "none",
        )
        self.runner.assigned = set(assigned)
        self.runner._seek = set(assigned)
        if assigned:
            self.consumer.pause(*assigned)
