"""`gather_status`, `sitn status` and `/metrics` on a running stack: the figures match the sources.

One stack for the module: the registry applied, a worker that judged a few contributions of this
module (accepted and refused), a parked webhook, a dead letter, then the worker stopped so that
nothing moves while the figures are compared with what the store, the feeds and the topics hold,
read independently. Without a broker, the store's figures are still given and the gap is named.
"""

from __future__ import annotations

import asyncio
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from aiokafka import AIOKafkaProducer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from consumers.api import create_app
from consumers.feeds import InMemoryFeedStore
from consumers.feeds.cursor import START
from consumers.webhooks import SqlWebhookStore
from hub.cli import app
from hub.codec import encode_contribution
from hub.core.contribution import Contribution, OfferCreated
from hub.core.offer import Address, GeoPoint, Location, OfferType
from hub.core.registry import Registry
from hub.dashboard import OperatorKey
from hub.deadletter import read_redrive_marks
from hub.demo_run import prepare
from hub.kafka_clients import (
    TopicSpec,
    ensure_topics,
    make_admin,
    make_consumer,
    make_producer,
    security_options,
    topic_partitions,
)
from hub.operations.status import (
    DIFFUSION_CONSUMER,
    STORE_CONSUMER,
    HubStatus,
    PartitionLag,
    StatusSources,
    gather_status,
    sql_sources,
)
from hub.registry.format import load_normandy_registry
from hub.registry.source import FixedRegistry
from hub.settings import Settings
from hub.stages.groups import group_of
from hub.store import InMemoryStore
from hub.store_projector import PROJECTED_TOPICS
from hub.topics import DEADLETTER, OFFER_PARTITIONS, REGIONAL_CHANGES, contrib_topic
from tests.conftest import free_port
from tests.integration.test_deadletter import dead_letter
from tests.support import examples
from tests.support.regional_changes import change
from tests.support.running_hub import running_worker, settings_for

CONTRIBUTOR = "cdt-calvados"
DIFFUSER = "site-crt-normandie"
ACCEPTED, REFUSED = 4, 2
DEAUVILLE = Location(
    Address("14220", "1 boulevard de la Mer", "14800", "Deauville"), GeoPoint(49.36, 0.07)
)
EVREUX = Location(
    Address("27229", "1 place du Général de Gaulle", "27000", "Évreux"), GeoPoint(49.02, 1.15)
)
WAIT_STEPS = 300  # x 0.2 s


def creation(offer_id: str, location: Location, at: datetime) -> Contribution:
    return Contribution(
        event_id=f"{CONTRIBUTOR}/{offer_id}/1",
        contributor=CONTRIBUTOR,
        offer_id=offer_id,
        source_version=1,
        occurred_at=at,
        source_system="tests",
        source_id=offer_id,
        payload=OfferCreated(
            OfferType.HOT, replace(examples.rich_offer_fields(), location=location)
        ),
    )


@dataclass(frozen=True)
class Stack:
    settings: Settings
    group: str  # the stopped worker's consumer group
    started_at: datetime  # before anything of this test was published
    stopped_at: datetime  # after the worker stopped


async def ends_of(bootstrap: str, topics: list[str]) -> dict[tuple[str, int], tuple[int, int]]:
    """(first offset, end offset) of every partition of `topics`, read by a consumer of our own."""
    partitions = await topic_partitions(bootstrap, topics)
    consumer = make_consumer(bootstrap, group_id=None)
    await consumer.start()
    try:
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return {(tp.topic, tp.partition): (starts[tp], ends[tp]) for tp in partitions}


async def committed_offsets(bootstrap: str, group: str) -> dict[tuple[str, int], int]:
    admin = make_admin(bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}


async def regional_changes_since(bootstrap: str, since: datetime) -> int:
    """Records of `sitn.regional.changes` whose timestamp is at or after `since`, all read."""
    since_ms = int(since.timestamp() * 1000)
    partitions = await topic_partitions(bootstrap, [REGIONAL_CHANGES])
    consumer = make_consumer(bootstrap, group_id=None)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        count = 0
        for tp in partitions:
            while await consumer.position(tp) < ends[tp]:
                records = (await consumer.getmany(tp, timeout_ms=1000)).get(tp, [])
                count += sum(1 for r in records if r.offset < ends[tp] and r.timestamp >= since_ms)
        return count
    finally:
        await consumer.stop()


async def build_stack(bootstrap: str, home: Path) -> Stack:
    await prepare(bootstrap, load_normandy_registry())
    settings = settings_for(bootstrap, home)
    prefix = f"sitn-hub-status-{uuid.uuid4().hex[:8]}"
    group = group_of("collection", prefix)
    started_at = datetime.now(UTC)
    offers = [f"HOTNOR014V-st-{uuid.uuid4().hex[:12]}" for _ in range(ACCEPTED + REFUSED)]
    contributions = [
        creation(offer_id, DEAUVILLE if n < ACCEPTED else EVREUX, started_at)
        for n, offer_id in enumerate(offers)
    ]
    async with running_worker(settings, prefix) as worker:
        producer = make_producer(bootstrap)
        await producer.start()
        try:
            for contribution in contributions:
                await producer.send_and_wait(
                    contrib_topic(CONTRIBUTOR),
                    encode_contribution(contribution),
                    key=contribution.offer_id.encode(),
                )
        finally:
            await producer.stop()
        assert worker.projector is not None
        assert worker.diffusion is not None
        store, feeds = worker.projector.store, worker.diffusion.feeds
        for _ in range(WAIT_STEPS):
            stored = [o for o in offers[:ACCEPTED] if await asyncio.to_thread(store.offer, o)]
            refused = {
                r.offer_id
                for r in await asyncio.to_thread(store.rejections, CONTRIBUTOR, 10_000)
                if r.offer_id in offers
            }
            ends = await ends_of(bootstrap, [REGIONAL_CHANGES])
            fed = await asyncio.to_thread(feeds.positions)
            if (
                len(stored) == ACCEPTED
                and len(refused) == REFUSED
                and all(fed.get(key, 0) >= end for key, (_, end) in ends.items())
            ):
                break
            await asyncio.sleep(0.2)
        else:
            pytest.fail("the worker did not judge, store and diffuse this test's contributions")
    await dead_letter(bootstrap, b"not avro", key=None)
    with SqlWebhookStore(settings.database_url) as hooks:
        hooks.set_webhook(DIFFUSER, "https://recv.example/hooks/sitn", "s3cret", delivered=START)
        hooks.record_failure(DIFFUSER, "HTTP 503 from the receiver", datetime.now(UTC), 1)
    return Stack(settings, group, started_at, datetime.now(UTC))


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Stack:
    """Built once for the module; the worker is stopped when the tests read it."""
    return asyncio.run(build_stack(kafka_bootstrap, tmp_path_factory.mktemp("status")))


@pytest.mark.kafka
def test_the_status_gives_what_the_store_the_feeds_and_the_topics_hold(
    stack: Stack, kafka_bootstrap: str
) -> None:
    now = stack.stopped_at
    window = now - stack.started_at + timedelta(seconds=1)

    with sql_sources(stack.settings) as sources:
        status = asyncio.run(gather_status(sources, now=now, throughput_window=window))
        counts = sources.store.counts()
        rejections = sources.store.rejection_counts(now - timedelta(hours=24))
        store_positions = sources.store.positions()
        feed_positions = sources.feeds.positions()
        head = sources.feeds.head(DIFFUSER)
        tails = sources.feeds.changes(DIFFUSER, head.back(1), OFFER_PARTITIONS)
        last = max(tails, key=lambda e: (e.change.occurred_at, e.partition))
    topics = asyncio.run(ends_of(kafka_bootstrap, [*PROJECTED_TOPICS, DEADLETTER]))
    committed = asyncio.run(committed_offsets(kafka_bootstrap, stack.group))
    recent = asyncio.run(regional_changes_since(kafka_bootstrap, now - window))
    marks = asyncio.run(read_redrive_marks(kafka_bootstrap))

    assert status.problems == ()
    assert {(c.offer_type, c.department, c.status): c.offers for c in status.store_counts} == counts
    assert status.offers == sum(counts.values()) >= ACCEPTED
    assert {r.contributor: r.rejections for r in status.rejections} == rejections
    assert rejections[CONTRIBUTOR] >= REFUSED
    first, end = topics[(DEADLETTER, 0)]
    assert status.dead_letters is not None
    assert (status.dead_letters.total, status.dead_letters.redriven) == (end - first, len(marks))
    assert status.throughput is not None
    assert status.throughput.regional_changes == recent >= ACCEPTED

    lags = {(lag.consumer, lag.source): lag for lag in status.lags}
    store_lag = lags[(STORE_CONSUMER, "database")]
    assert {(p.topic, p.partition) for p in store_lag.partitions} == {
        key for key in topics if key[0] in PROJECTED_TOPICS
    }
    for p in store_lag.partitions:
        position = store_positions.get((p.topic, p.partition))
        first, end = topics[(p.topic, p.partition)]
        assert (p.position, p.end, p.lag) == (position, end, end - max(position or 0, first))
    assert all(
        p.lag == 0 and p.position == feed_positions.get((p.topic, p.partition))
        for p in lags[(DIFFUSION_CONSUMER, "database")].partitions
        if p.topic == REGIONAL_CHANGES
    ), "the diffusion projector had caught up with the regional changes"
    group_lag = lags[(stack.group, "kafka")]
    ours = [p for p in group_lag.partitions if p.topic == contrib_topic(CONTRIBUTOR)]
    assert len(ours) == 6
    assert all(p.position == committed.get((p.topic, p.partition)) for p in ours)

    [diffuser] = [d for d in status.diffusers if d.diffuser_id == DIFFUSER]
    assert (diffuser.head, diffuser.last_offer_id, diffuser.last_version) == (
        head,
        last.change.offer_id,
        last.change.version,
    )
    assert diffuser.webhook is not None
    assert (diffuser.webhook.state, diffuser.webhook.failures, diffuser.webhook.backlog) == (
        "parked",
        1,
        head.total,
    )


@pytest.mark.kafka
def test_a_contribution_published_after_the_worker_stopped_shows_as_one_more_of_lag(
    stack: Stack, kafka_bootstrap: str
) -> None:
    def group_lag() -> dict[tuple[str, int], int]:
        with sql_sources(stack.settings) as sources:
            status = asyncio.run(gather_status(sources, groups=(stack.group,)))
        [lag] = [lag for lag in status.lags if lag.source == "kafka"]
        return {(p.topic, p.partition): p.lag for p in lag.partitions}

    before = group_lag()
    offer_id = f"HOTNOR014V-st-{uuid.uuid4().hex[:12]}"

    async def publish() -> tuple[str, int]:
        producer = make_producer(kafka_bootstrap)
        await producer.start()
        try:
            sent = await producer.send_and_wait(
                contrib_topic(CONTRIBUTOR),
                encode_contribution(creation(offer_id, DEAUVILLE, stack.stopped_at)),
                key=offer_id.encode(),
            )
        finally:
            await producer.stop()
        return sent.topic, sent.partition

    where = asyncio.run(publish())
    after = group_lag()

    assert after[where] == before[where] + 1
    assert {k: v for k, v in after.items() if k != where} == {
        k: v for k, v in before.items() if k != where
    }


@pytest.mark.kafka
def test_sitn_status_prints_every_section_on_one_screen(stack: Stack, kafka_bootstrap: str) -> None:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "SITN_HOME": str(stack.settings.home),
        "SITN_DATABASE_URL": stack.settings.database_url,
        "COLUMNS": "200",
    }

    result = CliRunner().invoke(app, ["status", "--group", stack.group], env=env)

    assert result.exit_code == 0, result.output
    assert f"state: {stack.settings.home} (SITN_HOME)" in result.stdout
    for section in ("throughput:", "dead letters:", "lag", "rejections since", "deliveries"):
        assert section in result.stdout
    assert stack.group in result.stdout
    assert f"{DIFFUSER}" in result.stdout
    assert "parked: HTTP 503 from the receiver" in result.stdout
    assert "store: offers by type and department" in result.stdout


OPERATOR_KEY = OperatorKey("operator-key-for-the-status-tests", "tests")


@pytest.fixture
def metrics_url(stack: Stack) -> Iterator[str]:
    """The feed API with /metrics over the stack's sources, served by uvicorn on a free port."""
    port = free_port()
    with sql_sources(stack.settings) as sources:
        config = uvicorn.Config(
            create_app(
                sources.feeds,
                sources.store,
                registry=FixedRegistry(Registry()),
                operator_key=OPERATOR_KEY,
                metrics=sources,
            ),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
        server = uvicorn.Server(config)
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),))
        thread.start()
        try:
            for _ in range(WAIT_STEPS):
                if server.started:
                    break
                threading.Event().wait(0.05)
            yield f"http://127.0.0.1:{port}/metrics"
        finally:
            server.should_exit = True
            thread.join(30)
            loop.close()


def scrape(url: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    bearer = {"Authorization": f"Bearer {OPERATOR_KEY.value}"}  # /metrics is the operators'
    request = urllib.request.Request(url, headers=bearer)  # noqa: S310 - our own http URL
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own http URL
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    return {
        family.name: {tuple(sorted(s.labels.items())): s.value for s in family.samples}
        for family in text_string_to_metric_families(text)
    }


@pytest.mark.kafka
def test_metrics_scraped_from_the_api_match_the_store_and_the_topics(
    stack: Stack, metrics_url: str, kafka_bootstrap: str
) -> None:
    before = datetime.now(UTC)
    metrics = scrape(metrics_url)
    after = datetime.now(UTC)

    with sql_sources(stack.settings) as sources:
        counts = sources.store.counts()
        rejections = sources.store.rejection_counts(before - timedelta(hours=24))
        store_positions = sources.store.positions()
        head = sources.feeds.head(DIFFUSER)
    topics = asyncio.run(ends_of(kafka_bootstrap, [*PROJECTED_TOPICS, DEADLETTER]))
    most = asyncio.run(regional_changes_since(kafka_bootstrap, before - timedelta(minutes=5)))
    least = asyncio.run(regional_changes_since(kafka_bootstrap, after - timedelta(minutes=5)))

    assert metrics["sitn_status_problems"] == {(): 0}
    assert metrics["sitn_store_offers"] == {
        (("department", d or ""), ("offer_type", t.value), ("status", s.value)): float(n)
        for (t, d, s), n in counts.items()
    }
    assert {dict(k)["contributor"]: v for k, v in metrics["sitn_rejections"].items()} == {
        contributor: float(n) for contributor, n in rejections.items()
    }
    first, end = topics[(DEADLETTER, 0)]
    assert metrics["sitn_dead_letters"] == {(): float(end - first)}
    store_lag = {
        (dict(k)["topic"], int(dict(k)["partition"])): v
        for k, v in metrics["sitn_consumer_lag"].items()
        if dict(k)["consumer"] == STORE_CONSUMER
    }
    assert store_lag == {
        key: float(end - max(store_positions.get(key, 0), first))
        for key, (first, end) in topics.items()
        if key[0] in PROJECTED_TOPICS
    }
    assert metrics["sitn_feed_head"][(("diffuser", DIFFUSER),)] == head.total
    assert metrics["sitn_webhook_parked"] == {(("diffuser", DIFFUSER),): 1.0}
    assert metrics["sitn_webhook_backlog"] == {(("diffuser", DIFFUSER),): float(head.total)}
    [(labels, recent)] = metrics["sitn_regional_changes_recent"].items()
    assert labels == (("window_seconds", "300"),)
    assert least <= recent <= most


async def test_without_a_broker_the_store_figures_are_given_and_the_gap_is_named(
    tmp_path: Path,
) -> None:
    store = InMemoryStore()
    store.apply([change("HOT-1", 1)], {})
    hooks = SqlWebhookStore(f"sqlite:///{tmp_path / 'hooks.db'}")
    hooks.migrate()
    unreachable = f"127.0.0.1:{free_port()}"
    try:
        status: HubStatus = await gather_status(
            StatusSources(unreachable, store, InMemoryFeedStore(), hooks), kafka_timeout=2
        )
    finally:
        hooks.close()

    assert status.offers == 1
    assert (status.lags, status.dead_letters, status.throughput) == ((), None, None)
    [problem] = status.problems
    assert unreachable in problem
    assert "lag, dead letters, throughput" in problem


async def test_a_time_without_offset_is_refused(tmp_path: Path) -> None:
    hooks = SqlWebhookStore(f"sqlite:///{tmp_path / 'hooks.db'}")
    try:
        with pytest.raises(ValueError, match="give a UTC offset"):
            await gather_status(
                StatusSources("127.0.0.1:1", InMemoryStore(), InMemoryFeedStore(), hooks),
                now=datetime(2026, 3, 1, 9, 0),  # noqa: DTZ001 - the mistake under test
            )
    finally:
        hooks.close()


@pytest.mark.kafka
async def test_transaction_markers_are_not_counted_as_lag(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic = f"sitn.test-status-{uuid.uuid4().hex[:8]}"
    group = f"sitn-test-status-{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap, [TopicSpec(topic)])
    producer = AIOKafkaProducer(
        **security_options(),
        bootstrap_servers=kafka_bootstrap,
        transactional_id=group,
        enable_idempotence=True,
    )
    await producer.start()
    try:
        async with producer.transaction():
            for n in range(2):
                await producer.send(topic, f"record {n}".encode(), key=b"k", partition=0)
    finally:
        await producer.stop()
    tp = TopicPartition(topic, 0)

    async def lag_after(committed: int) -> PartitionLag:
        consumer = make_consumer(kafka_bootstrap, group_id=group)
        await consumer.start()
        try:
            consumer.assign([tp])
            await consumer.commit({tp: committed})
        finally:
            await consumer.stop()
        status = await gather_status(
            StatusSources(kafka_bootstrap, InMemoryStore(), InMemoryFeedStore(), hooks),
            groups=(group,),
        )
        [lag] = [lag for lag in status.lags if lag.consumer == group]
        [partition] = lag.partitions
        return partition

    hooks = SqlWebhookStore(f"sqlite:///{tmp_path / 'hooks.db'}")
    hooks.migrate()
    try:
        read_all = await lag_after(2)  # offsets 0 and 1 are records, 2 the commit marker
        one_left = await lag_after(1)
    finally:
        hooks.close()

    assert (read_all.position, read_all.end, read_all.lag) == (2, 3, 0)
    assert (one_left.position, one_left.end, one_left.lag) == (1, 3, 1)
