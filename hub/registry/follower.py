"""Keeps the registry in force up to date while the hub runs, by following `sitn.registry`.

`run` reads the topic from its beginning, folds every event (`evolve_registry`), signals `ready`
once it has reached the end offsets of when it started, then keeps folding new events as they
arrive until asked to stop. Readers take `registry`, an immutable value, whenever they need it: a
contribution is judged against the registry as it stood when its turn came.
"""

from __future__ import annotations

import asyncio
import logging

from hub.codec import DecodeError
from hub.core.registry import Registry
from hub.core.registry_events import evolve_registry
from hub.kafka_clients import ensure_topics, make_consumer, topic_partitions
from hub.registry.topic import registry_topic_spec
from hub.registry.wire import decode_registry_event
from hub.topics import REGISTRY

log = logging.getLogger("sitn.registry")


class RegistryFollower:
    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.registry = Registry()
        self.events = 0
        self.ready = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        await ensure_topics(self.bootstrap, [registry_topic_spec()])
        consumer = make_consumer(self.bootstrap, group_id=None, client_id="sitn-registry-follower")
        await consumer.start()
        try:
            partitions = await topic_partitions(self.bootstrap, [REGISTRY])
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            while not stop.is_set():
                batch = await consumer.getmany(*partitions, timeout_ms=300)
                for tp in sorted(batch, key=lambda tp: tp.partition):
                    for record in batch[tp]:
                        try:
                            event = decode_registry_event(record.value)
                        except DecodeError as error:
                            log.error("registry record %s@%d skipped: %s", tp, record.offset, error)
                            continue
                        self.registry = evolve_registry(self.registry, event)
                        self.events += 1
                if not self.ready.is_set():
                    positions = [await consumer.position(tp) for tp in partitions]
                    if all(pos >= ends[tp] for pos, tp in zip(positions, partitions, strict=True)):
                        self.ready.set()
        finally:
            await consumer.stop()
