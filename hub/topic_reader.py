"""Reads a topic of the hub from its beginning up to given positions: how state is rebuilt at start.

Components whose state is derived from topics (the diffusion projector, the scheduler) rebuild it
by reading a *prefix* of each topic: up to the positions they stored, or up to the end the topic
had when reading began. Reading stops at the consumer's position, not at the last record's offset,
so a control record at the end (a transaction marker) cannot make it wait forever. Records are
decoded in a worker thread, never on the event loop; one that does not decode was written by the
hub itself, so it is logged with its origin and skipped, as the projectors do. Records are decoded
batch by batch as they are fetched, so a restore holds the decoded values, not the bytes.

"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from hub.codec import DecodeError
from hub.kafka_clients import make_consumer, topic_partitions
from hub.record_error import RecordError

log = logging.getLogger("sitn.topics")
T = TypeVar("T")


@dataclass(frozen=True)
class Prefix(Generic[T]):
    """The decoded values of a topic's prefix (each partition in offset order, partitions sorted)
    and, per partition, the offset right after it: where a consumer continues."""

    values: list[T]
    positions: dict[TopicPartition, int] = field(default_factory=dict)


async def read_prefix(
    bootstrap: str,
    topic: str,
    decode: Callable[[bytes | None], T],
    *,
    upto: Mapping[tuple[str, int], int] | None = None,
    client_id: str = "sitn-restore",
) -> Prefix[T]:
    """`topic` from its beginning up to `upto` ((topic, partition) -> next offset; a partition
    not named: nothing), or, if `upto` is None, up to the end it has now."""
    return await read_prefix_records(
        bootstrap, topic, lambda record: decode(record.value), upto=upto, client_id=client_id
    )


async def read_prefix_records(
    bootstrap: str,
    topic: str,
    decode: Callable[[ConsumerRecord], T],
    *,
    upto: Mapping[tuple[str, int], int] | None = None,
    client_id: str = "sitn-restore",
) -> Prefix[T]:
    """As `read_prefix`, with `decode` given the whole record (its headers, key, timestamp).

    Each fetched batch is decoded as it comes, so only the decoded values are held, never the
    records' bytes (the broker's next fetch goes on meanwhile)."""
    partitions = await topic_partitions(bootstrap, [topic])
    consumer = make_consumer(bootstrap, group_id=None, client_id=client_id)
    await consumer.start()
    read: dict[TopicPartition, list[T]] = {tp: [] for tp in partitions}
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        targets = {
            tp: ends[tp] if upto is None else min(upto.get((tp.topic, tp.partition), 0), ends[tp])
            for tp in partitions
        }
        remaining = [tp for tp in partitions if targets[tp] > 0]
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000, max_records=10000)
            for tp, records in batch.items():
                wanted = [record for record in records if record.offset < targets[tp]]
                read[tp] += await asyncio.to_thread(_decode_all, wanted, decode)
            remaining = [tp for tp in remaining if await consumer.position(tp) < targets[tp]]
    finally:
        await consumer.stop()
    values = [value for tp in partitions for value in read[tp]]
    return Prefix(values, {tp: targets[tp] for tp in partitions})


def _decode_all(records: list[ConsumerRecord], decode: Callable[[ConsumerRecord], T]) -> list[T]:
    values: list[T] = []
    for record in records:
        try:
            values.append(decode(record))
        except (DecodeError, RecordError) as error:
            log.error("%s[%d]@%d skipped: %s", record.topic, record.partition, record.offset, error)
    return values
