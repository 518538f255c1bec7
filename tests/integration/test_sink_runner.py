"""The sink stages' runner on a real broker: a rebalance that lands while a batch is being written
takes the partitions away without stopping the runner, and their new owner goes on from the
positions the database holds."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping

import pytest
from aiokafka import TopicPartition

from hub.kafka_clients import TopicSpec, ensure_topics, make_producer
from hub.stages.runner import Batch, Poison, Positions, SinkRunner
from tests.support.collection_support import wait_for

pytestmark = pytest.mark.kafka

TOPIC = "test.sink-runner.rebalance"
GROUP = "test-sink-runner-rebalance"


Rows = dict[int, bytes]  # offset -> value: writing a record again changes nothing, as in the stores


class Table:
    """A fake database: the rows and the positions, updated together under a lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rows: Rows = {}
        self.stored: Positions = {}

    def positions(self) -> Mapping[tuple[str, int], int]:
        with self.lock:
            return dict(self.stored)

    def prepare(self, batch: Batch) -> tuple[Rows, list[Poison]]:
        return {r.offset: r.value for records in batch.values() for r in records}, []

    def write(self, rows: Rows, positions: Positions) -> None:
        with self.lock:
            self.rows.update(rows)
            self.stored.update(positions)


class HeldTable(Table):
    """A fake database whose first write waits until `release` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.writing = threading.Event()
        self.release = threading.Event()

    def write(self, rows: Rows, positions: Positions) -> None:
        if rows and not self.writing.is_set():
            self.writing.set()
            assert self.release.wait(60), "the test never released the write"
        super().write(rows, positions)


async def send(bootstrap: str, values: list[bytes]) -> None:
    producer = make_producer(bootstrap)
    await producer.start()
    try:
        for value in values:
            await (await producer.send(TOPIC, value, partition=0))
    finally:
        await producer.stop()


async def test_a_runner_whose_partitions_go_while_it_writes_keeps_running(
    kafka_bootstrap: str,
) -> None:
    await ensure_topics(kafka_bootstrap, [TopicSpec(TOPIC, partitions=1)])
    table = HeldTable()
    stop = asyncio.Event()

    def runner(client_id: str) -> SinkRunner[Rows]:
        return SinkRunner(
            kafka_bootstrap,
            group_id=GROUP,
            client_id=client_id,  # members sort by id: the one task goes to "a-…" once it joins
            topics=[TOPIC],
            positions=table.positions,
            prepare=table.prepare,
            write=table.write,
            session_timeout_ms=6_000,
        )

    first, second = runner("b-first"), runner("a-second")
    running = asyncio.create_task(first.run(stop))
    joined: asyncio.Task[None] | None = None
    try:

        async def assigned() -> bool:
            return first.ready.is_set()

        async def writing() -> bool:
            return table.writing.is_set()

        await wait_for(assigned, 60, "the first assignment")
        await send(kafka_bootstrap, [b"one", b"two"])
        await wait_for(writing, 60, "the first write")
        joined = asyncio.create_task(second.run(stop))

        async def handed_over() -> bool:
            return second.ready.is_set() and not first.assigned

        await wait_for(handed_over, 60, "the partition handed to the second runner")
        table.release.set()
        await send(kafka_bootstrap, [b"three"])

        async def all_written() -> bool:
            return table.rows == {0: b"one", 1: b"two", 2: b"three"}

        await wait_for(all_written, 60, "every record written")
        assert not running.done(), "the first runner stopped"
        assert table.positions() == {(TOPIC, 0): 3}
        assert second.assigned == {TopicPartition(TOPIC, 0)}
    finally:
        table.release.set()
        stop.set()
        await asyncio.gather(running, *([joined] if joined else []))
