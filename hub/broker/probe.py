"""The readiness probe: a real client round-trip (create topic, produce, consume back).

A listening socket is not a ready broker: KRaft brokers accept connections before the metadata
log is caught up. Only a record that comes back proves that producers and consumers will work.
"""

from __future__ import annotations

import asyncio
import os

from aiokafka import TopicPartition

from hub.kafka_clients import TopicSpec, ensure_topics, make_consumer, make_producer
from hub.kafka_security import KafkaSecurity

PROBE_TOPIC = "sitn.broker.probe"


async def round_trip(bootstrap: str, security: KafkaSecurity, seconds: float = 10.0) -> None:
    """Produce one unique record and read it back; raise if anything fails or takes too long."""
    await asyncio.wait_for(_round_trip(bootstrap, security), seconds)


async def _round_trip(bootstrap: str, security: KafkaSecurity) -> None:
    probe = TopicSpec(PROBE_TOPIC, config=(("retention.ms", "600000"),))
    await ensure_topics(bootstrap, [probe], security=security)
    token = os.urandom(16)
    producer = make_producer(bootstrap, client_id="sitn-probe", security=security)
    await producer.start()
    try:
        sent = await producer.send_and_wait(PROBE_TOPIC, token)
    finally:
        await producer.stop()
    consumer = make_consumer(bootstrap, group_id=None, client_id="sitn-probe", security=security)
    await consumer.start()
    try:
        partition = TopicPartition(PROBE_TOPIC, sent.partition)
        consumer.assign([partition])
        consumer.seek(partition, sent.offset)
        record = await consumer.getone()
    finally:
        await consumer.stop()
    if record.value != token:
        raise RuntimeError(f"probe read back {record.value!r} at offset {record.offset}")
