"""Projects the hub's output topics into the regional store, exactly once in effect.

The store stage: reads `sitn.regional.changes`, `sitn.rejections` and the private customer-data
topic as a member of its consumer group (`hub.stages.runner`), from the positions the store itself
holds: the store writes its rows and the positions in one transaction, so after a crash it resumes
exactly after the last batch it wrote. Store calls block, so they run in a worker thread, never on
the event loop. A record that does not decode, or that the model refuses (a version 0, an empty
offer id), goes to `sitn.deadletter` with its origin and the reason, and the stage goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from aiokafka.structs import ConsumerRecord

from hub.core.collection import Rejection
from hub.core.contribution import CustomerRecord
from hub.core.regional import RegionalChange
from hub.settings import DEFAULT_BATCH_MS
from hub.stages.runner import Batch, Poison, Positions, SinkRunner
from hub.store.port import RegionalStore, StoredRejection
from hub.topics import CUSTOMER_DATA, REGIONAL_CHANGES, REJECTIONS
from hub.wire import (
    DecodeError,
    DecodeReason,
    decode_customer_record,
    decode_regional_change,
    decode_rejection,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
PROJECTED_TOPICS = (REGIONAL_CHANGES, REJECTIONS, CUSTOMER_DATA)


def stored(rejection: Rejection, judged_at: datetime | None = None) -> StoredRejection:
    return StoredRejection(
        event_id=rejection.event_id,
        contributor=rejection.contributor,
        offer_id=rejection.offer_id,
        occurred_at=rejection.occurred_at,
        rule_ids=rejection.rule_ids,
        message=rejection.message,
        field_groups=rejection.rejected_groups,
        judged_at=judged_at,
    )


def judged_rejection(record: ConsumerRecord) -> StoredRejection:
    """A record of `sitn.rejections` as the store keeps it: judged when the collection stage
    wrote it (the record's time), whatever event time the contribution gave; raises
    `DecodeError`."""
    return stored(
        decode_rejection(record.value), datetime.fromtimestamp(record.timestamp / 1000, UTC)
    )


@dataclass
class ProjectionTally:
    changes: int = 0
    rejections: int = 0
    customer_records: int = 0
    undecodable: int = 0


def next_positions(batch: Batch, topic: str) -> dict[tuple[str, int], int]:
    return {
        (tp.topic, tp.partition): records[-1].offset + 1
        for tp, records in batch.items()
        if tp.topic == topic and records
    }


def records_of(batch: Batch, topic: str) -> list[ConsumerRecord]:
    return [r for tp in sorted(batch) if tp.topic == topic for r in batch[tp]]


@dataclass
class Decoded:
    """A batch decoded for the store: each topic's values and where its records were."""

    changes: list[RegionalChange]
    rejections: list[StoredRejection]
    customers: list[CustomerRecord]


class StoreProjector:
    """The store stage's projection; `run` follows the topics as a member of `group_id`."""

    def __init__(
        self,
        store: RegionalStore,
        bootstrap: str,
        *,
        group_id: str = "sitn-store",
        batch_ms: int = DEFAULT_BATCH_MS,
    ) -> None:
        self.store = store
        self.bootstrap = bootstrap
        self.tally = ProjectionTally()
        self.runner: SinkRunner[Decoded] = SinkRunner(
            bootstrap,
            group_id=group_id,
            topics=PROJECTED_TOPICS,
            positions=store.positions,
            prepare=self.prepare,
            write=self.write,
            batch_ms=batch_ms,
        )

    async def run(self, stop: asyncio.Event) -> None:
        await self.runner.run(stop)

    def project(self, batch: Batch) -> None:
        """Decode and write one batch with the positions after its records (tools and tests)."""
        decoded, poison = self.prepare(batch)
        positions = {
            (tp.topic, tp.partition): records[-1].offset + 1
            for tp, records in batch.items()
            if records
        }
        if poison:
            raise DecodeError(
                DecodeReason.INVALID_VALUE, poison[0].reason, record_name=poison[0].kind
            )
        self.write(decoded, positions)

    def prepare(self, batch: Batch) -> tuple[Decoded, list[Poison]]:
        poison: list[Poison] = []
        changes = self._decoded(
            records_of(batch, REGIONAL_CHANGES), lambda r: decode_regional_change(r.value), poison
        )
        rejections = self._decoded(records_of(batch, REJECTIONS), judged_rejection, poison)
        customers = self._decoded(
            records_of(batch, CUSTOMER_DATA), lambda r: decode_customer_record(r.value), poison
        )
        return Decoded(changes, rejections, customers), poison

    def write(self, decoded: Decoded, positions: Positions) -> None:
        """One transaction per topic, each with its positions (a topic whose position did not
        move and that has no record is left alone)."""
        mine = {t: {k: v for k, v in positions.items() if k[0] == t} for t in PROJECTED_TOPICS}
        if decoded.changes or mine[REGIONAL_CHANGES]:
            self.store.apply(decoded.changes, mine[REGIONAL_CHANGES])
            self.tally.changes += len(decoded.changes)
        if decoded.rejections or mine[REJECTIONS]:
            self.store.record_rejections(decoded.rejections, mine[REJECTIONS])
            self.tally.rejections += len(decoded.rejections)
        if decoded.customers or mine[CUSTOMER_DATA]:
            self.store.record_customer_data(decoded.customers, mine[CUSTOMER_DATA])
            self.tally.customer_records += len(decoded.customers)

    def _decoded(
        self,
        records: list[ConsumerRecord],
        decoder: Callable[[ConsumerRecord], T],
        poison: list[Poison],
    ) -> list[T]:
        out: list[T] = []
        for record in records:
            try:
                out.append(decoder(record))
            except DecodeError as error:
                self.tally.undecodable += 1
                poison.append(
                    Poison(record, f"the store cannot take it: {error.message}", str(error.reason))
                )
        return out
