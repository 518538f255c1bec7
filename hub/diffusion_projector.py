"""Fans the regional history out to every diffuser's feed (DESIGN §5), exactly once in effect.

Reads `sitn.regional.changes` from the positions the feed store holds, and for each change asks
the pure rules (`hub.core.diffusion_rules.fan_out`) what each diffuser must receive, given what it
last received of that offer (read back from its feed). Entries and positions are appended in one
transaction, so after a crash the projector resumes after the last batch it wrote, and a
redelivered change meets feeds that already hold its entries (the store ignores them).

The fan-out is stored as one sequence per diffuser in the feed tables, not as per-diffuser Kafka
topics: `sitn.regional.changes` is the one log, each feed is its filtered projection, and a
diffuser reaches only its own feed through its API key (`hub.api`). Rules are judged at the
change's event time, so replaying the log reproduces the feeds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from hub.codec import DecodeError
from hub.core.diffusion import DiffusionChange
from hub.core.diffusion_rules import View, fan_out, last_received
from hub.core.regional import RegionalChange
from hub.core.registry import Registry
from hub.feeds.port import FeedStore
from hub.kafka_clients import make_consumer, topic_partitions
from hub.store_projector import (
    decode_regional_change,
)
from hub.topics import REGIONAL_CHANGES

log = logging.getLogger("sitn.diffusion")


@dataclass
class DiffusionTally:
    changes: int = 0
    entries: int = 0


def diffuse(
    feeds: FeedStore,
    registry: Registry,
    changes: Sequence[RegionalChange],
    positions: dict[tuple[str, int], int],
) -> list[DiffusionChange]:
    """Fan `changes` out and append the entries with `positions` (blocking: run it in a thread)."""
    known: dict[tuple[str, str], View | None] = {}
    entries: list[DiffusionChange] = []
    for change in changes:
        previous: dict[str, View] = {}
        for diffuser_id in sorted(registry.diffusers):
            key = (diffuser_id, change.offer_id)
            if key not in known:
                stored = feeds.current(diffuser_id, change.offer_id)
                known[key] = last_received(stored.change) if stored is not None else None
            view = known[key]
            if view is not None:
                previous[diffuser_id] = view
        emitted = fan_out(change, previous, registry, change.occurred_at)
        for entry in emitted:
            known[(entry.diffuser_id, entry.offer_id)] = last_received(entry)
        entries += emitted
    feeds.append(entries, positions)
    return entries


class DiffusionProjector:
    def __init__(self, feeds: FeedStore, bootstrap: str, registry: Callable[[], Registry]) -> None:
        self.feeds = feeds
        self.bootstrap = bootstrap
        self.registry = registry
        self.tally = DiffusionTally()

    async def run(self, stop: asyncio.Event) -> None:
        consumer = make_consumer(self.bootstrap, group_id=None, client_id="sitn-diffusion")
        await consumer.start()
        try:
            partitions = await topic_partitions(self.bootstrap, [REGIONAL_CHANGES])
            consumer.assign(partitions)
            positions = await asyncio.to_thread(self.feeds.positions)
            for tp in partitions:
                if (tp.topic, tp.partition) in positions:
                    consumer.seek(tp, positions[(tp.topic, tp.partition)])
                else:
                    await consumer.seek_to_beginning(tp)
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=200, max_records=2000)
                for tp, records in sorted(batch.items()):
                    await self._diffuse(tp, records)
        finally:
            await consumer.stop()

    async def _diffuse(self, tp: TopicPartition, records: list[ConsumerRecord]) -> None:
        if not records:
            return
        changes: list[RegionalChange] = []
        for record in records:
            try:
                changes.append(decode_regional_change(record.value))
            except DecodeError as error:
                log.error("regional change %s@%d skipped: %s", tp, record.offset, error)
        positions = {(tp.topic, tp.partition): records[-1].offset + 1}
        entries = await asyncio.to_thread(diffuse, self.feeds, self.registry(), changes, positions)
        self.tally.changes += len(changes)
        self.tally.entries += len(entries)
