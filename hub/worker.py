"""`sitn worker`: the hub's processes in one asyncio program (composition root).

Start-up, in order: create the hub's topics; fold `sitn.registry` into the registry in force;
restore the collection rules' per-offer state from `sitn.regional.changes`; migrate the store.
Then six loops run until asked to stop:
- the collection agent (faust-streaming, raw bytes) over each registered contributor's topic: each
  record goes through `CollectionProcessor` and its outputs are produced in order; faust flushes
  its producer (acks=all) before committing offsets, so an offset is committed only once the
  outcome of its record is durable;
- the registry follower, which keeps the processor's registry up to date;
- the store projector (`hub.store_projector`), which writes rows and positions in one transaction;
- the diffusion projector (`hub.diffusion_projector`), which fans each regional change out to the
  diffusers' feeds, entries and positions in one transaction;
- the webhook dispatcher (`hub.webhooks.dispatcher`), which POSTs each feed entry, signed, to the
  diffuser's webhook, in order, with retries;
- the diffusion scheduler (`hub.scheduler`), which publishes a tick on `sitn.diffusion.ticks` when
  the wall clock passes an offer's diffusion boundary (rights, event dates, conventions), so
  time-driven changes reach the feeds as events that replays reproduce.
A redelivered contribution meets a state that already holds its effect, so it has none.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hub.codec import DecodeError
from hub.collection_processor import CollectionProcessor, Inbound
from hub.core.regional import RegionalChange
from hub.diffusion_projector import DiffusionProjector
from hub.faust_app import make_app, raw_topic
from hub.feeds.sql import SqlFeedStore
from hub.kafka_clients import ensure_topics, make_consumer, topic_partitions
from hub.reference import load_normandy_territory
from hub.registry.follower import RegistryFollower
from hub.scheduler import Scheduler
from hub.settings import Settings
from hub.store.sql import SqlStore
from hub.store_projector import StoreProjector, decode_regional_change
from hub.topics import REGIONAL_CHANGES, contrib_topic, contributor_topic_spec, hub_topics
from hub.webhooks import SqlWebhookStore, WebhookDispatcher

log = logging.getLogger("sitn.worker")


async def read_regional_history(bootstrap: str) -> list[RegionalChange]:
    """Every change on `sitn.regional.changes` up to its current end."""
    consumer = make_consumer(bootstrap, group_id=None, client_id="sitn-restore")
    await consumer.start()
    try:
        partitions = await topic_partitions(bootstrap, [REGIONAL_CHANGES])
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        changes: list[RegionalChange] = []
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000, max_records=10000)
            for tp, records in batch.items():
                for record in records:
                    try:
                        changes.append(decode_regional_change(record.value))
                    except DecodeError as error:
                        log.error("regional change %s@%d skipped: %s", tp, record.offset, error)
                if records and records[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
        return changes
    finally:
        await consumer.stop()


async def _watch(app: Any, stop: asyncio.Event) -> None:
    """Turn a crash inside faust (which it only logs) into an error of the worker."""
    while not stop.is_set():
        if app.crashed:
            raise RuntimeError(f"the collection agent crashed: {app.crash_reason!r}")
        await _sleep_or_stop(stop, 0.5)


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
    app_id: str = "sitn-hub"  # the faust app, hence the consumer group of the collection agent
    processor: CollectionProcessor | None = None
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
        self.processor = processor = CollectionProcessor(registry, territory)
        history = await read_regional_history(bootstrap)
        processor.restore(history)
        log.info(
            "registry: %d organisations; state restored for %d offers from %d regional changes",
            len(registry.organisations),
            len(processor.states),
            len(history),
        )
        store = SqlStore(self.settings.database_url)
        await asyncio.to_thread(store.migrate)
        self.projector = StoreProjector(store, bootstrap)
        feeds = SqlFeedStore(self.settings.database_url)  # same database, migrated above
        self.diffusion = DiffusionProjector(feeds, bootstrap, lambda: follower.registry)
        self.scheduler = Scheduler(bootstrap, lambda: follower.registry)
        hooks = SqlWebhookStore(self.settings.database_url)  # same database, migrated above
        self.webhooks = WebhookDispatcher(hooks, feeds)

        app = make_app(self.app_id, bootstrap)
        # One topic per registered organisation. faust-streaming cannot subscribe by pattern with
        # aiokafka, so an organisation registered later is consumed after the worker restarts.
        contributors = sorted(registry.organisations)
        source = app.topic(
            *(contrib_topic(org) for org in contributors), key_type=bytes, value_type=bytes
        )
        sinks: dict[str, Any] = {}

        def sink(name: str) -> Any:
            if name not in sinks:
                sinks[name] = raw_topic(app, name)
            return sinks[name]

        @app.agent(source, name="sitn.collection")
        async def collect(stream: Any) -> None:
            async for event in stream.events():
                message = event.message
                processor.registry = follower.registry
                outputs = processor.process(
                    Inbound(
                        topic=message.topic,
                        partition=message.partition,
                        offset=message.offset,
                        timestamp_ms=int(message.timestamp * 1000),
                        key=message.key,
                        value=message.value,
                    )
                )
                # faust flushes its producer (acks=all) before it commits an offset, so an
                # input's offset is committed only once its outputs are durable. Between the
                # outputs of one input, the earlier ones must be durable before the next is sent:
                # a partial rejection before the change that would make its replay a no-op.
                for position, out in enumerate(outputs, start=1):
                    delivery = await sink(out.topic).send(key=out.key, value=out.value)
                    if position < len(outputs):
                        await delivery

        tasks = [
            follow,
            asyncio.create_task(self.projector.run(self.stop), name="store-projector"),
            asyncio.create_task(self.diffusion.run(self.stop), name="diffusion-projector"),
            asyncio.create_task(self.scheduler.run(self.stop), name="diffusion-scheduler"),
            asyncio.create_task(self.webhooks.run(self.stop), name="webhook-dispatcher"),
            asyncio.create_task(self._report(self.stop), name="reporter"),
            asyncio.create_task(_watch(app, self.stop), name="faust-watchdog"),
        ]
        await app.start()
        if on_ready is not None:
            on_ready(self)
        try:
            stopper = asyncio.create_task(self.stop.wait())
            done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopper and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            self.stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            await app.stop()
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

    def summary(self) -> str:
        judged = self.processor.tally if self.processor else None
        stored = self.projector.tally if self.projector else None
        if judged is None or stored is None:
            return "starting"
        return (
            f"judged: {judged.accepted} accepted, {judged.partially_rejected} partly rejected, "
            f"{judged.rejected} rejected, {judged.no_effect} without effect, "
            f"{judged.dead_lettered} dead-lettered, {judged.customer_records} customer records; "
            f"stored: {stored.changes} changes, {stored.rejections} rejections"
            + (
                f"; diffused: {self.diffusion.tally.entries} feed entries"
                if self.diffusion is not None
                else ""
            )
        )
