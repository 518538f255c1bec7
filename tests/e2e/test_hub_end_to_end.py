"""Producers -> real broker -> worker -> store, on SQLite, then the same history into PostgreSQL.

The demo stream (offers created by the five CDTs, follow-up changes by CDTs, OTs, federators and the
CRT, some built to be rejected) is published through the `Publisher`; the worker judges it and
stores it. A second store fed from the same `sitn.regional.changes` on PostgreSQL has the same
digest, and the worker restarted on the same topics reaches the same store.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from prometheus_client.parser import text_string_to_metric_families

from consumers.feeds.sql import SqlFeedStore
from hub.cli.demo_run import DEMO_DIFFUSER, serve_feeds
from hub.codec import decode
from hub.core.offer import OfferType
from hub.core.regional import OfferStatus
from hub.dashboard import load_operator_key
from hub.demo_run import (
    DemoOutcome,
    DemoPlan,
    end_offsets,
    prepare,
    run_demo,
    wait_until_stored,
)
from hub.kafka_clients import make_consumer, make_producer, topic_partitions
from hub.reference import load_normandy_territory
from hub.registry.format import load_normandy_registry
from hub.settings import Settings
from hub.store.sql import SqlStore
from hub.store_projector import StoreProjector
from hub.topics import DEADLETTER, REGIONAL_CHANGES, REJECTIONS, contrib_topic
from hub.worker import Worker
from producers.publisher import Publisher
from tests.conftest import free_port
from tests.support import examples

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

PLAN = DemoPlan(offers=120, changes=200, seed=11, invalid_ratio=0.1)


def settings_for(bootstrap: str, home: Path, database_url: str) -> Settings:
    return Settings.from_env(
        {
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "SITN_HOME": str(home),
            "SITN_DATABASE_URL": database_url,
        }
    )


async def started(worker: Worker) -> asyncio.Task[None]:
    ready = asyncio.Event()
    task = asyncio.create_task(worker.run(on_ready=lambda _: ready.set()))
    waiter = asyncio.create_task(ready.wait())
    done, _ = await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()
    return task


async def stopped(worker: Worker, task: asyncio.Task[None]) -> None:
    assert worker.stop is not None
    worker.stop.set()
    await asyncio.wait_for(task, 60)


async def project_until_end(store: SqlStore, bootstrap: str) -> None:
    ends = await end_offsets(bootstrap, [REGIONAL_CHANGES, REJECTIONS])
    stop = asyncio.Event()
    projector = StoreProjector(store, bootstrap, group_id=f"test-rebuild-{secrets.token_hex(4)}")
    task = asyncio.create_task(projector.run(stop))
    while True:
        positions = await asyncio.to_thread(store.positions)
        if all(positions.get(key, 0) >= end for key, end in ends.items()):
            break
        assert not task.done(), task
        await asyncio.sleep(0.2)
    stop.set()
    await task


@pytest.fixture
async def demo(kafka_bootstrap: str, tmp_path: Path) -> tuple[Settings, DemoOutcome]:
    registry = load_normandy_registry()
    await prepare(kafka_bootstrap, registry)
    settings = settings_for(kafka_bootstrap, tmp_path, f"sqlite:///{tmp_path / 'live.db'}")
    worker = Worker(settings)
    task = await started(worker)
    try:
        outcome = await run_demo(
            worker.settings,
            PLAN,
            registry,
            load_normandy_territory(),
            say=lambda _: None,
            prefix=worker.app_id,
        )
    finally:
        await stopped(worker, task)
    return settings, outcome


async def test_the_demo_flows_from_publishers_through_the_hub_into_sqlite_and_postgresql(
    demo: tuple[Settings, DemoOutcome], kafka_bootstrap: str, postgres_url: str
) -> None:
    settings, outcome = demo
    live = SqlStore(settings.database_url)
    try:
        offers = sum(
            count for (_, _, status), count in live.counts().items() if status is OfferStatus.ACTIVE
        )
        assert offers >= PLAN.offers * 0.8, "most demo offers are live in the store"
        rejected_rules = {rule for r in live.rejections(limit=10_000) for rule in r.rule_ids}
        assert {"principle", "convention"} <= rejected_rules
        assert outcome.refused_by_publisher == outcome.expected_rejections["charte"]

        feeds = SqlFeedStore(settings.database_url)
        try:
            regional = feeds.changes("site-crt-normandie", limit=1000)
            assert regional, "the regional board's site receives the demo offers"
            calendar = feeds.changes("calendrierdesfetes", limit=1000)
            offer_types = {e.change.offer_type for e in calendar if e.change.offer_type}
            assert offer_types <= {OfferType.FMA}, "the events calendar receives events only"
            private = [e for e in regional + calendar if e.change.view and e.change.view.private]
            assert private == [], "no feed entry carries the private block"
        finally:
            feeds.close()

        rebuilt = SqlStore(postgres_url)
        rebuilt.migrate()
        try:
            await project_until_end(rebuilt, kafka_bootstrap)
            assert rebuilt.digest() == live.digest()
            assert rebuilt.counts() == live.counts()
        finally:
            rebuilt.close()
    finally:
        live.close()


async def test_a_restarted_worker_redelivered_everything_changes_nothing(
    demo: tuple[Settings, DemoOutcome], kafka_bootstrap: str, tmp_path: Path
) -> None:
    settings, _ = demo
    live = SqlStore(settings.database_url)
    before = live.digest()
    live.close()
    # A new consumer group sees every contribution again, as after a lost offset commit.
    worker = Worker(settings, app_id=f"sitn-hub-redelivery-{tmp_path.name}")
    task = await started(worker)
    try:
        ends = await end_offsets(kafka_bootstrap, [REGIONAL_CHANGES])
        await wait_until_stored(worker.settings, worker.app_id)
        assert worker.collection is not None
        assert worker.collection.totals().accepted == 0, "redelivered contributions have no effect"
        assert await end_offsets(kafka_bootstrap, [REGIONAL_CHANGES]) == ends
    finally:
        await stopped(worker, task)
    live = SqlStore(settings.database_url)
    assert live.digest() == before
    live.close()


async def read_topic(bootstrap: str, topic: str) -> list[ConsumerRecord]:
    consumer = make_consumer(bootstrap, group_id=None)
    await consumer.start()
    try:
        partitions = await topic_partitions(bootstrap, [topic])
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[ConsumerRecord] = []
        for tp in partitions:
            while await consumer.position(tp) < ends[tp]:
                found += (await consumer.getmany(tp, timeout_ms=1000)).get(tp, [])
        return found
    finally:
        await consumer.stop()


async def test_undecodable_bytes_are_dead_lettered_and_customer_data_stays_private(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    await prepare(kafka_bootstrap, load_normandy_registry())
    settings = settings_for(kafka_bootstrap, tmp_path, f"sqlite:///{tmp_path / 'store.db'}")
    canary = f"canary-{tmp_path.name}@private.example"
    customer = replace(
        examples.full_customer_record(), event_id=f"form-{tmp_path.name}", email=canary
    )
    garbage = b"<offre>not avro</offre>"
    producer = make_producer(kafka_bootstrap)
    await producer.start()
    try:
        sent = await producer.send_and_wait(
            contrib_topic("ot-deauville"), garbage, key=b"HOTNOR014V599999"
        )
    finally:
        await producer.stop()
    report = await Publisher(
        bootstrap=kafka_bootstrap,
        contributor="ot-deauville",
        state_dir=tmp_path,
        territory=load_normandy_territory(),
    ).publish_customer_records([customer])
    assert report.error is None

    worker = Worker(settings, app_id=f"sitn-hub-deadletter-{tmp_path.name}")
    task = await started(worker)
    try:
        store = worker.projector.store if worker.projector else None
        assert store is not None
        for _ in range(300):
            if await asyncio.to_thread(store.customer_data, "ot-deauville"):
                break
            await asyncio.sleep(0.2)
    finally:
        await stopped(worker, task)

    letters = [decode("DeadLetter", r.value) for r in await read_topic(kafka_bootstrap, DEADLETTER)]
    ours = [
        d
        for d in letters
        if (d["topic"], d["partition"], d["offset"]) == (sent.topic, sent.partition, sent.offset)
    ]
    assert len(ours) == 1
    assert ours[0]["value"] == garbage
    assert ours[0]["error_kind"] == "bad_magic"

    live = SqlStore(settings.database_url)
    try:
        assert [c.email for c in live.customer_data("ot-deauville") if c.email == canary] == [
            canary
        ]
    finally:
        live.close()
    for topic in (REGIONAL_CHANGES, REJECTIONS):
        assert not any(
            canary.encode() in (r.value or b"") for r in await read_topic(kafka_bootstrap, topic)
        ), f"customer data leaked into {topic}"


async def test_published_offers_are_visible_in_a_diffusers_feed_over_http(
    demo: tuple[Settings, DemoOutcome],
) -> None:
    settings, _ = demo
    stop = asyncio.Event()
    port = free_port()
    api = await serve_feeds(settings, port, stop)
    try:
        key = (settings.home / "demo-api-key").read_text().strip()
        url = f"http://127.0.0.1:{port}/v1/feeds/{DEMO_DIFFUSER}/changes?limit=50"

        def get(key: str) -> tuple[int, dict[str, Any]]:
            request = urllib.request.Request(url, headers={"X-API-Key": key})
            try:
                with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                    return response.status, json.loads(response.read())
            except urllib.error.HTTPError as error:
                return error.code, {}

        status, page = await asyncio.to_thread(get, key)
        assert status == 200
        assert page["changes"], "the regional board's site sees the published offers"
        assert {c["kind"] for c in page["changes"]} <= {"upsert", "removal"}
        assert (await asyncio.to_thread(get, "not-a-key"))[0] == 401

        def metrics() -> str:
            operator = load_operator_key(settings).value  # /metrics is the operators'
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {operator}"}
            )
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return str(response.read().decode())

        samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(await asyncio.to_thread(metrics))
            for sample in family.samples
        }
        head = samples[("sitn_feed_head", (("diffuser", DEMO_DIFFUSER),))]
        assert head >= len(page["changes"]), "the demo's API process serves the feeds' metrics"
    finally:
        stop.set()
        await api
