"""Every stage of the hub in one asyncio program (the in-process composition root).

`sitn worker` runs each stage in its own process (`hub.stages`); this runs them all as tasks of
one event loop, for the demo, the tests and benchmarks that read the stages' tallies. Start-up:
create the hub's topics and the registered contributors' topics, fold `sitn.registry` into the
registry in force, migrate the store; then these run until asked to stop:
- the collection stage (`hub.collection.stage`): contributor topics in, regional changes,
  rejections, dead letters and customer data out, each batch's outputs, ledger and offsets in one
  Kafka transaction;
- the registry follower, which keeps the registry in force up to date for every stage;
- the store projector (`hub.store_projector`): rows and positions in one database transaction;
- the diffusion projector (`consumers.diffusion_projector`): feed entries and positions likewise;
- the webhook dispatcher (`consumers.webhooks.dispatcher`): each feed entry POSTed, signed, in
  order;
- the diffusion scheduler (`hub.scheduler`): a tick on `sitn.diffusion.ticks` when the wall clock
  passes an offer's diffusion boundary, so time-driven changes are events replays reproduce.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from consumers.diffusion_projector import DiffusionProjector
from consumers.feeds.sql import SqlFeedStore
from consumers.webhooks import Destinations, SqlWebhookStore, WebhookDispatcher
from hub.collection.stage import CollectionStage
from hub.core.collection import OfferState
from hub.kafka_clients import ensure_topics
from hub.reference import load_normandy_territory
from hub.registry.follower import RegistryFollower
from hub.scheduler import Scheduler
from hub.settings import Settings
from hub.stages.groups import DEFAULT_PREFIX, group_of
from hub.store.sql import SqlStore
from hub.store_projector import StoreProjector
from hub.topics import contributor_topic_spec, hub_topics

log = logging.getLogger("sitn.worker")


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return


async def _first(awaitable: Any, task: asyncio.Task[None]) -> None:
    """Wait for `awaitable`, unless `task` fails first (then raise its error)."""
    waiter = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait([waiter, task], return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        waiter.cancel()
        task.result()
        raise RuntimeError(f"{task.get_name()} stopped before it was ready")


@dataclass
class Worker:
    """The running hub; `stop` ends it cleanly."""

    settings: Settings
    app_id: str = DEFAULT_PREFIX  # prefix of every stage's consumer group (`hub.stages.groups`)
    collection: CollectionStage | None = None
    projector: StoreProjector | None = None
    diffusion: DiffusionProjector | None = None
    scheduler: Scheduler | None = None
    webhooks: WebhookDispatcher | None = None
    stop: asyncio.Event | None = None

    async def run(self, *, on_ready: Callable[[Worker], None] | None = None) -> None:
        bootstrap = self.settings.bootstrap_servers
        self.stop = self.stop or asyncio.Event()
        await ensure_topics(bootstrap, hub_topics())
        follower = RegistryFollower(bootstrap)
        follow = asyncio.create_task(follower.run(self.stop), name="registry-follower")
        await _first(follower.ready.wait(), follow)
        registry = follower.registry
        await ensure_topics(
            bootstrap, [contributor_topic_spec(org) for org in sorted(registry.organisations)]
        )
        territory = await asyncio.to_thread(load_normandy_territory)
        self.collection = CollectionStage(
            bootstrap,
            lambda: follower.registry,
            territory,
            group_id=group_of("collection", self.app_id),
            deadline_ms=self.settings.collection_deadline_ms,
        )
        store = SqlStore(self.settings.database_url)
        await asyncio.to_thread(store.migrate)
        self.projector = StoreProjector(
            store,
            bootstrap,
            group_id=group_of("store", self.app_id),
            batch_ms=self.settings.batch_ms,
        )
        feeds = SqlFeedStore(self.settings.database_url)  # same database, migrated above
        self.diffusion = DiffusionProjector(
            feeds,
            bootstrap,
            lambda: follower.registry,
            group_id=group_of("diffusion", self.app_id),
            batch_ms=self.settings.batch_ms,
        )
        self.scheduler = Scheduler(
            bootstrap, lambda: follower.registry, group_id=group_of("scheduler", self.app_id)
        )
        hooks = SqlWebhookStore(self.settings.database_url)  # same database, migrated above
        self.webhooks = WebhookDispatcher(
            hooks, feeds, destinations=Destinations.allowing(self.settings.webhook_allow)
        )
        tasks = [
            follow,
            asyncio.create_task(self.collection.run(self.stop), name="collection"),
            asyncio.create_task(self.projector.run(self.stop), name="store-projector"),
            asyncio.create_task(self.diffusion.run(self.stop), name="diffusion-projector"),
            asyncio.create_task(self.scheduler.run(self.stop), name="diffusion-scheduler"),
            asyncio.create_task(self.webhooks.run(self.stop), name="webhook-dispatcher"),
            asyncio.create_task(self._report(self.stop), name="reporter"),
        ]
        try:
            await _first(self.collection.ready.wait(), tasks[1])
            if on_ready is not None:
                on_ready(self)
            stopper = asyncio.create_task(self.stop.wait())
            done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopper and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            self.stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.to_thread(store.close)
            await asyncio.to_thread(feeds.close)
            await asyncio.to_thread(hooks.close)

    async def _report(self, stop: asyncio.Event, every: float = 10.0) -> None:
        """Log what was judged and stored since the last report, for operators."""
        last = ""
        while not stop.is_set():
            await _sleep_or_stop(stop, every)
            line = self.summary()
            if line != last:
                log.info("%s", line)
                last = line

    def offer_state(self, offer_id: str) -> OfferState | None:
        """The collection rules' state of an offer, from whichever task of this worker holds it."""
        for task in self.collection.tasks.values() if self.collection else ():
            if offer_id in task.processor.entries:
                return task.processor.entry(offer_id).state
        return None

    def summary(self) -> str:
        judged = self.collection.totals() if self.collection else None
        stored = self.projector.tally if self.projector else None
        if judged is None or stored is None:
            return "starting"
        return (
            f"judged: {judged.accepted} accepted, {judged.partially_rejected} partly rejected, "
            f"{judged.rejected} rejected, {judged.no_effect} without effect, "
            f"{judged.dead_lettered} dead-lettered, {judged.customer_records} customer records, "
            f"{judged.waiting} waited for their offer's creation; "
            f"stored: {stored.changes} changes, {stored.rejections} rejections"
            + (
                f"; diffused: {self.diffusion.tally.entries} feed entries"
                if self.diffusion is not None
                else ""
            )
        )
