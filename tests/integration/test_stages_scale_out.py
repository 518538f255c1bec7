"""Two instances of each stage share its partitions, and one killed hands them over, losing nothing.

The same input (demo offers and follow-up changes, fixed record timestamps) runs twice, each on its
own broker: once with one instance each of the collection, store and diffusion stages on SQLite,
once with two of each on PostgreSQL, one of each killed with SIGKILL in the middle of the second
wave (after both instances of every stage hold partitions, and before the rest of the wave is
published, so the survivors must take the killed ones' partitions over to finish). Both must end
with the same regional history, store digest and feeds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import make_url

from consumers.feeds.cursor import START
from consumers.feeds.sql import SqlFeedStore
from hub.core.contribution import Contribution
from hub.core.diffusion import DiffusionChange
from hub.demo_run import end_offsets, prepare
from hub.reference import load_normandy_territory
from hub.registry.format import load_normandy_registry
from hub.stages.groups import COLLECTION_GROUP
from hub.store.sql import SqlStore
from hub.topics import DIFFUSION_TICKS, REGIONAL_CHANGES, REJECTIONS
from producers.demo import as_contribution, creations, generate_changes, generate_offers
from tests.conftest import logged_in, make_test_broker
from tests.support.collection_support import (
    StageProcess,
    caught_up,
    publish,
    read_history,
    wait_for,
)

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

STAGES = ("collection", "store", "diffusion")
OFFERS = 50
CHANGES = 150
T0_MS = 1_780_000_000_000  # the input's record timestamps: the same in both runs


Timed = list[tuple[int, Contribution]]


def waves() -> tuple[Timed, Timed, Timed]:
    """The creations and half the changes, then two quarters, each with its record time."""
    registry, territory = load_normandy_registry(), load_normandy_territory()
    offers = generate_offers(OFFERS, 31, territory.values())
    changes = generate_changes(offers, CHANGES, 31, invalid_ratio=0.1, registry=registry)
    stream = [as_contribution(org, demo) for org, demo in [*creations(offers), *changes]]
    timed = [(T0_MS + 10 * i, c) for i, c in enumerate(stream)]
    half, three_quarters = OFFERS + CHANGES // 2, OFFERS + 3 * CHANGES // 4
    return timed[:half], timed[half:three_quarters], timed[three_quarters:]


@dataclass(frozen=True)
class Outcome:
    history_digest: str
    versions: dict[str, list[int]]
    store_digest: str
    feeds: dict[str, dict[str, list[DiffusionChange]]]  # diffuser -> offer -> its entries


def holds_partitions(stage: StageProcess) -> bool:
    """Whether the stage's last assignment, as its log says, gave it partitions."""
    said = [
        line
        for line in stage.output().splitlines()
        if " partition(s) assigned" in line or ("task " in line and "read back" in line)
    ]
    return bool(said) and " 0 partition(s) assigned" not in said[-1]


async def everything_projected(bootstrap: str, database_url: str) -> bool:
    if not await caught_up(bootstrap, COLLECTION_GROUP):
        return False
    ends = await end_offsets(bootstrap, [REGIONAL_CHANGES, REJECTIONS, DIFFUSION_TICKS])
    with SqlStore(database_url) as store, SqlFeedStore(database_url) as feeds:
        stored, fed = store.positions(), feeds.positions()
    return all(
        stored.get(key, 0) >= end for key, end in ends.items() if key[0] != DIFFUSION_TICKS
    ) and all(fed.get(key, 0) >= end for key, end in ends.items() if key[0] != REJECTIONS)


def feeds_of(database_url: str) -> dict[str, dict[str, list[DiffusionChange]]]:
    found: dict[str, dict[str, list[DiffusionChange]]] = {}
    with SqlFeedStore(database_url) as feeds:
        for diffuser in sorted(load_normandy_registry().diffusers):
            after, offers = START, found.setdefault(diffuser, {})
            while page := feeds.changes(diffuser, after=after, limit=500):
                for entry in page:
                    offers.setdefault(entry.change.offer_id, []).append(entry.change)
                after = after.past(page)
    return found


def run_hub(home: Path, database_url: str, instances: int, kill_one_of_each: bool) -> Outcome:
    broker = make_test_broker(home / "kafka")
    broker.start()
    stages = [
        StageProcess(
            broker.bootstrap, home / f"{stage}-{n}", stage=stage, database_url=database_url
        )
        for stage in STAGES
        for n in range(instances)
    ]
    try:
        with logged_in(broker):
            asyncio.run(prepare(broker.bootstrap, load_normandy_registry()))
            with SqlStore(database_url) as store, SqlFeedStore(database_url) as feeds:
                store.migrate()  # once, before the instances start side by side
                feeds.migrate()
            for stage in stages:
                stage.start()
            first, second, third = waves()
            asyncio.run(publish(broker.bootstrap, first))

            running = list(stages)

            async def projected() -> bool:
                for stage in running:
                    stage.assert_running()  # a stage that died cannot catch up: say why at once
                return await everything_projected(broker.bootstrap, database_url)

            asyncio.run(wait_for(projected, 180, "the first wave through every stage"))

            async def sharing() -> bool:
                for stage in stages:
                    stage.assert_running()
                return all(holds_partitions(stage) for stage in stages)

            asyncio.run(wait_for(sharing, 60, "every instance of every stage holding partitions"))
            asyncio.run(publish(broker.bootstrap, second))
            if kill_one_of_each:
                for stage in stages[::instances]:
                    stage.kill()
                    running.remove(stage)
            asyncio.run(publish(broker.bootstrap, third))
            asyncio.run(wait_for(projected, 240, "the second wave through every stage"))
            history = asyncio.run(read_history(broker.bootstrap))
            with SqlStore(database_url) as store:
                store_digest = store.digest()
            return Outcome(
                history.digest(), history.versions(), store_digest, feeds_of(database_url)
            )
    finally:
        for stage in stages:
            stage.stop()
        broker.stop()


@pytest.fixture
def fresh_postgres_database(postgres_url: str) -> Iterator[str]:
    """A database of its own on the session's PostgreSQL server, dropped afterwards."""
    url = make_url(postgres_url)
    name = f"sitn_scale_out_{time.time_ns()}"
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield url.set(database=name).render_as_string(False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def assert_no_regression(feeds: dict[str, dict[str, list[DiffusionChange]]]) -> None:
    for diffuser, offers in feeds.items():
        for offer, entries in offers.items():
            versions = [e.version for e in entries]
            assert versions == sorted(versions), f"{diffuser}'s feed goes back on {offer}"


def test_two_instances_of_each_stage_one_killed_give_what_one_instance_gives(
    tmp_path: Path, fresh_postgres_database: str
) -> None:
    alone = run_hub(tmp_path / "alone", f"sqlite:///{tmp_path / 'alone.db'}", 1, False)
    shared = run_hub(tmp_path / "shared", fresh_postgres_database, 2, True)

    assert sum(len(v) for v in alone.versions.values()) > OFFERS, "changes were accepted"
    assert any(any(offers.values()) for offers in alone.feeds.values()), "feeds were written"
    for versions in shared.versions.values():
        assert versions == list(range(1, len(versions) + 1)), "no version reused or skipped"
    assert shared.history_digest == alone.history_digest
    assert shared.store_digest == alone.store_digest
    assert_no_regression(shared.feeds)
    assert shared.feeds == alone.feeds
