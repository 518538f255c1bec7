"""A regional change that decodes but that no stage may take (version 0, no offer id) goes to
`sitn.deadletter` from the store and the diffusion stages, with its origin and the reason, and
both go on with the next change. Each stage runs from its own composition root."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from consumers.feeds.sql import SqlFeedStore
from hub.codec import encode_record
from hub.deadletter import read_dead_letters
from hub.demo_run import prepare
from hub.kafka_clients import make_producer
from hub.registry.format import load_normandy_registry
from hub.settings import Settings
from hub.stages.roots import prepare_stages, run_diffusion, run_store
from hub.store.sql import SqlStore
from hub.topics import REGIONAL_CHANGES
from hub.wire import encode_regional_change
from tests.conftest import logged_in, make_test_broker
from tests.support import examples
from tests.support.collection_support import wait_for

pytestmark = pytest.mark.kafka


@pytest.fixture
async def stages(tmp_path: Path) -> AsyncIterator[Settings]:
    broker = make_test_broker(tmp_path / "kafka")
    await asyncio.to_thread(broker.start)
    settings = dataclasses.replace(
        Settings.from_env({"SITN_HOME": str(tmp_path / "hub")}),
        bootstrap_override=broker.bootstrap,
    )
    stop = asyncio.Event()
    try:
        with logged_in(broker):
            await prepare(broker.bootstrap, load_normandy_registry())
            # Once, before the stages start side by side, as `sitn worker` does: alembic's context
            # is process-global, so two migrations in threads of one process trip over each other.
            await prepare_stages(settings)
            running = [
                asyncio.create_task(run_store(settings, stop, "sitn")),
                asyncio.create_task(run_diffusion(settings, stop, "sitn")),
            ]
            yield settings
            stop.set()
            await asyncio.gather(*running)
    finally:
        stop.set()
        await asyncio.to_thread(broker.stop)


async def test_a_poison_regional_change_is_dead_lettered_by_store_and_diffusion(
    stages: Settings,
) -> None:
    bootstrap = stages.bootstrap_servers
    good = examples.regional_change()
    poison = encode_record("RegionalChange", dataclasses.replace(good, offer_id="", version=0))
    producer = make_producer(bootstrap)
    await producer.start()
    try:
        key = good.offer_id.encode()
        await (await producer.send(REGIONAL_CHANGES, poison, key=key))
        await (await producer.send(REGIONAL_CHANGES, encode_regional_change(good), key=key))
    finally:
        await producer.stop()

    async def both_dead_lettered() -> bool:
        letters = await read_dead_letters(bootstrap, origin_topic=REGIONAL_CHANGES)
        return len(letters) >= 2

    await wait_for(both_dead_lettered, 60, "dead letters from both stages")
    letters = await read_dead_letters(bootstrap, origin_topic=REGIONAL_CHANGES)
    assert {letter.value for letter in letters} == {poison}
    reasons = sorted(letter.reason for letter in letters)
    assert reasons[0].startswith("diffusion cannot take it")
    assert reasons[1].startswith("the store cannot take it")
    assert all("version 0" in reason for reason in reasons)

    store, feeds = SqlStore(stages.database_url), SqlFeedStore(stages.database_url)
    try:

        async def the_next_change_went_on() -> bool:
            stored = await asyncio.to_thread(store.offer, good.offer_id)
            positions = await asyncio.to_thread(feeds.positions)
            return stored is not None and sum(positions.values()) >= 2

        await wait_for(the_next_change_went_on, 60, "the next change stored and diffused")
    finally:
        store.close()
        feeds.close()
