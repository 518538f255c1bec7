"""The diffusion scheduler on the real broker, with a fake clock: ticks reach the tick topic once.

Each test uses its own pair of topics (regional changes, ticks) so that its ticks reach no other
test's projector; the scheduler takes the topic names for that reason.
"""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta

import pytest

from hub.codec import encode_record
from hub.core.clock import Tick
from hub.core.regional import RegionalChange
from hub.kafka_clients import (
    TopicSpec,
    ensure_topics,
    make_consumer,
    make_producer,
    topic_partitions,
)
from hub.scheduler import Scheduler
from hub.topic_reader import read_prefix
from hub.topics import OFFER_PARTITIONS
from hub.wire import decode_regional_change, decode_tick
from tests.timed_offers import END_OF_SUMMER, SUMMER_PHOTO, FakeClock, offer, registry

pytestmark = pytest.mark.kafka

WAIT_SECONDS = 60  # a bound on waiting for the broker, not a performance assertion


async def fresh_topics(bootstrap: str) -> tuple[str, str]:
    suffix = os.urandom(4).hex()
    changes, ticks = f"test.regional.{suffix}", f"test.ticks.{suffix}"
    await ensure_topics(
        bootstrap,
        [TopicSpec(changes, partitions=OFFER_PARTITIONS), TopicSpec(ticks, OFFER_PARTITIONS)],
    )
    return changes, ticks


async def publish(bootstrap: str, topic: str, change: RegionalChange) -> None:
    producer = make_producer(bootstrap)
    await producer.start()
    try:
        value = encode_record("RegionalChange", change)
        await producer.send_and_wait(topic, key=change.offer_id.encode(), value=value)
    finally:
        await producer.stop()


async def first_ticks(
    bootstrap: str, topic: str, count: int, running: asyncio.Task[None]
) -> list[Tick]:
    """The first `count` ticks on `topic`, failing if the scheduler stops first."""
    consumer = make_consumer(bootstrap, group_id=None, client_id="test-ticks")
    await consumer.start()
    try:
        partitions = await topic_partitions(bootstrap, [topic])
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        found: list[Tick] = []
        async with asyncio.timeout(WAIT_SECONDS):
            while len(found) < count:
                if running.done():
                    running.result()
                    pytest.fail("the scheduler stopped before publishing its ticks")
                batch = await consumer.getmany(timeout_ms=200)
                found += [decode_tick(r.value) for tp in sorted(batch) for r in batch[tp]]
        return found
    finally:
        await consumer.stop()


async def stopped(stop: asyncio.Event, task: asyncio.Task[None]) -> None:
    stop.set()
    await task


async def test_the_scheduler_ticks_a_change_it_follows_once_the_clock_passes_its_boundary(
    kafka_bootstrap: str,
) -> None:
    changes_topic, ticks_topic = await fresh_topics(kafka_bootstrap)
    change = offer(offer_id=f"HOTNOR014K{os.urandom(3).hex()}")
    clock = FakeClock(END_OF_SUMMER - timedelta(days=10))
    scheduler = Scheduler(
        kafka_bootstrap,
        registry,
        clock,
        poll_seconds=0.1,
        changes_topic=changes_topic,
        ticks_topic=ticks_topic,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(scheduler.run(stop))
    try:
        async with asyncio.timeout(WAIT_SECONDS):
            await scheduler.ready.wait()
        # Published after the scheduler read the topic back: it arrives through the live loop.
        await publish(kafka_bootstrap, changes_topic, change)
        clock.now = END_OF_SUMMER + timedelta(minutes=5)
        (sent,) = await first_ticks(kafka_bootstrap, ticks_topic, 1, running)
    finally:
        await stopped(stop, running)
    assert (sent.offer_id, sent.version, sent.at) == (change.offer_id, 1, END_OF_SUMMER)
    assert SUMMER_PHOTO.url in sent.reason


async def test_a_restarted_scheduler_ticks_what_passed_while_down_and_nothing_twice(
    kafka_bootstrap: str,
) -> None:
    changes_topic, ticks_topic = await fresh_topics(kafka_bootstrap)
    change = offer(offer_id=f"HOTNOR014K{os.urandom(3).hex()}")
    await publish(kafka_bootstrap, changes_topic, change)
    clock = FakeClock(END_OF_SUMMER + timedelta(days=3))  # the hub was down at the boundary

    def scheduler() -> Scheduler:
        return Scheduler(
            kafka_bootstrap,
            registry,
            clock,
            poll_seconds=0.1,
            changes_topic=changes_topic,
            ticks_topic=ticks_topic,
        )

    stop = asyncio.Event()
    running = asyncio.create_task(scheduler().run(stop))
    try:
        (sent,) = await first_ticks(kafka_bootstrap, ticks_topic, 1, running)
    finally:
        await stopped(stop, running)
    assert (sent.offer_id, sent.at) == (change.offer_id, END_OF_SUMMER)

    restarted = scheduler()
    changes = await read_prefix(kafka_bootstrap, changes_topic, decode_regional_change)
    ticks = await read_prefix(kafka_bootstrap, ticks_topic, decode_tick)
    restarted.restore(changes.values, ticks.values)
    assert ticks.values == [sent]
    assert restarted.due() == []
