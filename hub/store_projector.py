"""Projects the hub's output topics into the regional store, exactly once in effect.

Reads `sitn.regional.changes`, `sitn.rejections` and the private customer-data topic from the
positions the store itself holds (no consumer-group offsets: the store writes its rows and the
positions in one transaction, so after a crash it resumes exactly after the last batch it wrote).
Store calls block, so they run in a worker thread, never on the event loop. A record that does
not decode here was written by the hub itself: it is reported with its origin and skipped, and the
position moves on so one bad record cannot stop the store (the collection processor dead-letters
what contributors send before it gets here).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from hub.codec import DecodeError, decode, decode_customer_record
from hub.core.collection import Rejection
from hub.core.contribution import CustomerRecord
from hub.core.regional import RegionalChange
from hub.kafka_clients import make_consumer, topic_partitions
from hub.records import from_avro_record
from hub.store.port import RegionalStore, StoredRejection
from hub.topics import CUSTOMER_DATA, REGIONAL_CHANGES, REJECTIONS

log = logging.getLogger(__name__)
T = TypeVar("T")
PROJECTED_TOPICS = (REGIONAL_CHANGES, REJECTIONS, CUSTOMER_DATA)


def decode_regional_change(data: bytes | None) -> RegionalChange:
    return from_avro_record(RegionalChange, decode("RegionalChange", data))


def decode_rejection(data: bytes | None) -> Rejection:
    return from_avro_record(Rejection, decode("Rejection", data))


def stored(rejection: Rejection) -> StoredRejection:
    return StoredRejection(
        event_id=rejection.event_id,
        contributor=rejection.contributor,
        offer_id=rejection.offer_id,
        occurred_at=rejection.occurred_at,
        rule_ids=rejection.rule_ids,
        message=rejection.message,
        field_groups=rejection.rejected_groups,
    )


@dataclass
class ProjectionTally:
    changes: int = 0
    rejections: int = 0
    customer_records: int = 0
    undecodable: int = 0


class StoreProjector:
    def __init__(self, store: RegionalStore, bootstrap: str) -> None:
        self.store = store
        self.bootstrap = bootstrap
        self.tally = ProjectionTally()

    async def run(self, stop: asyncio.Event) -> None:
        consumer = make_consumer(self.bootstrap, group_id=None, client_id="sitn-store")
        await consumer.start()
        try:
            await self._assign(consumer)
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=200, max_records=5000)
                for partition, records in sorted(batch.items()):
                    await self._project(partition, records)
        finally:
            await consumer.stop()

    async def _assign(self, consumer: AIOKafkaConsumer) -> None:
        partitions = await topic_partitions(self.bootstrap, PROJECTED_TOPICS)
        consumer.assign(partitions)
        positions = await asyncio.to_thread(self.store.positions)
        for tp in partitions:
            if (tp.topic, tp.partition) in positions:
                consumer.seek(tp, positions[(tp.topic, tp.partition)])
            else:
                await consumer.seek_to_beginning(tp)

    async def _project(self, tp: TopicPartition, records: Iterable[ConsumerRecord]) -> None:
        batch = list(records)
        if not batch:
            return
        positions = {(tp.topic, tp.partition): batch[-1].offset + 1}
        if tp.topic == REGIONAL_CHANGES:
            changes = [c for c in self._decoded(batch, decode_regional_change) if c is not None]
            await asyncio.to_thread(self.store.apply, changes, positions)
            self.tally.changes += len(changes)
        elif tp.topic == REJECTIONS:
            rejections = [
                stored(r) for r in self._decoded(batch, decode_rejection) if r is not None
            ]
            await asyncio.to_thread(self.store.record_rejections, rejections, positions)
            self.tally.rejections += len(rejections)
        else:
            customers: list[CustomerRecord] = [
                c for c in self._decoded(batch, decode_customer_record) if c is not None
            ]
            await asyncio.to_thread(self.store.record_customer_data, customers, positions)
            self.tally.customer_records += len(customers)

    def _decoded(
        self, batch: list[ConsumerRecord], decoder: Callable[[bytes | None], T]
    ) -> list[T | None]:
        out: list[T | None] = []
        for record in batch:
            try:
                out.append(decoder(record.value))
            except DecodeError as error:
                self.tally.undecodable += 1
                log.error(
                    "skipping undecodable record %s[%d]@%d: %s",
                    record.topic,
                    record.partition,
                    record.offset,
                    error,
                )
                out.append(None)
        return out
