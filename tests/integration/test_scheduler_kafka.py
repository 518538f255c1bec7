"""The diffusion scheduler on the real broker, with a fake clock: ticks reach the tick topic once.

Each test uses its own topics (regional changes, the collection ledger and the boundary facts
beside it, ticks) so that its ticks reach no other test's projector; the scheduler takes the topic
names for that reason. A change is published as the collection stage does: on the history, its
boundary facts on the facts topic and the offer's ledger entry on the state topic.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, replace
from datetime import timedelta

import pytest

from hub.codec import encode_record
from hub.collection_processor import ledger_outputs
from hub.core.clock import Tick
from hub.core.ledger import OfferEntry
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
from hub.topics import COLLECTION_BOUNDARIES, COLLECTION_STATE, OFFER_PARTITIONS
from hub.wire import decode_regional_change, decode_tick
from tests.support.timed_offers import END_OF_SUMMER, SUMMER_PHOTO, FakeClock, offer, registry

pytestmark = pytest.mark.kafka

WAIT_SECONDS = 60  # a bound on waiting for the broker, not a performance assertion


@dataclass(frozen=True)
class Topics:
    changes: str
    state: str
    facts: str
    ticks: str
    ticked: str  # the scheduler's state: each offer's latest tick

    def named(self, topic: str) -> str:
        """This test's own topic for one of the hub's."""
        return {COLLECTION_STATE: self.state, COLLECTION_BOUNDARIES: self.facts}[topic]


async def fresh_topics(bootstrap: str) -> Topics:
    suffix = os.urandom(4).hex()
    topics = Topics(
        f"test.regional.{suffix}",
        f"test.state.{suffix}",
        f"test.facts.{suffix}",
        f"test.ticks.{suffix}",
        f"test.ticked.{suffix}",
    )
    await ensure_topics(
        bootstrap,
        [
            TopicSpec(topics.changes, partitions=OFFER_PARTITIONS),
            TopicSpec(topics.state, partitions=OFFER_PARTITIONS),
            TopicSpec(topics.facts, partitions=OFFER_PARTITIONS),
            TopicSpec(topics.ticks, OFFER_PARTITIONS),
            TopicSpec(topics.ticked, OFFER_PARTITIONS),
        ],
    )
    return topics


async def publish(
    bootstrap: str,
    topics: Topics,
    change: RegionalChange,
    *,
    history: bool = True,
    facts: bool = True,
) -> None:
    """`change` on the history (unless `history` is False), its boundary facts (unless `facts`
    is False: an older hub's ledger) and its offer's ledger entry, as the collection stage
    writes them."""
    producer = make_producer(bootstrap)
    await producer.start()
    try:
        key = change.offer_id.encode()
        if history:
            value = encode_record("RegionalChange", change)
            await producer.send_and_wait(topics.changes, key=key, value=value)
        for out in ledger_outputs(OfferEntry(change.offer_id, change)):
            if facts or out.topic != COLLECTION_BOUNDARIES:
                await producer.send_and_wait(
                    topics.named(out.topic), key=key, value=out.value, headers=list(out.headers)
                )
    finally:
        await producer.stop()


def scheduler_on(bootstrap: str, topics: Topics, clock: FakeClock) -> Scheduler:
    return Scheduler(
        bootstrap,
        registry,
        clock,
        poll_seconds=0.1,
        changes_topic=topics.changes,
        ticks_topic=topics.ticks,
        state_topic=topics.state,
        facts_topic=topics.facts,
        state_ticks_topic=topics.ticked,
    )


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
    topics = await fresh_topics(kafka_bootstrap)
    change = offer(offer_id=f"HOTNOR014K{os.urandom(3).hex()}")
    clock = FakeClock(END_OF_SUMMER - timedelta(days=10))
    scheduler = scheduler_on(kafka_bootstrap, topics, clock)
    stop = asyncio.Event()
    running = asyncio.create_task(scheduler.run(stop))
    try:
        async with asyncio.timeout(WAIT_SECONDS):
            await scheduler.ready.wait()
        # Published after the scheduler read the topic back: it arrives through the live loop.
        await publish(kafka_bootstrap, topics, change)
        clock.now = END_OF_SUMMER + timedelta(minutes=5)
        (sent,) = await first_ticks(kafka_bootstrap, topics.ticks, 1, running)
        taken_in = dict(scheduler.positions)
    finally:
        await stopped(stop, running)
    assert (sent.offer_id, sent.version, sent.at) == (change.offer_id, 1, END_OF_SUMMER)
    assert SUMMER_PHOTO.url in sent.reason
    # Where it stands on the changes: past the one change, as a progress report would read it.
    assert sum(taken_in.values()) == 1
    assert set(taken_in) == {(topics.changes, p) for p in range(OFFER_PARTITIONS)}


async def test_a_restarted_scheduler_ticks_what_passed_while_down_and_nothing_twice(
    kafka_bootstrap: str,
) -> None:
    topics = await fresh_topics(kafka_bootstrap)
    change = offer(offer_id=f"HOTNOR014K{os.urandom(3).hex()}")
    await publish(kafka_bootstrap, topics, change)
    clock = FakeClock(END_OF_SUMMER + timedelta(days=3))  # the hub was down at the boundary

    def scheduler() -> Scheduler:
        return scheduler_on(kafka_bootstrap, topics, clock)

    stop = asyncio.Event()
    running = asyncio.create_task(scheduler().run(stop))
    try:
        (sent,) = await first_ticks(kafka_bootstrap, topics.ticks, 1, running)
    finally:
        await stopped(stop, running)
    assert (sent.offer_id, sent.at) == (change.offer_id, END_OF_SUMMER)

    restarted = scheduler()
    changes = await read_prefix(kafka_bootstrap, topics.changes, decode_regional_change)
    ticks = await read_prefix(kafka_bootstrap, topics.ticks, decode_tick)
    restarted.restore(changes.values, ticks.values)
    assert ticks.values == [sent]
    assert restarted.due() == []


@pytest.mark.parametrize("facts", [True, False], ids=["boundary-facts", "older-hub-ledger"])
async def test_a_starting_scheduler_knows_the_offers_from_the_collection_state_not_the_history(
    kafka_bootstrap: str, facts: bool
) -> None:
    topics = await fresh_topics(kafka_bootstrap)
    change = offer(offer_id=f"HOTNOR014K{os.urandom(3).hex()}")
    await publish(kafka_bootstrap, topics, change, history=False, facts=facts)
    sent = await first_tick_after_a_start(kafka_bootstrap, topics)
    assert (sent.offer_id, sent.version, sent.at) == (change.offer_id, 1, END_OF_SUMMER)


async def test_a_history_with_no_ledger_beside_it_is_read_whole(kafka_bootstrap: str) -> None:
    topics = await fresh_topics(kafka_bootstrap)
    change = offer(offer_id=f"HOTNOR014K{os.urandom(3).hex()}")
    producer = make_producer(kafka_bootstrap)
    await producer.start()
    try:
        value = encode_record("RegionalChange", change)
        await producer.send_and_wait(topics.changes, key=change.offer_id.encode(), value=value)
    finally:
        await producer.stop()
    sent = await first_tick_after_a_start(kafka_bootstrap, topics)
    assert (sent.offer_id, sent.at) == (change.offer_id, END_OF_SUMMER)


async def first_tick_after_a_start(bootstrap: str, topics: Topics) -> Tick:
    """The first tick of a scheduler started a day after the end of summer."""
    clock = FakeClock(END_OF_SUMMER + timedelta(days=1))
    stop = asyncio.Event()
    running = asyncio.create_task(scheduler_on(bootstrap, topics, clock).run(stop))
    try:
        (sent,) = await first_ticks(bootstrap, topics.ticks, 1, running)
    finally:
        await stopped(stop, running)
    return sent


async def test_a_restart_reads_each_offers_latest_tick_from_the_state_topic_and_sends_none_again(
    kafka_bootstrap: str,
) -> None:
    topics, sent = await an_offer_ticked_once(kafka_bootstrap)
    noted = await read_prefix(kafka_bootstrap, topics.ticked, decode_tick)
    assert noted.values == [sent]
    await a_quiet_start(kafka_bootstrap, topics)
    ticks = await read_prefix(kafka_bootstrap, topics.ticks, decode_tick)
    assert ticks.values == [sent]


async def test_ticks_of_an_older_hub_with_no_state_topic_are_read_and_noted_once(
    kafka_bootstrap: str,
) -> None:
    topics, sent = await an_offer_ticked_once(kafka_bootstrap)
    older = replace(topics, ticked=f"{topics.ticked}.empty")  # as if it never existed
    await ensure_topics(kafka_bootstrap, [TopicSpec(older.ticked, partitions=OFFER_PARTITIONS)])
    await a_quiet_start(kafka_bootstrap, older)
    ticks = await read_prefix(kafka_bootstrap, topics.ticks, decode_tick)
    assert ticks.values == [sent]  # known from the ticks topic: not sent again
    noted = await read_prefix(kafka_bootstrap, older.ticked, decode_tick)
    assert noted.values == [sent]


async def an_offer_ticked_once(bootstrap: str) -> tuple[Topics, Tick]:
    """Fresh topics with one offer published, and the tick a first start sent for it."""
    topics = await fresh_topics(bootstrap)
    change = offer(offer_id=f"HOTNOR014K{os.urandom(3).hex()}")
    await publish(bootstrap, topics, change)
    return topics, await first_tick_after_a_start(bootstrap, topics)


async def a_quiet_start(bootstrap: str, topics: Topics) -> None:
    """A scheduler started a day after the end of summer, stopped after some polls once ready."""
    scheduler = scheduler_on(bootstrap, topics, FakeClock(END_OF_SUMMER + timedelta(days=1)))
    stop = asyncio.Event()
    running = asyncio.create_task(scheduler.run(stop))
    try:
        async with asyncio.timeout(WAIT_SECONDS):
            await scheduler.ready.wait()
        await asyncio.sleep(1.0)  # ten polls of 0.1 s: room to send what it would send
    finally:
        await stopped(stop, running)
    assert scheduler.tally.ticks == 0
