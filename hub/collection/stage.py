"""The collection stage's Kafka loop: consume, judge, and produce in one transaction per task.

Guarantees (docs/architecture.md, "Collection"):
- **Atomic.** A task's outputs for a batch of inputs (regional changes, rejections, dead letters,
  customer data), its ledger records on `sitn.collection.state` (and each new change's boundary
  facts on `sitn.collection.boundaries`) and the consumed offsets are committed in one Kafka
  transaction. A failed send aborts it: the ledger is rolled back, the
  consumer goes back to the committed offsets, and the batch is tried again, one input at a time
  after a failure; an input whose outputs can never be sent is dead-lettered with the reason.
- **Fenced.** Each task has its own transactional id (`<group>-<partition>`): the instance that
  takes a task over starts a producer with that id, which fences the previous owner (a zombie
  paused past its session timeout cannot commit) and waits for its open transaction to end before
  the ledger is read back. Two instances never judge one offer, so they never reuse a version.
- **Restores in proportion to offers.** A task's ledger is the compacted state topic's partition,
  read back as raw bytes (an offer is decoded when a contribution first touches it).
- **Causal order.** Within a task, inputs are taken in record-timestamp order across the
  contributor topics, and a topic known to hold unread records is waited for (up to `idle_ms`),
  so a backlog is judged in the same order however it is fetched; a contribution to an offer not
  created yet waits in the ledger (`hub.core.ledger`) and is refused `offer.unknown` once
  `deadline_ms` has passed since it arrived, in stream time (the latest record time judged),
  or by the wall clock once the task has read everything.
- **Pattern subscription.** Every `sitn.contrib.*` topic is consumed, including the topic of an
  organisation registered while the stage runs (the metadata is refreshed every few seconds).
- Every consumer reads `read_committed`; nothing commits offsets but the transactions.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import (
    IllegalStateError,
    InvalidProducerEpoch,
    KafkaError,
    ProducerFenced,
)
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata

from hub.collection.tasks import TaskAssignor
from hub.collection_processor import (
    DEFAULT_MAX_RECORD_BYTES,
    WAITING_HEADER,
    CollectionProcessor,
    Inbound,
    Outbound,
    Tally,
    boundaries_output,
    dead_letter,
    ledger_outputs,
)
from hub.core.ledger import OfferEntry
from hub.core.regional import RegionalChange
from hub.core.registry import Registry
from hub.core.territory import Territory
from hub.kafka_clients import ensure_topics, make_admin, security_options
from hub.topic_reader import read_prefix
from hub.topics import (
    COLLECTION_BOUNDARIES,
    COLLECTION_STATE,
    CONTRIB_PREFIX,
    OFFER_KEYED,
    OFFER_PARTITIONS,
    REGIONAL_CHANGES,
    contributor_topic_spec,
)
from hub.wire import decode_offer_entry, decode_regional_change

__all__ = ["CONTRIBUTOR_PATTERN", "DEFAULT_DEADLINE_MS", "CollectionStage"]

log = logging.getLogger("sitn.collection")

DEFAULT_DEADLINE_MS: Final = 7 * 86_400_000
CONTRIBUTOR_PATTERN: Final = "^" + CONTRIB_PREFIX.replace(".", r"\.") + "[a-z0-9][a-z0-9-]*$"
BATCH_INPUTS: Final = 500  # inputs per transaction: short transactions, few round trips
BUFFERED: Final = 5_000  # records buffered per partition before it is paused
_FENCED = (ProducerFenced, InvalidProducerEpoch)


def wall_ms() -> int:
    """The wall clock in ms: read for deadlines only, never for a verdict's content."""
    return time.time_ns() // 1_000_000


class Fenced(Exception):
    """Another instance took the task over: this one must not commit anything for it."""


@dataclass
class Task:
    """One partition number of every contributor topic, with its ledger and its producer."""

    partition: int
    producer: AIOKafkaProducer
    processor: CollectionProcessor
    inputs: set[TopicPartition] = field(default_factory=set)
    committed: dict[TopicPartition, int] = field(default_factory=dict)  # next offset to read
    buffers: dict[TopicPartition, deque[ConsumerRecord]] = field(default_factory=dict)
    blocked_since: float | None = None
    one_at_a_time: int = 0  # inputs left to take one per transaction, after a failure
    last_sweep: int = 0  # when deadlines were last looked at (ms)
    stream_ms: int = 0  # the latest record timestamp the task has judged


@dataclass
class CollectionStage:
    """The collection stage of one instance: `run` until `stop` is set."""

    bootstrap: str
    registry: Callable[[], Registry]
    territory: Territory
    group_id: str = "sitn-collection"
    deadline_ms: int = DEFAULT_DEADLINE_MS
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
    idle_ms: int = 2_000
    session_timeout_ms: int = 10_000
    metadata_max_age_ms: int = 3_000
    clock: Callable[[], int] = wall_ms
    tasks: dict[int, Task] = field(default_factory=dict)
    tally: Tally = field(default_factory=Tally)  # of tasks no longer owned; see `totals`
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    commits: int = 0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _consumer: AIOKafkaConsumer | None = None
    _pending: dict[int, set[TopicPartition]] = field(default_factory=dict)  # tasks to adopt
    _registry_seen: Registry | None = None
    _careful: set[int] = field(default_factory=set)  # tasks to take one input at a time
    _organisations: set[str] = field(default_factory=set)

    @property
    def consumer(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise RuntimeError("the collection stage is not running")
        return self._consumer

    def totals(self) -> Tally:
        """What every task of this instance judged since it started."""
        total = replace(self.tally)
        for task in self.tasks.values():
            for name, value in vars(task.processor.tally).items():
                setattr(total, name, getattr(total, name) + value)
        return total

    async def run(self, stop: asyncio.Event) -> None:
        await check_partition_counts(self.bootstrap)
        consumer = AIOKafkaConsumer(
            **security_options(),
            bootstrap_servers=self.bootstrap,
            client_id=f"{self.group_id}-consumer",
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            partition_assignment_strategy=(TaskAssignor,),
            session_timeout_ms=self.session_timeout_ms,
            heartbeat_interval_ms=max(self.session_timeout_ms // 5, 100),
            metadata_max_age_ms=self.metadata_max_age_ms,
        )
        self._consumer = consumer
        consumer.subscribe(pattern=CONTRIBUTOR_PATTERN, listener=_Rebalance(self))
        await consumer.start()
        try:
            while not stop.is_set():
                await self._topics_of_new_organisations()
                batch = await consumer.getmany(timeout_ms=200, max_records=BUFFERED)
                async with self._lock:
                    if self._pending:
                        pending, self._pending = self._pending, {}
                        await asyncio.gather(*(self._adopt(p, tps) for p, tps in pending.items()))
                        batch = {}  # fetched before the seeks to the committed offsets
                    self._buffer(batch)
                    for task in list(self.tasks.values()):
                        await self._step(task)
                    if self.tasks:
                        self.ready.set()
        finally:
            async with self._lock:
                for task in list(self.tasks.values()):
                    await self._drop(task)
            await consumer.stop()
            self._consumer = None

    # ------------------------------------------------------------ the loop

    async def _topics_of_new_organisations(self) -> None:
        """Create the topic of an organisation registered while the stage runs; the pattern
        subscription then takes it in at the next metadata refresh."""
        registry = self.registry()
        if registry is self._registry_seen:
            return
        new = sorted(set(registry.organisations) - self._organisations)
        if new:
            await ensure_topics(self.bootstrap, [contributor_topic_spec(org) for org in new])
            log.info("new contributors: %s", ", ".join(new))
        self._organisations |= set(new)
        self._registry_seen = registry

    def _buffer(self, batch: Mapping[TopicPartition, list[ConsumerRecord]]) -> None:
        for tp, records in batch.items():
            task = self.tasks.get(tp.partition)
            if task is None or tp not in task.inputs:
                continue  # fetched before a rebalance took it away
            buffer = task.buffers.setdefault(tp, deque())
            buffer.extend(records)
            if len(buffer) >= BUFFERED and tp in self.consumer.assignment():
                self.consumer.pause(tp)

    async def _step(self, task: Task) -> None:
        """Judge what the task can take now and commit it; on failure start the task again."""
        taken: list[ConsumerRecord] = []
        try:
            taken, outputs = await self._take(task)
            if not taken and not outputs:
                task.processor.commit()
                return
            await self._commit(task, await self._consumed(task, taken), outputs)
        except Fenced as fenced:
            log.warning("task %d: %s; handing it over", task.partition, fenced)
            await self._drop(task)
        except KafkaError as error:
            if (
                len(taken) == 1
                and not error.retriable
                and await self._unsendable(task, taken[0], error)
            ):
                return
            log.warning(
                "task %d: transaction aborted (%r); starting the task again from its committed "
                "offsets and ledger, one input per transaction for a while",
                task.partition,
                error,
            )
            await self._restart(task)

    async def _take(self, task: Task) -> tuple[list[ConsumerRecord], list[Outbound]]:
        """The next inputs in timestamp order, judged; and the deadlines that have passed."""
        processor = task.processor
        processor.registry = self.registry()
        processor.begin()
        taken: list[ConsumerRecord] = []
        outputs: list[Outbound] = []
        limit = 1 if task.one_at_a_time else BATCH_INPUTS
        # The buffers' heads in a heap: an input is chosen in O(log inputs), and the inputs
        # that may hold more are looked at once here, then only when a buffer runs dry.
        heads = [(buf[0].timestamp, tp.topic, tp) for tp, buf in task.buffers.items() if buf]
        heapq.heapify(heads)
        dry = [tp for tp in task.inputs if not task.buffers.get(tp)]
        while len(taken) < limit and heads and not await self._waits_for(task, dry):
            _, _, tp = heapq.heappop(heads)
            buffer = task.buffers[tp]
            record = buffer.popleft()
            if buffer:
                heapq.heappush(heads, (buffer[0].timestamp, tp.topic, tp))
            else:
                dry = [tp]
                if tp in self.consumer.assignment():
                    self.consumer.resume(tp)
            outputs += processor.process(_inbound(record))
            taken.append(record)
            task.stream_ms = max(task.stream_ms, record.timestamp)
        # Deadlines run on stream time (the latest record time the task has judged), so a
        # backlog or a replay reaches the same verdicts however fast it is read; the wall clock
        # moves them on only once the task has read everything there is.
        now = task.stream_ms
        if await self._caught_up(task):
            now = max(now, self.clock())
        if processor.waiting_since and now - task.last_sweep >= min(1_000, self.deadline_ms):
            task.last_sweep = now
            outputs += processor.expire(now, self.deadline_ms)
        task.one_at_a_time = max(task.one_at_a_time - len(taken), 0)
        return taken, outputs

    async def _consumed(self, task: Task, taken: list[ConsumerRecord]) -> dict[TopicPartition, int]:
        """Where each partition taken from is consumed to: its next buffered record, or, when
        the buffer is empty, the consumer's position, past any transaction marker, so that a
        stage that has judged everything has committed its inputs' end offsets."""
        positions = _positions(taken)
        for tp in positions:
            buffer = task.buffers.get(tp)
            if buffer:
                positions[tp] = buffer[0].offset
            elif tp in self.consumer.assignment():
                positions[tp] = max(positions[tp], await self.consumer.position(tp))
        return positions

    async def _waits_for(self, task: Task, dry: list[TopicPartition]) -> bool:
        """Whether one of the `dry` inputs (empty buffers) may hold a record earlier than the
        buffered ones and is still being fetched: then the task waits, for up to `idle_ms` in
        all (not per record: an input that lags for longer is then not waited for until it has
        caught up once)."""
        for tp in dry:
            if not task.buffers.get(tp) and await self._may_hold_more(tp):
                now = time.monotonic()
                task.blocked_since = task.blocked_since or now
                return (now - task.blocked_since) * 1000 < self.idle_ms
        task.blocked_since = None
        return False

    async def _caught_up(self, task: Task) -> bool:
        for tp in task.inputs:
            if task.buffers.get(tp) or await self._may_hold_more(tp):
                return False
        return True

    async def _may_hold_more(self, tp: TopicPartition) -> bool:
        # A subscription change unassigns partitions at once, before the rebalance callbacks.
        if tp not in self.consumer.assignment() or tp in self.consumer.paused():
            return False
        stable = self.consumer.last_stable_offset(tp)
        if stable is None:
            return True  # no fetch answered yet for it
        return bool(await self.consumer.position(tp) < stable)

    async def _commit(
        self, task: Task, taken: dict[TopicPartition, int], outputs: list[Outbound]
    ) -> None:
        producer = task.producer
        try:
            await producer.begin_transaction()
            deliveries: list[asyncio.Future[Any]] = []
            try:
                for out in outputs:
                    deliveries.append(
                        await producer.send(
                            out.topic, key=out.key, value=out.value, headers=list(out.headers)
                        )
                    )
                results = await asyncio.gather(*deliveries, return_exceptions=True)
                failed = next((r for r in results if isinstance(r, BaseException)), None)
                if failed is not None:
                    raise failed
                if taken:
                    await producer.send_offsets_to_transaction(
                        {tp: OffsetAndMetadata(offset, "") for tp, offset in taken.items()},
                        self.group_id,
                    )
                await producer.commit_transaction()
            except _FENCED:
                raise
            except BaseException:
                await asyncio.gather(*deliveries, return_exceptions=True)
                await _abort(producer)
                raise
        except _FENCED as error:
            raise Fenced(str(error)) from error
        task.processor.commit()
        task.committed.update(taken)
        self.commits += 1

    async def _unsendable(self, task: Task, record: ConsumerRecord, error: KafkaError) -> bool:
        """One input whose outputs failed for good: commit its dead letter instead (True), so it
        is neither lost nor tried forever. False if even that could not be committed."""
        task.processor.rollback()
        inbound = _inbound(record)
        reason = f"its outputs could not be sent: {error!r}"
        letter = dead_letter(inbound, reason, "unsendable")
        if len(letter.value) > self.max_record_bytes:
            bare = replace(inbound, value=None)
            letter = dead_letter(
                bare, f"{reason}; value left out (too large): read it at its origin", "unsendable"
            )
        task.processor.begin()
        task.processor.tally.dead_lettered += 1
        try:
            await self._commit(task, _positions([record]), [letter])
        except KafkaError as again:
            log.error("task %d: the dead letter failed too: %r", task.partition, again)
            return False
        log.error(
            "%s[%d]@%d dead-lettered: %s", record.topic, record.partition, record.offset, reason
        )
        return True

    async def _restart(self, task: Task) -> None:
        """The task from scratch: dropped now, adopted again by the loop (a new producer, which
        aborts whatever is open, the ledger read back, the inputs from their committed offsets)
        only while the group still gives it to this instance; one input per transaction for a
        while. Never after being fenced: the new owner would be fenced in turn."""
        inputs = set(task.inputs) & self.consumer.assignment()
        await self._drop(task)
        await asyncio.sleep(0.5)
        if inputs:
            self._pending[task.partition] = inputs
            self._careful.add(task.partition)

    # ------------------------------------------------------------ rebalancing

    async def _adopt(self, partition: int, inputs: set[TopicPartition]) -> None:
        """Take a task over: fence its previous owner, read its ledger back, seek its inputs."""
        if not inputs <= self.consumer.assignment():
            return  # taken away since: the next rebalance says who has it
        producer = AIOKafkaProducer(
            **security_options(),
            bootstrap_servers=self.bootstrap,
            client_id=f"{self.group_id}-{partition}",
            transactional_id=f"{self.group_id}-{partition}",
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
            max_request_size=max(self.max_record_bytes * 2, 1_048_576),
            # Room for the one long transaction a task may run: seeding an empty ledger from an
            # older history (every offer of the partition). A killed owner's open transaction is
            # aborted by the next owner's fencing, not by this timeout.
            transaction_timeout_ms=300_000,
        )
        await producer.start()  # InitProducerId: fences the previous owner's producer
        processor = CollectionProcessor(
            self.registry(),
            self.territory,
            partitions=OFFER_PARTITIONS,
            max_record_bytes=self.max_record_bytes,
        )
        started = time.monotonic()
        task = Task(partition, producer, processor, inputs)
        try:
            offers, with_facts = await read_ledger(self.bootstrap, partition, processor)
            if offers == 0:  # the seed writes each offer's facts with its entry
                offers = await seed_ledger(self.bootstrap, partition, processor, producer)
            elif without := sorted(set(processor.entries) - with_facts):
                await repair_boundaries(partition, processor, producer, without)
            for tp in sorted(inputs):
                # Never committed: from offset 0, which the consumer's `earliest` reset moves to
                # the log's start if records were deleted (asking for the start can stall for
                # seconds on a topic created a moment ago).
                committed = await self.consumer.committed(tp) or 0
                task.committed[tp] = committed
                task.buffers[tp] = deque()
                self.consumer.seek(tp, committed)
        except IllegalStateError:  # unassigned meanwhile: the next rebalance says who has it
            await producer.stop()
            return
        if partition in self._careful:
            self._careful.discard(partition)
            task.one_at_a_time = BATCH_INPUTS
        self.tasks[partition] = task
        if inputs <= self.consumer.assignment():
            self.consumer.resume(*inputs)
        log.info(
            "task %d: %d offers read back in %.2f s; %d inputs",
            partition,
            offers,
            time.monotonic() - started,
            len(inputs),
        )

    async def _drop(self, task: Task) -> None:
        self.tasks.pop(task.partition, None)
        for name, value in vars(task.processor.tally).items():
            setattr(self.tally, name, getattr(self.tally, name) + value)
        try:
            await task.producer.stop()
        except KafkaError as error:  # it may be fenced already: nothing of it is needed
            log.debug("task %d: producer stop: %r", task.partition, error)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, stage: CollectionStage) -> None:
        self.stage = stage

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self.stage._lock:
            self.stage._pending = {}
            for task in list(self.stage.tasks.values()):
                await self.stage._drop(task)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        # Adopted by the loop, not here: the committed offsets must be read after the new
        # producer has fenced the previous owner, and the group cannot answer that while this
        # callback runs. Paused until then, so nothing is fetched from a stale position.
        by_task: dict[int, set[TopicPartition]] = {}
        for tp in assigned:
            by_task.setdefault(tp.partition, set()).add(tp)
        self.stage.consumer.pause(*assigned)
        self.stage._pending = by_task


class PartitioningError(RuntimeError):
    """An offer-keyed topic with another partition count than the hub's: offers would not meet."""


async def check_partition_counts(bootstrap: str) -> None:
    """Every contributor topic and offer-keyed hub topic has `OFFER_PARTITIONS` partitions, so
    one offer's records meet in one task; raises `PartitioningError` naming those that do not."""
    admin = make_admin(bootstrap, client_id="sitn-admin")
    await admin.start()
    try:
        names = [
            t for t in await admin.list_topics() if t.startswith(CONTRIB_PREFIX) or t in OFFER_KEYED
        ]
        described = await admin.describe_topics(names) if names else []
    finally:
        await admin.close()
    wrong = sorted(
        f"{t['topic']} ({len(t['partitions'])})"
        for t in described
        if not t.get("error_code") and len(t["partitions"]) != OFFER_PARTITIONS
    )
    if wrong:
        raise PartitioningError(
            f"these topics do not have {OFFER_PARTITIONS} partitions like every offer-keyed "
            f"topic of the hub: {', '.join(wrong)}; an offer's events would be judged apart. "
            "Recreate them with that count (or move their records to new topics) before starting"
        )


async def read_ledger(
    bootstrap: str, partition: int, processor: CollectionProcessor
) -> tuple[int, set[str]]:
    """Read partition `partition` of the state topic into `processor`, as raw bytes; returns the
    offers read and the offers that have boundary facts on that partition of
    `sitn.collection.boundaries` (keys only: nothing is decoded)."""
    tp = TopicPartition(COLLECTION_STATE, partition)
    facts = TopicPartition(COLLECTION_BOUNDARIES, partition)
    consumer = AIOKafkaConsumer(
        **security_options(),
        bootstrap_servers=bootstrap,
        client_id="sitn-collection-restore",
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    with_facts: set[str] = set()
    try:
        consumer.assign([tp, facts])
        await consumer.seek_to_beginning(tp, facts)
        ends = await consumer.end_offsets([tp, facts])
        remaining = [part for part in (tp, facts) if ends[part] > 0]
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000, max_records=20_000)
            for record in batch.get(tp, []):
                processor.restore_entry(record.key.decode(), record.value, _waiting(record))
            with_facts.update(record.key.decode() for record in batch.get(facts, []))
            remaining = [part for part in remaining if await consumer.position(part) < ends[part]]
    finally:
        await consumer.stop()
    return len(processor.entries), with_facts


async def repair_boundaries(
    partition: int,
    processor: CollectionProcessor,
    producer: AIOKafkaProducer,
    without_facts: list[str],
) -> None:
    """Offers of the ledger with no boundary facts beside them (a ledger older than
    `sitn.collection.boundaries`, or a seed that did not commit): their facts written from their
    entries, in one transaction, so the scheduler need not decode entries. The entries are
    decoded one at a time and not kept (the processor still holds bytes); an offer not created
    yet has no facts to write."""
    outputs = await asyncio.to_thread(_boundaries_of, processor, without_facts)
    if not outputs:
        return
    await _send_all(producer, partition, outputs)
    log.warning(
        "task %d: boundary facts of %d offers written from their ledger entries (they had none "
        "on sitn.collection.boundaries); the scheduler reads them at its next start",
        partition,
        len(outputs),
    )


def _boundaries_of(processor: CollectionProcessor, offer_ids: list[str]) -> list[Outbound]:
    outputs: list[Outbound] = []
    for offer_id in offer_ids:
        known = processor.entries[offer_id]
        entry = known if isinstance(known, OfferEntry) else decode_offer_entry(known)
        if entry.latest is not None:
            outputs.append(boundaries_output(entry.latest))
    return outputs


async def _send_all(producer: AIOKafkaProducer, partition: int, outputs: list[Outbound]) -> None:
    """`outputs` in one transaction, on `partition` of their topics."""
    await producer.begin_transaction()
    try:
        for out in outputs:
            await producer.send(
                out.topic, out.value, key=out.key, partition=partition, headers=list(out.headers)
            )
        await producer.commit_transaction()
    except BaseException:
        await _abort(producer)
        raise


async def seed_ledger(
    bootstrap: str, partition: int, processor: CollectionProcessor, producer: AIOKafkaProducer
) -> int:
    """An empty ledger beside a regional history (a hub that ran before the ledger existed):
    seed it once from the history's latest change per offer, written to the state topic in one
    transaction, so the history's offers stay known and later restarts read only the ledger."""
    changes = await read_prefix(
        bootstrap,
        REGIONAL_CHANGES,
        decode_regional_change,
        upto={(REGIONAL_CHANGES, partition): 2**62},
        client_id="sitn-collection-seed",
    )
    if not changes.values:
        return 0
    entries = await asyncio.to_thread(_seeded, processor, changes.values)
    await _send_all(producer, partition, entries)
    log.warning(
        "task %d: ledger seeded from %d regional changes of %d offers (a history older than "
        "the ledger); later restarts read the ledger only",
        partition,
        len(changes.values),
        len(processor.entries),
    )
    return len(processor.entries)


def _seeded(processor: CollectionProcessor, changes: list[RegionalChange]) -> list[Outbound]:
    processor.restore(changes)
    return [out for o in sorted(processor.entries) for out in ledger_outputs(processor.entry(o))]


def _waiting(record: ConsumerRecord) -> int | None:
    for name, value in record.headers or ():
        if name == WAITING_HEADER:
            return int(value)
    return None


def _inbound(record: ConsumerRecord) -> Inbound:
    return Inbound(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        timestamp_ms=record.timestamp,
        key=record.key,
        value=record.value,
    )


async def _abort(producer: AIOKafkaProducer) -> None:
    """Abort the open transaction; if even that fails the producer is unusable, and the task is
    started again with a new one (which aborts the transaction on the broker)."""
    try:
        await producer.abort_transaction()
    except _FENCED:
        raise
    except Exception as error:  # aiokafka also asserts on a transaction in a fatal state
        log.warning("abort failed (%r); the task will be started again", error)
        raise KafkaError(f"abort failed: {error!r}") from error


def _positions(records: list[ConsumerRecord]) -> dict[TopicPartition, int]:
    """The offset after the last of `records`, per partition."""
    positions: dict[TopicPartition, int] = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        positions[tp] = max(positions.get(tp, 0), record.offset + 1)
    return positions
