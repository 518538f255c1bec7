"""The hub `bench.diffusion_latency` measures, and how the bench reads its progress.

Two shapes of one hub, both on a SQLite store in the bench's folder:
- `StageProcesses` (the default): `sitn worker` as an operator runs it, every stage its own process
  under the supervisor, so collection and diffusion each have a core instead of sharing one GIL.
  Progress is read from outside, as `sitn status` reads it: contributions judged from the
  collection group's committed offsets on the contributor topics (the bench's producers are not
  transactional, so an offset there is a record), the stores' positions and feed heads from the
  database, read-only.
- `InProcess`: every stage as a task of one event loop (`hub.worker.Worker`), progress read from
  the stages' own tallies: the shape the demo and the tests use.

Regional changes and ticks diffused are counted from the diffusion stage's positions: offsets,
which the collection's and the scheduler's transaction markers also take, so a position becomes a
count of records with `RecordCount` once the topics are read at the end.
"""

from __future__ import annotations

import asyncio
import bisect
import os
import sqlite3
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from sqlalchemy import Engine, Table, create_engine, func, select

from hub.kafka_clients import make_admin
from hub.settings import Settings
from hub.stages.groups import COLLECTION_GROUP
from hub.store.positions import read_positions
from hub.store.schema import consumed_positions, feed_heads, feed_positions
from hub.topics import CONTRIB_PREFIX, DIFFUSION_TICKS, REGIONAL_CHANGES
from hub.worker import Worker

__all__ = ["Hub", "InProcess", "Positions", "RecordCount", "Sample", "StageProcesses"]

Positions = dict[tuple[str, int], int]
STOP_WITHIN = 60.0  # seconds the stages get to stop on SIGTERM before they are killed


@dataclass(frozen=True)
class Sample:
    """The hub's progress at one moment (`at` on the bench's clock)."""

    at: float
    judged: int
    diffused_changes: int
    diffused_ticks: int
    entries: int
    # The diffusion stage's positions, when the counts above are still to be made from them.
    diffused_at: Positions | None = None


class Hub(Protocol):
    settings: Settings

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    def check_running(self) -> None:
        """Raises SystemExit, with what is known, if the hub stopped by itself."""

    async def judged(self) -> int: ...
    async def sample(self, at: float) -> Sample: ...
    async def diffused_positions(self) -> Positions: ...
    async def stored_positions(self) -> Positions: ...
    def scheduled_positions(self) -> Positions | None:
        """How far the scheduler has read the regional changes (None: not known from outside)."""

    async def entries(self) -> int: ...
    def summary(self) -> str: ...


def read_only_engine(path: Path) -> Engine:
    """An engine that cannot write to the store: the bench only watches."""
    uri = f"file:{path}?mode=ro"
    return create_engine(
        "sqlite://", creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False)
    )


@dataclass
class InProcess:
    """Every stage as a task of this process's event loop (`hub.worker.Worker`)."""

    settings: Settings
    app_id: str
    worker: Worker | None = None
    task: asyncio.Task[None] | None = None

    def _running(self) -> Worker:
        assert self.worker is not None, "start the hub first"
        return self.worker

    async def start(self) -> None:
        self.worker = Worker(self.settings, app_id=self.app_id)
        ready = asyncio.Event()
        self.task = asyncio.create_task(
            self.worker.run(on_ready=lambda _: ready.set()), name="bench-worker"
        )
        waiter = asyncio.create_task(ready.wait())
        done, _ = await asyncio.wait([self.task, waiter], return_when=asyncio.FIRST_COMPLETED)
        if self.task in done:
            waiter.cancel()
            self.task.result()
            raise SystemExit("the worker stopped before it was ready")

    async def stop(self) -> None:
        worker = self._running()
        assert worker.stop is not None
        assert self.task is not None
        worker.stop.set()
        await asyncio.wait_for(self.task, 120)

    def check_running(self) -> None:
        worker = self._running()
        if worker.stop is not None and worker.stop.is_set():
            raise SystemExit(f"the worker stopped before catching up: {worker.summary()}")

    async def judged(self) -> int:
        collection = self._running().collection
        if collection is None:
            return 0
        t = collection.totals()
        return (
            t.accepted
            + t.partially_rejected
            + t.rejected
            + t.no_effect
            + t.dead_lettered
            + t.customer_records
        )

    async def sample(self, at: float) -> Sample:
        diffusion = self._running().diffusion
        tally = diffusion.tally if diffusion is not None else None
        return Sample(
            at,
            await self.judged(),
            tally.changes if tally else 0,
            tally.ticks if tally else 0,
            tally.entries if tally else 0,
        )

    async def diffused_positions(self) -> Positions:
        diffusion = self._running().diffusion
        assert diffusion is not None
        return await asyncio.to_thread(diffusion.feeds.positions)

    async def stored_positions(self) -> Positions:
        projector = self._running().projector
        assert projector is not None
        return await asyncio.to_thread(projector.store.positions)

    def scheduled_positions(self) -> Positions | None:
        scheduler = self._running().scheduler
        assert scheduler is not None
        return dict(scheduler.positions)

    async def entries(self) -> int:
        diffusion = self._running().diffusion
        return diffusion.tally.entries if diffusion is not None else 0

    def summary(self) -> str:
        return f"worker: {self._running().summary()}"


@dataclass
class StageProcesses:
    """`sitn worker`: every stage its own supervised process, read from outside."""

    settings: Settings
    store_path: Path
    log_path: Path
    process: asyncio.subprocess.Process | None = None
    engine: Engine | None = None
    admin: AIOKafkaAdminClient | None = None
    _judged: int = 0

    async def start(self) -> None:
        # The hub's settings are the bench's, as in-process: none of the shell's SITN_* variables.
        environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SITN_")},
            "KAFKA_BOOTSTRAP_SERVERS": self.settings.bootstrap_servers,
            "SITN_HOME": str(self.settings.home),
            "SITN_DATABASE_URL": self.settings.database_url,
        }
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "hub.cli",
                "worker",
                env=environment,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        self.admin = make_admin(self.settings.bootstrap_servers, client_id="sitn-bench-progress")
        await self.admin.start()
        # The supervisor migrates the store before it starts a stage: wait for the tables.
        while not self.store_path.exists() or not await asyncio.to_thread(self._has_tables):
            self.check_running()
            await asyncio.sleep(0.2)
        self.engine = read_only_engine(self.store_path)

    def _has_tables(self) -> bool:
        with sqlite3.connect(f"file:{self.store_path}?mode=ro", uri=True) as conn:
            names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        return {feed_heads.name, feed_positions.name, consumed_positions.name} <= names

    async def stop(self) -> None:
        if self.admin is not None:
            await self.admin.close()
        if self.engine is not None:
            self.engine.dispose()
        process = self.process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), STOP_WITHIN)
        except TimeoutError:
            process.kill()
            await process.wait()

    def check_running(self) -> None:
        if self.process is not None and self.process.returncode is not None:
            tail = self.log_path.read_text(errors="replace").splitlines()[-20:]
            raise SystemExit(
                f"sitn worker exited with {self.process.returncode}; its log ends:\n"
                + "\n".join(tail)
            )

    async def judged(self) -> int:
        assert self.admin is not None
        try:
            offsets = await self.admin.list_consumer_group_offsets(COLLECTION_GROUP)
        except KafkaError as error:
            # A fresh broker has no group coordinator until the offsets topic exists, and the
            # coordinator moves when the group does: the count stands until the next look.
            if not error.retriable:
                raise
            return self._judged
        self._judged = sum(
            meta.offset
            for tp, meta in offsets.items()
            if tp.topic.startswith(CONTRIB_PREFIX) and meta.offset > 0
        )
        return self._judged

    def _positions(self, table: Table) -> Positions:
        assert self.engine is not None
        with self.engine.connect() as conn:
            return read_positions(conn, table)

    def _entries(self) -> int:
        """Every feed's entries: the sum of its partitions' last numbers (a few hundred rows)."""
        assert self.engine is not None
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.sum(feed_heads.c.seq))).scalar() or 0)

    async def sample(self, at: float) -> Sample:
        judged = await self.judged()
        diffused = await self.diffused_positions()
        return Sample(at, judged, 0, 0, await self.entries(), diffused_at=diffused)

    async def diffused_positions(self) -> Positions:
        return await asyncio.to_thread(self._positions, feed_positions)

    async def stored_positions(self) -> Positions:
        return await asyncio.to_thread(self._positions, consumed_positions)

    def scheduled_positions(self) -> Positions | None:
        return None  # the scheduler keeps its reading position to itself (it commits none)

    async def entries(self) -> int:
        return await asyncio.to_thread(self._entries)

    def summary(self) -> str:
        return f"stages: sitn worker, its log in {self.log_path} (deleted with the bench's folder)"


@dataclass(frozen=True)
class RecordCount:
    """Per partition of the regional changes and the ticks, the offsets that hold records (not
    transaction markers): turns the diffusion stage's positions into counts."""

    offsets: Mapping[tuple[str, int], list[int]]

    @classmethod
    def of(cls, records: Iterable[tuple[str, int, int]]) -> RecordCount:
        by_partition: dict[tuple[str, int], list[int]] = {}
        for topic, partition, offset in records:
            by_partition.setdefault((topic, partition), []).append(offset)
        return cls({key: sorted(values) for key, values in by_partition.items()})

    def below(self, positions: Positions, topic: str) -> int:
        return sum(
            bisect.bisect_left(self.offsets.get(key, []), position)
            for key, position in positions.items()
            if key[0] == topic
        )

    def counted(self, sample: Sample) -> Sample:
        if sample.diffused_at is None:
            return sample
        return replace(
            sample,
            diffused_changes=self.below(sample.diffused_at, REGIONAL_CHANGES),
            diffused_ticks=self.below(sample.diffused_at, DIFFUSION_TICKS),
            diffused_at=None,
        )
