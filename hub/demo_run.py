"""The demo end to end: registry applied, generated offers published, the hub judging and storing.

Used by `sitn demo run` (what `make run` shows) and by the end-to-end tests. The steps: apply the
shipped Normandy registry to `sitn.registry`; publish the CDTs' creations of the generated offers
through the `Publisher` to the hub's stages (running in their own processes, or in one
`hub.worker.Worker`), wait until the collection stage has committed every contributor topic to its
end and the store holds what it emitted, then publish the follow-up changes (some built to be
rejected by the principle, a convention or the charte) and wait again.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka.errors import KafkaError

from hub.core.registry import Registry
from hub.core.territory import Territory
from hub.kafka_clients import ensure_topics, make_admin, make_consumer, topic_partitions
from hub.registry.topic import apply_registry
from hub.settings import Settings
from hub.stages.groups import DEFAULT_PREFIX, group_of
from hub.store.sql import SqlStore
from hub.topics import (
    CONTRIB_PREFIX,
    REGIONAL_CHANGES,
    REJECTIONS,
    contributor_topic_spec,
    hub_topics,
)
from producers.demo import DemoChange, as_change, creations, generate_changes, generate_offers
from producers.publisher import Publisher, PublishReport

Say = Callable[[str], None]


@dataclass(frozen=True)
class DemoPlan:
    offers: int = 400
    changes: int = 600
    seed: int = 7
    invalid_ratio: float = 0.08


@dataclass
class DemoOutcome:
    published: int = 0
    refused_by_publisher: int = 0
    reports: dict[str, PublishReport] = field(default_factory=dict)
    expected_rejections: Counter[str] = field(default_factory=Counter)


def by_contributor(stream: Sequence[tuple[str, DemoChange]]) -> dict[str, list[DemoChange]]:
    grouped: dict[str, list[DemoChange]] = {}
    for contributor, change in stream:
        grouped.setdefault(contributor, []).append(change)
    return grouped


async def publish_stream(
    bootstrap: str,
    state_dir: Path,
    stream: Sequence[tuple[str, DemoChange]],
    territory: Territory,
    outcome: DemoOutcome,
) -> None:
    for contributor, changes in sorted(by_contributor(stream).items()):
        publisher = Publisher(
            bootstrap=bootstrap,
            contributor=contributor,
            state_dir=state_dir,
            territory=territory,
        )
        report = await publisher.publish([as_change(c) for c in changes], skip_invalid=True)
        if report.error is not None:
            raise RuntimeError(f"publishing the demo as {contributor} failed: {report.error}")
        outcome.reports[contributor] = report
        outcome.published += len(report.sent)
        outcome.refused_by_publisher += len(report.refused)


async def end_offsets(bootstrap: str, topics: Sequence[str]) -> dict[tuple[str, int], int]:
    consumer = make_consumer(bootstrap, group_id=None, client_id="sitn-demo")
    await consumer.start()
    try:
        ends = await consumer.end_offsets(await topic_partitions(bootstrap, topics))
        return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def caught_up(settings: Settings, prefix: str = DEFAULT_PREFIX) -> bool:
    """Whether the collection stage committed every contributor topic to its end and the store
    holds everything the stage emitted (both counting transaction markers)."""
    bootstrap = settings.bootstrap_servers
    contributors = await contributor_topics(bootstrap)
    ends = await end_offsets(bootstrap, contributors) if contributors else {}
    done = await committed_offsets(bootstrap, group_of("collection", prefix))
    if any(done.get(key, 0) < end for key, end in ends.items()):
        return False
    outputs = await end_offsets(bootstrap, [REGIONAL_CHANGES, REJECTIONS])
    store = SqlStore(settings.database_url)
    try:
        positions = await asyncio.to_thread(store.positions)
    finally:
        await asyncio.to_thread(store.close)
    return all(positions.get(key, 0) >= end for key, end in outputs.items())


async def wait_until_stored(
    settings: Settings, prefix: str = DEFAULT_PREFIX, within: float = 300.0
) -> None:
    """Wait until the hub has judged everything published and stored all it emitted."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await caught_up(settings, prefix):
            return
        await asyncio.sleep(0.3)
    raise TimeoutError(
        f"the hub did not catch up within {within:g}s; `sitn status` shows each stage's lag"
    )


async def run_demo(
    settings: Settings,
    plan: DemoPlan,
    registry: Registry,
    territory: Territory,
    *,
    say: Say,
    prefix: str = DEFAULT_PREFIX,
) -> DemoOutcome:
    """Publish the demo to the hub running on `settings` (its stages' groups named by `prefix`)
    and wait until it is judged and stored."""
    bootstrap = settings.bootstrap_servers
    offers = generate_offers(plan.offers, plan.seed, territory.values())
    created = creations(offers)
    changes = generate_changes(
        offers, plan.changes, plan.seed, invalid_ratio=plan.invalid_ratio, registry=registry
    )
    outcome = DemoOutcome()
    outcome.expected_rejections.update(
        c.expected_rejection.value for _, c in changes if c.expected_rejection is not None
    )
    state_dir = settings.home / "publisher"
    say(f"publishing {len(created)} offers created by the five CDTs ...")
    await publish_stream(bootstrap, state_dir, created, territory, outcome)
    await wait_until_stored(settings, prefix)
    say(f"publishing {len(changes)} follow-up changes by CDTs, OTs, federators and the CRT ...")
    await publish_stream(bootstrap, state_dir, changes, territory, outcome)
    await wait_until_stored(settings, prefix)
    return outcome


async def prepare(bootstrap: str, registry: Registry) -> int:
    """Create the hub's and contributors' topics, apply `registry`; return entries changed."""
    await ensure_topics(bootstrap, hub_topics())
    await ensure_topics(
        bootstrap, [contributor_topic_spec(org) for org in sorted(registry.organisations)]
    )
    changes = await apply_registry(bootstrap, registry)
    return len(changes.events)


async def contributor_topics(bootstrap: str) -> list[str]:
    admin = make_admin(bootstrap, client_id="sitn-demo")
    await admin.start()
    try:
        return sorted(t for t in await admin.list_topics() if t.startswith(CONTRIB_PREFIX))
    finally:
        await admin.close()


async def committed_offsets(bootstrap: str, group: str) -> dict[tuple[str, int], int]:
    """What `group` committed, per partition (nothing while its coordinator is not up)."""
    admin = make_admin(bootstrap, client_id="sitn-demo")
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    except KafkaError:
        return {}
    finally:
        await admin.close()
    return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}
