"""The demo end to end: registry applied, generated offers published, the hub judging and storing.

Used by `sitn demo run` (what `make run` shows) and by the end-to-end tests. The steps: apply the
shipped Normandy registry to `sitn.registry`; start the worker in-process; publish the CDTs'
creations of the generated offers through the `Publisher`, wait until the hub has judged them, then
publish the follow-up changes (some built to be rejected by the principle, a convention or the
charte); wait until the store has caught up with everything the hub emitted.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hub.core.registry import Registry
from hub.core.territory import Territory
from hub.kafka_clients import ensure_topics, make_consumer, topic_partitions
from hub.registry.topic import apply_registry
from hub.topics import REGIONAL_CHANGES, REJECTIONS, contributor_topic_spec, hub_topics
from hub.worker import Worker
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


async def wait_until_stored(worker: Worker, judged_at_least: int, within: float = 300.0) -> None:
    """Wait until the hub judged that many contributions and the store holds all it emitted."""
    if worker.collection is None or worker.projector is None:
        raise RuntimeError("the worker is not running yet")
    deadline = time.monotonic() + within
    bootstrap = worker.settings.bootstrap_servers
    while time.monotonic() < deadline:
        if worker.stop is not None and worker.stop.is_set():
            raise RuntimeError(f"the worker stopped before catching up: {worker.summary()}")
        tally = worker.collection.totals()
        judged = (
            tally.accepted
            + tally.partially_rejected
            + tally.rejected
            + tally.no_effect
            + tally.dead_lettered
            + tally.customer_records
        )
        if judged >= judged_at_least:
            ends = await end_offsets(bootstrap, [REGIONAL_CHANGES, REJECTIONS])
            positions = await asyncio.to_thread(worker.projector.store.positions)
            if all(positions.get(key, 0) >= end for key, end in ends.items()):
                return
        await asyncio.sleep(0.3)
    raise TimeoutError(f"the hub did not catch up within {within:g}s: {worker.summary()}")


async def run_demo(
    worker: Worker,
    plan: DemoPlan,
    registry: Registry,
    territory: Territory,
    *,
    say: Say,
) -> DemoOutcome:
    """Publish the demo through a running `worker` and wait until it is stored."""
    bootstrap = worker.settings.bootstrap_servers
    offers = generate_offers(plan.offers, plan.seed, territory.values())
    created = creations(offers)
    changes = generate_changes(
        offers, plan.changes, plan.seed, invalid_ratio=plan.invalid_ratio, registry=registry
    )
    outcome = DemoOutcome()
    outcome.expected_rejections.update(
        c.expected_rejection.value for _, c in changes if c.expected_rejection is not None
    )
    state_dir = worker.settings.home / "publisher"
    say(f"publishing {len(created)} offers created by the five CDTs ...")
    await publish_stream(bootstrap, state_dir, created, territory, outcome)
    await wait_until_stored(worker, outcome.published)
    say(f"publishing {len(changes)} follow-up changes by CDTs, OTs, federators and the CRT ...")
    await publish_stream(bootstrap, state_dir, changes, territory, outcome)
    await wait_until_stored(worker, outcome.published)
    return outcome


async def prepare(bootstrap: str, registry: Registry) -> int:
    """Create the hub's and contributors' topics, apply `registry`; return entries changed."""
    await ensure_topics(bootstrap, hub_topics())
    await ensure_topics(
        bootstrap, [contributor_topic_spec(org) for org in sorted(registry.organisations)]
    )
    changes = await apply_registry(bootstrap, registry)
    return len(changes.events)
