"""One small composition root per stage: what each stage process builds and runs.

Each `run_<stage>(settings, stop, prefix)` builds the stage's adapters from the settings, runs the
stage until `stop` is set, and closes what it opened. Each imports its own stage's modules when it
runs, so a stage process loads only what it uses (the scheduler no database library, the store
no HTTP client): a start is that much shorter. `sitn worker --stage NAME` runs one in its
own process (`hub.stages.supervisor` runs them all); `hub.worker.Worker` runs them in one loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final

from hub.kafka_clients import ensure_topics
from hub.settings import Settings
from hub.stages.groups import DEFAULT_PREFIX, group_of
from hub.topics import contributor_topic_spec, hub_topics

if TYPE_CHECKING:
    from hub.registry.follower import RegistryFollower

__all__ = ["STAGES", "StageRoot", "following_registry", "prepare_stages"]

StageRoot = Callable[[Settings, asyncio.Event, str], Awaitable[None]]


async def following_registry(
    settings: Settings, stop: asyncio.Event
) -> tuple[RegistryFollower, asyncio.Task[None]]:
    """The hub's topics created, and a registry follower that has read `sitn.registry`."""
    from hub.registry.follower import RegistryFollower

    await ensure_topics(settings.bootstrap_servers, hub_topics())
    follower = RegistryFollower(settings.bootstrap_servers)
    task = asyncio.create_task(follower.run(stop), name="registry-follower")
    ready = asyncio.create_task(follower.ready.wait())
    await asyncio.wait([ready, task], return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        ready.cancel()
        task.result()
        raise RuntimeError("the registry follower stopped before it was ready")
    return follower, task


async def prepare_stages(settings: Settings) -> None:
    """What the stages share, made once before they start side by side: the hub's topics and
    the database's schema (concurrent migrations of one SQLite file would lock each other)."""
    from hub.store.sql import SqlStore

    await ensure_topics(settings.bootstrap_servers, hub_topics())
    store = SqlStore(settings.database_url)
    try:
        await asyncio.to_thread(store.migrate)
    finally:
        await asyncio.to_thread(store.close)


async def _alongside(work: Awaitable[None], follow: asyncio.Task[None]) -> None:
    """Run `work`; a failure of the registry follower stops the stage too."""
    job = asyncio.ensure_future(work)
    done, _ = await asyncio.wait([job, follow], return_when=asyncio.FIRST_COMPLETED)
    for task in done:
        task.result()
    await asyncio.gather(job, follow)


async def run_collection(settings: Settings, stop: asyncio.Event, prefix: str) -> None:
    from hub.collection.stage import CollectionStage
    from hub.reference import load_normandy_territory

    follower, follow = await following_registry(settings, stop)
    organisations = sorted(follower.registry.organisations)
    await ensure_topics(
        settings.bootstrap_servers, [contributor_topic_spec(org) for org in organisations]
    )
    territory = await asyncio.to_thread(load_normandy_territory)
    stage = CollectionStage(
        settings.bootstrap_servers,
        lambda: follower.registry,
        territory,
        group_id=group_of("collection", prefix),
        deadline_ms=settings.collection_deadline_ms,
    )
    await _alongside(stage.run(stop), follow)


async def run_store(settings: Settings, stop: asyncio.Event, prefix: str) -> None:
    from hub.store.sql import SqlStore
    from hub.store_projector import StoreProjector

    await ensure_topics(settings.bootstrap_servers, hub_topics())
    store = SqlStore(settings.database_url)
    try:
        await asyncio.to_thread(store.migrate)
        projector = StoreProjector(
            store,
            settings.bootstrap_servers,
            group_id=group_of("store", prefix),
            batch_ms=settings.batch_ms,
        )
        await projector.run(stop)
    finally:
        await asyncio.to_thread(store.close)


async def run_diffusion(settings: Settings, stop: asyncio.Event, prefix: str) -> None:
    from consumers.diffusion_projector import DiffusionProjector
    from consumers.feeds.sql import SqlFeedStore

    follower, follow = await following_registry(settings, stop)
    feeds = SqlFeedStore(settings.database_url)
    try:
        await asyncio.to_thread(feeds.migrate)
        projector = DiffusionProjector(
            feeds,
            settings.bootstrap_servers,
            lambda: follower.registry,
            group_id=group_of("diffusion", prefix),
            batch_ms=settings.batch_ms,
        )
        await _alongside(projector.run(stop), follow)
    finally:
        await asyncio.to_thread(feeds.close)


async def run_scheduler(settings: Settings, stop: asyncio.Event, prefix: str) -> None:
    from hub.scheduler import Scheduler

    follower, follow = await following_registry(settings, stop)
    scheduler = Scheduler(
        settings.bootstrap_servers,
        lambda: follower.registry,
        group_id=group_of("scheduler", prefix),
    )
    await _alongside(scheduler.run(stop), follow)


async def run_delivery(settings: Settings, stop: asyncio.Event, prefix: str) -> None:
    from consumers.feeds.sql import SqlFeedStore
    from consumers.webhooks import Destinations, SqlWebhookStore, WebhookDispatcher

    feeds = SqlFeedStore(settings.database_url)
    hooks = SqlWebhookStore(settings.database_url)
    try:
        await asyncio.to_thread(feeds.migrate)
        destinations = Destinations.allowing(settings.webhook_allow)
        await WebhookDispatcher(hooks, feeds, destinations=destinations).run(stop)
    finally:
        await asyncio.to_thread(hooks.close)
        await asyncio.to_thread(feeds.close)


STAGES: Final[dict[str, StageRoot]] = {
    "collection": run_collection,
    "store": run_store,
    "diffusion": run_diffusion,
    "scheduler": run_scheduler,
    "delivery": run_delivery,
}

DEFAULT: Final = DEFAULT_PREFIX
