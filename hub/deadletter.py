"""Dead letters on `sitn.deadletter`: read them, say what their bytes decode to now, redrive them.

The collection processor dead-letters a record it cannot judge (`hub.collection_processor`): the
dead letter keeps the original key and value bytes, their origin (topic, partition, offset), the
reason and its kind. `sitn.deadletter` has one partition (`hub.topics`), so a dead letter is named
by its offset there.

Redriving a dead letter re-publishes its original key and value, unchanged, to the partition of
the origin topic they came from: the worker judges them as a fresh record (a contribution a
faulty hub version dead-lettered is stored; bytes that still do not decode are dead-lettered
again, under a new offset). Only contribution topics (`sitn.contrib.*`) are redriven: no other
topic is judged by the worker.

**A dead letter is redriven at most once.** Each redrive leaves a mark on the compacted topic
`sitn.deadletter.redrives`, keyed by the dead letter's offset, in the same Kafka transaction as
the re-published record: both are visible or neither is. The mark holds no payload (its presence
is the fact; its timestamp is when): the `sitn-redriven-to` header says where the record went,
as ``topic:partition:offset``. Redrivers share one transactional id, so a second one running at
the same time fences the first, and each reads the marks only after it fenced the others: two
redrives of the same dead letter, even concurrent, publish it once. A dead letter that comes back
is a new dead letter: it can be redriven after its cause is fixed.

Decoding runs in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import InvalidProducerEpoch, ProducerFenced
from aiokafka.structs import ConsumerRecord

from hub.codec import (
    DecodeError,
    decode,
    decode_contribution,
    decode_customer_record,
    writer_schema_of,
)
from hub.kafka_clients import (
    TopicSpec,
    ensure_topics,
    make_consumer,
    security_options,
    topic_partitions,
)
from hub.topics import CONTRIB_PREFIX, DEADLETTER

REDRIVES: Final = "sitn.deadletter.redrives"
REDRIVEN_TO_HEADER: Final = "sitn-redriven-to"
REDRIVE_OF_HEADER: Final = "sitn-redrive-of"  # on the re-published record: which dead letter
READ_TIMEOUT: Final = 60.0
_CHUNK: Final = 200  # dead letters per transaction when redriving many

log = logging.getLogger("sitn.deadletter")


class DeadLetterError(ValueError):
    """A request about dead letters that cannot be carried out; the message says what to do."""


@dataclass(frozen=True)
class RedriveMark:
    """The durable record that a dead letter was redriven, and where its record went."""

    offset: int  # of the dead letter on sitn.deadletter
    redriven_at: datetime
    to_topic: str
    to_partition: int
    to_offset: int


@dataclass(frozen=True)
class DeadLetter:
    """One record of `sitn.deadletter`, decoded, with its redrive mark if it was redriven."""

    offset: int  # its offset on sitn.deadletter: how operators name it
    dead_lettered_at: datetime  # the dead-letter record's Kafka timestamp
    origin_topic: str
    origin_partition: int
    origin_offset: int
    key: bytes | None  # the original key and value bytes, unchanged
    value: bytes | None
    reason: str
    kind: str  # a `hub.codec.DecodeReason`, or another stage's kind (routing, identity)
    failed_at: datetime  # the original record's Kafka timestamp
    redriven: RedriveMark | None

    @property
    def size(self) -> int:
        """The original value's size in bytes (0 for none)."""
        return len(self.value or b"")

    @property
    def origin(self) -> str:
        return f"{self.origin_topic}[{self.origin_partition}]@{self.origin_offset}"


@dataclass(frozen=True)
class RedriveOutcome:
    """What a redrive did with one dead letter."""

    letter: DeadLetter
    mark: RedriveMark
    published: bool  # False: it had been redriven before (`mark` says when); nothing was sent


def redrives_topic_spec(topic: str = REDRIVES) -> TopicSpec:
    """The marks' topic: one partition, compacted (one mark per dead letter), kept forever."""
    return TopicSpec(topic, partitions=1, config=(("cleanup.policy", "compact"),))


def diagnose(value: bytes | None) -> str:
    """What the worker's decoding says of these bytes now, in one line (as the processor tries)."""
    try:
        schema = writer_schema_of(value)
        if schema.record_name == "CustomerRecord":
            customer = decode_customer_record(value)
            return (
                f"decodes as {schema.label}: customer record {customer.event_id!r} "
                f"collected by {customer.collector!r}"
            )
        contribution = decode_contribution(value)
    except DecodeError as error:
        return f"does not decode ({error.reason}): {error.message}"
    return (
        f"decodes as {schema.label}: {type(contribution.payload).__name__} of offer "
        f"{contribution.offer_id!r} by {contribution.contributor!r}, version "
        f"{contribution.source_version}, event {contribution.event_id!r}"
    )


async def read_dead_letters(
    bootstrap: str,
    *,
    origin_topic: str | None = None,
    topic: str = DEADLETTER,
    redrives_topic: str = REDRIVES,
) -> list[DeadLetter]:
    """Every dead letter (of `origin_topic` only, if given), oldest first, with its mark."""
    records = await _read_topic(bootstrap, topic)
    marks = await read_redrive_marks(bootstrap, redrives_topic)
    letters = await asyncio.to_thread(_decode_letters, records, marks)
    return [d for d in letters if origin_topic is None or d.origin_topic == origin_topic]


async def read_redrive_marks(bootstrap: str, topic: str = REDRIVES) -> dict[int, RedriveMark]:
    """The redrive marks, by dead-letter offset (none if the marks' topic does not exist yet)."""
    consumer = make_consumer(bootstrap, group_id=None, client_id="sitn-deadletter")
    await consumer.start()
    try:
        if topic not in await consumer.topics():
            return {}
        return _marks(await _read_with(consumer, bootstrap, topic))
    finally:
        await consumer.stop()


async def redrive(
    bootstrap: str,
    offsets: Sequence[int] | None,
    *,
    origin_topic: str | None = None,
    topic: str = DEADLETTER,
    redrives_topic: str = REDRIVES,
    progress: Callable[[int], None] | None = None,
) -> list[RedriveOutcome]:
    """Redrives the dead letters at `offsets` (None: every one not redriven yet), in offset order.

    `origin_topic` keeps only the dead letters of that topic. A dead letter redriven before is not
    published again (its outcome says `published=False`). Raises `DeadLetterError`, before
    publishing anything, for an offset that is no dead letter or a dead letter whose origin is
    not a contribution topic that exists. `progress` is called with the number of dead letters
    done after each transaction.
    """
    letters = {d.offset: d for d in await read_dead_letters(bootstrap, topic=topic)}
    if offsets is None:
        chosen = [d for d in letters.values() if d.redriven is None]
    else:
        unknown = sorted(set(offsets) - letters.keys())
        if unknown:
            raise DeadLetterError(_unknown(unknown, letters, topic))
        chosen = [letters[offset] for offset in sorted(set(offsets))]
    if origin_topic is not None:
        chosen = [d for d in chosen if d.origin_topic == origin_topic]
    if not chosen:
        return []
    await _check_origins(bootstrap, chosen)
    await ensure_topics(bootstrap, [redrives_topic_spec(redrives_topic)])
    producer = AIOKafkaProducer(
        **security_options(),
        bootstrap_servers=bootstrap,
        client_id="sitn-deadletter",
        acks="all",
        enable_idempotence=True,
        # One id per marks topic: a second redriver fences this one (see the module docstring).
        transactional_id=f"sitn-deadletter-redrive-{redrives_topic}",
        request_timeout_ms=15000,
    )
    await producer.start()  # fences any other redriver and aborts its open transaction
    outcomes: list[RedriveOutcome] = []
    try:
        # Read only now: every mark committed by a redriver fenced above is visible.
        marks = await read_redrive_marks(bootstrap, redrives_topic)
        for start in range(0, len(chosen), _CHUNK):
            chunk = chosen[start : start + _CHUNK]
            outcomes += await _redrive_chunk(producer, chunk, marks, topic, redrives_topic)
            if progress is not None:
                progress(len(chunk))
    except (ProducerFenced, InvalidProducerEpoch):
        done = sum(1 for outcome in outcomes if outcome.published)
        raise DeadLetterError(
            f"another redrive started while this one ran and took over after {done} dead "
            "letter(s) were redriven; the rest was not sent: run `sitn deadletter list` to see "
            "where things stand, then redrive again"
        ) from None
    finally:
        await producer.stop()
    return outcomes


async def _redrive_chunk(
    producer: AIOKafkaProducer,
    chunk: Sequence[DeadLetter],
    marks: dict[int, RedriveMark],
    topic: str,
    redrives_topic: str,
) -> list[RedriveOutcome]:
    fresh = [letter for letter in chunk if letter.offset not in marks]
    now_ms = int(time.time() * 1000)
    async with producer.transaction():
        # The records first: a mark names the offset its record got (known once it is written,
        # before the commit makes both visible).
        sent = await asyncio.gather(
            *[
                await producer.send(
                    letter.origin_topic,
                    value=letter.value,
                    key=letter.key,
                    partition=letter.origin_partition,
                    headers=[(REDRIVE_OF_HEADER, f"{topic}:0:{letter.offset}".encode())],
                )
                for letter in fresh
            ]
        )
        new_marks = [
            RedriveMark(letter.offset, _time(now_ms), to.topic, to.partition, to.offset)
            for letter, to in zip(fresh, sent, strict=True)
        ]
        await asyncio.gather(
            *[
                await producer.send(
                    redrives_topic,
                    value=b"",
                    key=str(mark.offset).encode(),
                    timestamp_ms=now_ms,
                    headers=[(REDRIVEN_TO_HEADER, _where(mark).encode())],
                )
                for mark in new_marks
            ]
        )
    fresh_offsets = {mark.offset for mark in new_marks}
    marks.update({mark.offset: mark for mark in new_marks})
    return [
        RedriveOutcome(letter, marks[letter.offset], published=letter.offset in fresh_offsets)
        for letter in chunk
    ]


def _where(mark: RedriveMark) -> str:
    return f"{mark.to_topic}:{mark.to_partition}:{mark.to_offset}"


async def _check_origins(bootstrap: str, letters: Sequence[DeadLetter]) -> None:
    foreign = sorted(
        {d.origin_topic for d in letters if not d.origin_topic.startswith(CONTRIB_PREFIX)}
    )
    if foreign:
        offsets = [d.offset for d in letters if d.origin_topic in foreign]
        raise DeadLetterError(
            f"dead letter(s) {_listed(offsets)} came from {', '.join(foreign)}, which the worker "
            f"does not judge: only {CONTRIB_PREFIX}* records are redriven; leave them out"
        )
    wanted = sorted({d.origin_topic for d in letters})
    try:
        partitions = await topic_partitions(bootstrap, wanted)
    except Exception as error:  # aiokafka reports a missing topic with several error types
        raise DeadLetterError(
            f"the origin topics {', '.join(wanted)} cannot all be described ({error}); "
            "create a missing contributor's topic with `sitn topics ensure` after registering it"
        ) from None
    present = {(tp.topic, tp.partition) for tp in partitions}
    missing = [d.offset for d in letters if (d.origin_topic, d.origin_partition) not in present]
    if missing:
        raise DeadLetterError(
            f"dead letter(s) {_listed(missing)} came from a partition their origin topic no "
            "longer has; they cannot be redriven where they came from"
        )


def _unknown(unknown: Sequence[int], letters: dict[int, DeadLetter], topic: str) -> str:
    if not letters:
        return f"{topic} holds no dead letter; {_listed(unknown)} named none"
    return (
        f"no dead letter at offset(s) {_listed(unknown)} of {topic} (it holds offsets "
        f"{min(letters)} to {max(letters)}); `sitn deadletter list` shows them"
    )


def _listed(offsets: Sequence[int]) -> str:
    shown = ", ".join(str(offset) for offset in offsets[:10])
    return shown + (f" and {len(offsets) - 10} more" if len(offsets) > 10 else "")


def _time(timestamp_ms: int) -> datetime:
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC)


def _decode_letters(
    records: Sequence[ConsumerRecord], marks: dict[int, RedriveMark]
) -> list[DeadLetter]:
    letters: list[DeadLetter] = []
    for record in records:
        try:
            body = decode("DeadLetter", record.value)
        except DecodeError as error:
            # Written by the hub itself: a bug to report, not a letter to redrive.
            log.error("%s@%d is not a dead letter, skipped: %s", record.topic, record.offset, error)
            continue
        letters.append(
            DeadLetter(
                offset=record.offset,
                dead_lettered_at=_time(record.timestamp),
                origin_topic=body["topic"],
                origin_partition=body["partition"],
                origin_offset=body["offset"],
                key=body["key"],
                value=body["value"],
                reason=body["reason"],
                kind=body["error_kind"],
                failed_at=body["failed_at"],
                redriven=marks.get(record.offset),
            )
        )
    return letters


def _marks(records: Sequence[ConsumerRecord]) -> dict[int, RedriveMark]:
    marks: dict[int, RedriveMark] = {}
    for record in records:
        headers = dict(record.headers or ())
        try:
            offset = int((record.key or b"").decode())
            to_topic, to_partition, to_offset = headers[REDRIVEN_TO_HEADER].decode().rsplit(":", 2)
            mark = RedriveMark(
                offset, _time(record.timestamp), to_topic, int(to_partition), int(to_offset)
            )
        except (KeyError, ValueError, UnicodeDecodeError):
            log.error("%s@%d is not a redrive mark, skipped", record.topic, record.offset)
            continue
        marks.setdefault(offset, mark)  # the first mark counts, should two ever exist
    return marks


async def _read_topic(bootstrap: str, topic: str) -> list[ConsumerRecord]:
    """The topic's records; none if it does not exist yet (nothing was ever dead-lettered)."""
    consumer = make_consumer(bootstrap, group_id=None, client_id="sitn-deadletter")
    await consumer.start()
    try:
        if topic not in await consumer.topics():
            return []
        return await _read_with(consumer, bootstrap, topic)
    finally:
        await consumer.stop()


async def _read_with(
    consumer: AIOKafkaConsumer, bootstrap: str, topic: str
) -> list[ConsumerRecord]:
    """The topic from its beginning to the end it had when reading began, partitions in order."""
    partitions = await topic_partitions(bootstrap, [topic])
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    ends = await consumer.end_offsets(partitions)
    read: dict[TopicPartition, list[ConsumerRecord]] = {tp: [] for tp in partitions}
    try:
        async with asyncio.timeout(READ_TIMEOUT):
            remaining = [tp for tp in partitions if ends[tp] > 0]
            while remaining:
                batch = await consumer.getmany(*remaining, timeout_ms=500, max_records=10000)
                for tp, records in batch.items():
                    read[tp] += [record for record in records if record.offset < ends[tp]]
                # The position, not the last offset: a transaction marker may end the topic.
                remaining = [tp for tp in remaining if await consumer.position(tp) < ends[tp]]
    except TimeoutError:
        raise DeadLetterError(
            f"could not read {topic} to its end within {READ_TIMEOUT:g} s; is the broker healthy?"
        ) from None
    return [record for tp in partitions for record in read[tp]]
