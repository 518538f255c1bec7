"""A faust-streaming agent consumes raw bytes from the real broker and produces to another topic."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from hub.faust_app import make_app, raw_topic
from hub.kafka_clients import TopicSpec, ensure_topics, make_consumer, make_producer

pytestmark = pytest.mark.kafka


async def test_a_faust_agent_relays_bytes_between_real_topics(kafka_bootstrap: str) -> None:
    suffix = os.urandom(4).hex()
    source, sink = f"test.faust.in.{suffix}", f"test.faust.out.{suffix}"
    await ensure_topics(kafka_bootstrap, [TopicSpec(source), TopicSpec(sink)])

    app = make_app(f"test-relay-{suffix}", kafka_bootstrap)
    source_topic, sink_topic = raw_topic(app, source), raw_topic(app, sink)

    @app.agent(source_topic)
    async def shout(stream: Any) -> None:
        async for event in stream.events():
            await sink_topic.send(key=event.key, value=event.value.upper())

    producer = make_producer(kafka_bootstrap)
    await producer.start()
    try:
        for index in range(3):
            await producer.send_and_wait(source, f"offre {index}".encode(), key=b"same-offer")
        # A value that is not valid text must pass through as bytes, not crash the agent.
        await producer.send_and_wait(source, b"\xff\xfe", key=b"same-offer")
    finally:
        await producer.stop()

    await app.start()
    consumer = make_consumer(kafka_bootstrap, group_id=None)
    await consumer.start()
    try:
        consumer.subscribe([sink])
        received = [await asyncio.wait_for(consumer.getone(), 60) for _ in range(4)]
    finally:
        await consumer.stop()
        await app.stop()

    assert [record.value for record in received] == [
        b"OFFRE 0",
        b"OFFRE 1",
        b"OFFRE 2",
        b"\xff\xfe",
    ]
    assert {record.key for record in received} == {b"same-offer"}
