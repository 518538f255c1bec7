"""Shared support for the collection stage's tests on a real broker.

`publish` puts contributions on their contributors' topics keyed by offer id (Kafka's default
partitioner) with the record timestamps given; `StageProcess` runs `sitn worker --stage NAME`
(collection by default) as a child process, as an operator would, so a test can kill -9 it or
SIGSTOP it; `History` is what the stage produced, read back `read_committed`, with a digest that
does not depend on the order partitions were read in.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from aiokafka.errors import KafkaError

from hub.core.collection import Rejection
from hub.core.contribution import Contribution
from hub.kafka_clients import make_admin, make_consumer, make_producer, topic_partitions
from hub.topic_reader import read_prefix
from hub.topics import CONTRIB_PREFIX, REGIONAL_CHANGES, REJECTIONS, contrib_topic
from hub.wire import decode_regional_change, decode_rejection, encode_contribution


async def publish(bootstrap: str, timed: Iterable[tuple[int, Contribution]]) -> int:
    """Each (timestamp in ms, contribution) on its contributor's topic; returns how many."""
    producer = make_producer(bootstrap, client_id="test-publisher")
    await producer.start()
    try:
        sent = [
            await producer.send(
                contrib_topic(c.contributor),
                encode_contribution(c),
                key=c.offer_id.encode(),
                timestamp_ms=at,
            )
            for at, c in timed
        ]
        await asyncio.gather(*sent)
        return len(sent)
    finally:
        await producer.stop()


async def produce(bootstrap: str, records: Iterable[tuple[str, bytes, bytes]]) -> None:
    """Each (topic, key, value) as is, with Kafka's default partitioner."""
    producer = make_producer(bootstrap, client_id="test-producer")
    await producer.start()
    try:
        sent = [await producer.send(topic, value, key=key) for topic, key, value in records]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


@dataclass(frozen=True)
class History:
    """What the collection stage produced: the regional history and the rejections."""

    changes: list[bytes]  # encoded regional changes, as on the topic
    rejections: list[Rejection]

    def digest(self) -> str:
        """sha256 of every (offer, version, bytes), sorted: the same history, however read."""
        keyed = [(decode_regional_change(v), v) for v in self.changes]
        decoded = sorted((change.offer_id, change.version, v) for change, v in keyed)
        hasher = hashlib.sha256()
        for offer_id, version, value in decoded:
            hasher.update(f"{offer_id}:{version}:".encode() + value)
        return hasher.hexdigest()

    def accepted_events(self) -> set[str]:
        return {decode_regional_change(value).event_id for value in self.changes}

    def versions(self) -> dict[str, list[int]]:
        found: dict[str, list[int]] = {}
        for value in self.changes:
            change = decode_regional_change(value)
            found.setdefault(change.offer_id, []).append(change.version)
        return found


async def read_history(bootstrap: str) -> History:
    changes = await read_prefix(bootstrap, REGIONAL_CHANGES, lambda v: v or b"")
    rejections = await read_prefix(bootstrap, REJECTIONS, decode_rejection)
    return History(list(changes.values), list(rejections.values))


async def contributor_ends(bootstrap: str) -> dict[tuple[str, int], int]:
    admin = make_admin(bootstrap)
    await admin.start()
    try:
        topics = [t for t in await admin.list_topics() if t.startswith(CONTRIB_PREFIX)]
    finally:
        await admin.close()
    consumer = make_consumer(bootstrap, group_id=None)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(await topic_partitions(bootstrap, topics))
        return {(tp.topic, tp.partition): offset for tp, offset in ends.items() if offset}
    finally:
        await consumer.stop()


async def committed(bootstrap: str, group: str) -> dict[tuple[str, int], int]:
    admin = make_admin(bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    except KafkaError:  # the group coordinator is not up yet on a new broker: nothing committed
        return {}
    finally:
        await admin.close()
    return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}


async def caught_up(bootstrap: str, group: str) -> bool:
    """Whether `group` committed every contributor partition up to its end (markers included)."""
    ends, done = await contributor_ends(bootstrap), await committed(bootstrap, group)
    return all(done.get(key, 0) >= end for key, end in ends.items())


class StageProcess:
    """`sitn worker --stage STAGE` in a child process, logging to `log`; its store is
    `database_url` (default: SQLite under `home`)."""

    def __init__(
        self,
        bootstrap: str,
        home: Path,
        *,
        stage: str = "collection",
        database_url: str | None = None,
        deadline_s: float = 604_800,
    ) -> None:
        self.bootstrap = bootstrap
        self.home = home
        self.stage = stage
        self.database_url = database_url
        self.deadline_s = deadline_s
        self.log = home / f"{stage}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "SITN_HOME": str(self.home),
            "SITN_COLLECTION_DEADLINE": str(self.deadline_s),
        }
        if self.database_url is not None:
            env["SITN_DATABASE_URL"] = self.database_url
        self.home.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hub.cli", "worker", "--stage", self.stage],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        assert self.process is not None
        self.process.wait(30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGCONT)
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(30)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def assert_running(self) -> None:
        """Fail, with the end of its log, if the process has exited."""
        assert self.process is not None, f"{self.stage} was never started"
        code = self.process.poll()
        tail = "\n".join(self.output().splitlines()[-30:])
        assert code is None, f"{self.stage} ({self.home.name}) exited with {code}:\n{tail}"


async def wait_for(
    condition: Callable[[], Awaitable[bool]], within: float, what: str, step: float = 0.5
) -> None:
    """Until `condition()` is true, or fail after `within` seconds naming `what`."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(step)
    raise AssertionError(f"{what} did not happen within {within:g} s")
