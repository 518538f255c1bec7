"""Publishers -> real broker -> worker -> a diffuser's feed -> its webhook on a local HTTP server.

A small demo is published through the running worker; the regional board's site has a webhook
on an aiohttp server in this process. Every entry of its feed must arrive there once, in feed
order (each partition's entries in theirs), signed with the secret the webhook was given, as a
thin notification of that entry.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from consumers.feeds import new_key
from consumers.feeds.cursor import START
from consumers.feeds.sql import SqlFeedStore
from consumers.webhooks import SqlWebhookStore
from hub.cli.demo_run import DEMO_DIFFUSER
from hub.demo_run import DemoPlan, end_offsets, prepare, run_demo
from hub.reference import load_normandy_territory
from hub.registry.format import load_normandy_registry
from hub.settings import Settings
from hub.topics import OFFER_PARTITIONS, REGIONAL_CHANGES
from hub.worker import Worker
from tests.support.webhook_receiver import RECEIVER_ALLOW, Receiver, eventually


@dataclass(frozen=True)
class _Numbered:
    partition: int
    seq: int


pytestmark = pytest.mark.kafka

PLAN = DemoPlan(offers=20, changes=20, seed=5, invalid_ratio=0.1)

# The session's broker may already hold much regional history for the worker to go through.
CATCH_UP_GUARD_SECONDS = 300.0


async def test_the_worker_notifies_a_diffusers_webhook_of_every_feed_entry_in_order(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    registry = load_normandy_registry()
    await prepare(kafka_bootstrap, registry)
    database_url = f"sqlite:///{tmp_path / 'hub.db'}"
    settings = Settings.from_env(
        {
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "SITN_HOME": str(tmp_path),
            "SITN_DATABASE_URL": database_url,
            # The receiver listens on the loopback, which the hub refuses unless allow-listed.
            "SITN_WEBHOOK_ALLOW": RECEIVER_ALLOW,
        }
    )
    secret = new_key()
    receiver = Receiver(secret)
    await receiver.start()
    hooks = SqlWebhookStore(database_url)
    feeds = SqlFeedStore(database_url)
    worker = Worker(settings, app_id=f"sitn-hub-webhooks-{tmp_path.name}")
    ready = asyncio.Event()
    task = asyncio.create_task(worker.run(on_ready=lambda _: ready.set()))
    try:
        await eventually(
            lambda: ready.is_set() or task.done(), "the worker's start", CATCH_UP_GUARD_SECONDS
        )
        if task.done():
            task.result()
        # The worker has migrated the store; the webhook takes the feed from its first entry.
        await asyncio.to_thread(hooks.set_webhook, DEMO_DIFFUSER, receiver.url, secret, START)

        await run_demo(
            worker.settings,
            PLAN,
            registry,
            load_normandy_territory(),
            say=lambda _: None,
            prefix=worker.app_id,
        )
        ends = await end_offsets(kafka_bootstrap, [REGIONAL_CHANGES])

        async def diffused() -> bool:
            positions = await asyncio.to_thread(feeds.positions)
            return all(positions.get(key, 0) >= end for key, end in ends.items())

        await eventually(
            diffused,
            "the feeds caught up with the regional history",
            CATCH_UP_GUARD_SECONDS,
        )
        head = await asyncio.to_thread(feeds.head, DEMO_DIFFUSER)

        async def delivered() -> bool:
            # The scheduler may append time-driven entries after `head` was read: at least.
            hook = await asyncio.to_thread(hooks.webhook, DEMO_DIFFUSER)
            return hook is not None and not head.ahead_of(hook.delivered)

        await eventually(delivered, "every notification acknowledged", CATCH_UP_GUARD_SECONDS)
    finally:
        assert worker.stop is not None
        worker.stop.set()
        await asyncio.wait_for(task, 60)
        await receiver.stop()
        feeds.close()
        hooks.close()

    assert head != START, "the regional board's site receives the published offers"
    acknowledged = START.past(
        _Numbered(partition, seq) for partition, seq in receiver.acknowledged_on
    )
    assert not head.ahead_of(acknowledged)
    entries = await asyncio.to_thread(feeds.changes, DEMO_DIFFUSER, START, acknowledged.total)
    assert len(entries) == acknowledged.total
    assert all(r.signed_by_secret for r in receiver.requests)
    bodies = [json.loads(r.body) for r in receiver.requests]
    # Each partition's entries arrive once each and in its order (the partitions interleave).
    for partition in range(OFFER_PARTITIONS):
        assert [seq for p, seq in receiver.acknowledged_on if p == partition] == list(
            range(1, acknowledged.of(partition) + 1)
        )
        assert [
            (b["offer_id"], b["version"], b["kind"]) for b in bodies if b["partition"] == partition
        ] == [
            (e.change.offer_id, e.change.version, e.change.kind.value)
            for e in entries
            if e.partition == partition
        ]
