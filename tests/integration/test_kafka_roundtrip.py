"""A record produced with aiokafka to the real broker comes back intact from a consumer."""

from __future__ import annotations

import asyncio
import os

import pytest
from aiokafka import TopicPartition

from hub.kafka_clients import TopicSpec, ensure_topics, make_consumer, make_producer

pytestmark = pytest.mark.kafka


async def test_a_record_produced_to_the_real_broker_is_consumed_back(kafka_bootstrap: str) -> None:
    topic = f"test.roundtrip.{os.urandom(4).hex()}"
    assert await ensure_topics(kafka_bootstrap, [TopicSpec(topic, partitions=3)]) == [topic]
    producer = make_producer(kafka_bootstrap)
    await producer.start()
    try:
        sent = await producer.send_and_wait(
            topic, b"\x00binary\xffvalue", key=b"HOTNOR014V500001", headers=[("origin", b"test")]
        )
    finally:
        await producer.stop()

    consumer = make_consumer(kafka_bootstrap, group_id=None)
    await consumer.start()
    try:
        partition = TopicPartition(topic, sent.partition)
        consumer.assign([partition])
        consumer.seek(partition, sent.offset)
        record = await asyncio.wait_for(consumer.getone(), 30)
    finally:
        await consumer.stop()

    assert (record.key, record.value) == (b"HOTNOR014V500001", b"\x00binary\xffvalue")
    assert record.headers == (("origin", b"test"),)


async def test_creating_existing_topics_again_creates_nothing(kafka_bootstrap: str) -> None:
    topic = f"test.idempotent.{os.urandom(4).hex()}"
    assert await ensure_topics(kafka_bootstrap, [TopicSpec(topic)]) == [topic]
    assert await ensure_topics(kafka_bootstrap, [TopicSpec(topic)]) == []
