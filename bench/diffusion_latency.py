"""End-to-end diffusion latency (publish -> visible in a feed) at a steady rate; the fan-out rate.

On a broker whose hub topics are empty (its own `LocalBroker` on free ports in a temporary folder,
or KAFKA_BOOTSTRAP_SERVERS if set, then refusing topics that already hold records, as
`bench.hub_throughput` does):

1. applies a registry made of the shipped Normandy registry plus synthetic diffusers up to
   `--diffusers` in total (`bench-diffuser-NNN`, classes spread over institutional, partner and
   other, seeded diffusion conventions of varied types, departments, field groups and languages,
   all in force), checked by the registry file parser, with `apply_registry`;
2. starts the hub on a fresh SQLite store in the temporary folder: `sitn worker`, every stage its
   own process as an operator runs it (`bench.latency_hub.StageProcesses`, progress read from the
   collection group's committed offsets and the database), or with `--in-process` every stage in
   this process (`hub.worker.Worker`, progress read from its tallies);
3. publishes the offers' creations (`--offers`) and waits until they are judged, stored and
   diffused (not measured, only shown);
4. publishes `--rate` x `--seconds` follow-up changes (5 % built to be rejected), encoded
   beforehand, at a steady pace with an idempotent producer in a child process (so the pace does
   not depend on the hub's event loop or its hold on the GIL), each send time noted on the
   system-wide monotonic clock; meanwhile a thread polls the feeds of the watched diffusers
   (site-crt-normandie and synthetic diffusers that receive every type, department, public field
   group and language) on the same SQLite file, read-only, and notes when each entry
   (offer, version, entry time) first shows in each of their feeds; the hub's progress is
   sampled;
5. waits until the hub has caught up (contributions judged, regional changes and the scheduler's
   ticks diffused, everything stored), reads `sitn.regional.changes` to map each sent
   contribution (its event id) to the regional change it caused, and reports latency = first
   visible - sent for the changes that produced an entry in a watched feed: the entry with the
   change's offer, version and time (an entry a scheduler's tick causes keeps the version but
   carries the tick's time, so it is never taken for the change's). Rejected changes and changes
   outside the watched views produce none and are counted apart. Latencies are shown overall and
   per 10-second window of send time, with the publish rate achieved, the judged and fan-out
   rates (feed entries appended per second over all diffusers, ticks' entries included) and
   the backlog when the last change was sent.

The hub runs everything it runs in production, the scheduler included: it reads the wall clock,
and the demo's offers are dated from 2026-01-01, so boundaries already passed (events over, media
rights ended) make it tick, and those ticks are diffused too.

A visible time is the start of the poll that first saw the entry, so a latency overstates the true
one by at most the gap between two polls (shown). Prints only; asserts nothing about time.
Usage: `python -m bench.diffusion_latency [--rate 200] [--diffusers 100] [--seconds 60]
[--offers N] [--watch K] [--seed S] [--in-process]`.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import itertools
import logging
import math
import multiprocessing
import os
import random
import secrets
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from aiokafka import TopicPartition
from sqlalchemy import and_, func, or_, select

from bench.hub_throughput import OUTPUT_TOPICS, refuse_written_topics
from bench.latency_hub import (
    Hub,
    InProcess,
    RecordCount,
    Sample,
    StageProcesses,
    read_only_engine,
)
from hub.broker import LocalBroker
from hub.codec import encode_contribution
from hub.core.offer import LANGUAGES, PRIVATE_GROUPS, DiffuserClass, FieldGroup, OfferType
from hub.core.registry import Diffuser, DiffusionConvention, OrgKind, Registry, Validity
from hub.core.registry_events import RegistryValue, registry_of, registry_values
from hub.demo_run import prepare
from hub.kafka_clients import make_consumer, make_producer, topic_partitions
from hub.reference import load_normandy_territory
from hub.registry.format import load_normandy_registry, parse_registry, registry_to_toml
from hub.registry.topic import read_registry_topic
from hub.settings import Settings
from hub.store.schema import feed_entries
from hub.topic_reader import read_prefix_records
from hub.topics import (
    DIFFUSION_TICKS,
    OFFER_PARTITIONS,
    REGIONAL_CHANGES,
    REJECTIONS,
    contrib_topic,
)
from hub.wire import decode_regional_change
from producers.demo import (
    DemoChange,
    as_contribution,
    creations,
    generate_changes,
    generate_offers,
)
from tests.conftest import broker_login, make_test_broker

# The shipped diffuser whose convention covers every type, department, public group and language.
WATCHED_SHIPPED = ("site-crt-normandie",)
DEPARTMENTS = ("14", "27", "50", "61", "76")
PUBLIC_GROUPS = tuple(group for group in FieldGroup if group not in PRIVATE_GROUPS)
CLASSES = (DiffuserClass.INSTITUTIONAL, DiffuserClass.PARTNER, DiffuserClass.OTHER)
IN_FORCE_FROM = date(2025, 1, 1)  # before the demo's epoch: every synthetic convention applies
WINDOW = 10.0  # seconds of send time per row of the per-window table
POLL_PAUSE = 0.01  # seconds between two polls of the watched feeds
POLL_LIMIT = 5_000  # rows per poll query
SAMPLE_EVERY = 0.5  # seconds between two samples of the worker's tallies
# Seconds the hub may take to catch up before the run is declared stuck: generous, because with
# many diffusers it may fall far behind (that is what the benchmark is there to show).
SETTLE_MIN = 900.0
SETTLE_PER_RECORD = 0.5
# Seconds with nothing waiting after which no tick is still to come (the scheduler polls every 1 s).
SCHEDULER_QUIET = 2.0
SEND_CHUNK = 2_000


def clock() -> float:
    """The system-wide monotonic clock, comparable between the publisher process and this one."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


# ---------------------------------------------------------------- the registry


def synthetic_entries(
    base: Registry, count: int, watch: int, seed: int
) -> tuple[list[RegistryValue], list[str]]:
    """`count` synthetic diffusers with their conventions; the first `watch` receive everything.

    Returns the entries and the ids of the diffusers that receive everything.
    """
    rng = random.Random(seed)
    owners = sorted(
        org.org_id for org in base.organisations.values() if org.kind is not OrgKind.FEDERATOR
    )
    entries: list[RegistryValue] = []
    watched: list[str] = []
    for number in range(1, count + 1):
        diffuser_id = f"bench-diffuser-{number:03d}"
        klass = CLASSES[(number - 1) % len(CLASSES)]
        # An institutional diffuser is an organisation's own site: reuse the network's members.
        org = owners[(number - 1) % len(owners)] if klass is DiffuserClass.INSTITUTIONAL else None
        entries.append(Diffuser(diffuser_id, f"Bench diffuser {number:03d}", klass, org))
        if number <= watch:
            watched.append(diffuser_id)
            entries.append(
                DiffusionConvention(
                    f"dc-{diffuser_id}",
                    diffuser_id,
                    "Benchmark: everything public, everywhere",
                    offer_types=(),
                    departments=(),
                    field_groups=PUBLIC_GROUPS,
                    languages=LANGUAGES,
                    formats=("json", "jsonld"),
                    validity=Validity(IN_FORCE_FROM),
                )
            )
            continue
        # One convention, sometimes two (the view is then the union of those covering an offer).
        for suffix in ("a", "b") if rng.random() < 0.2 else ("a",):
            entries.append(_random_convention(rng, diffuser_id, f"dc-{diffuser_id}-{suffix}"))
    return entries, watched


def _random_convention(
    rng: random.Random, diffuser_id: str, convention_id: str
) -> DiffusionConvention:
    types: tuple[OfferType, ...] = ()
    if rng.random() < 0.6:
        picked = set(rng.sample(list(OfferType), rng.randint(1, 6)))
        types = tuple(t for t in OfferType if t in picked)
    departments: tuple[str, ...] = ()
    if rng.random() < 0.5:
        chosen = set(rng.sample(DEPARTMENTS, rng.randint(1, 3)))
        departments = tuple(d for d in DEPARTMENTS if d in chosen)
    extra = set(rng.sample(PUBLIC_GROUPS[3:], rng.randint(2, len(PUBLIC_GROUPS) - 3)))
    groups = tuple(g for g in PUBLIC_GROUPS if g in extra or g in PUBLIC_GROUPS[:3])
    spoken = {"fr", *rng.sample(LANGUAGES[1:], rng.randint(0, len(LANGUAGES) - 1))}
    return DiffusionConvention(
        convention_id,
        diffuser_id,
        "Benchmark: a synthetic diffuser's selection",
        offer_types=types,
        departments=departments,
        field_groups=groups,
        languages=tuple(lang for lang in LANGUAGES if lang in spoken),
        formats=("json",) if rng.random() < 0.7 else ("json", "jsonld"),
        validity=Validity(IN_FORCE_FROM),
    )


def bench_registry(total: int, watch: int, seed: int) -> tuple[Registry, tuple[str, ...]]:
    """The Normandy registry with diffusers up to `total`; and the diffusers to watch."""
    base = load_normandy_registry()
    missing = total - len(base.diffusers)
    if missing < watch:
        raise SystemExit(
            f"--diffusers {total}: the Normandy registry already has {len(base.diffusers)} "
            f"diffusers; give at least {len(base.diffusers) + watch} to add {watch} watched ones"
        )
    extra, watched = synthetic_entries(base, missing, watch, seed)
    registry = registry_of([*registry_values(base), *extra])
    # The file parser checks what the wire decoder does not (references, institutional orgs).
    parsed = parse_registry(registry_to_toml(registry), "bench registry")
    if isinstance(parsed, tuple):
        raise SystemExit("the synthetic registry is invalid:\n" + "\n".join(map(str, parsed)))
    assert parsed == registry, "the synthetic registry does not survive its own file format"
    return registry, (*WATCHED_SHIPPED, *watched)


# ---------------------------------------------------------------- the workload


@dataclass(frozen=True)
class Record:
    """One encoded contribution, ready to send, with what maps it to its regional change."""

    topic: str
    key: bytes
    value: bytes
    event_id: str
    offer_id: str


@dataclass(frozen=True)
class Workload:
    """The creations (sent first, not measured) and the follow-up changes (paced, measured)."""

    creations: list[Record]
    follow_ups: list[Record]
    built_to_be_rejected: int


def build_workload(offers: int, changes: int, seed: int, registry: Registry) -> Workload:
    started = time.perf_counter()
    generated = generate_offers(offers, seed, tuple(load_normandy_territory().values()))
    follow_ups = generate_changes(generated, changes, seed, invalid_ratio=0.05, registry=registry)

    def encoded(stream: Sequence[tuple[str, DemoChange]]) -> list[Record]:
        records = []
        for contributor, change in stream:
            contribution = as_contribution(contributor, change)
            records.append(
                Record(
                    contrib_topic(contributor),
                    contribution.offer_id.encode(),
                    encode_contribution(contribution),
                    contribution.event_id,
                    contribution.offer_id,
                )
            )
        return records

    work = Workload(
        encoded(creations(generated)),
        encoded(follow_ups),
        sum(1 for _, change in follow_ups if change.expected_rejection is not None),
    )
    print(
        f"generated and encoded {offers:,} offers and {changes:,} changes in "
        f"{time.perf_counter() - started:.1f}s (not measured)"
    )
    return work


# ---------------------------------------------------------------- the publisher (child process)


async def paced_publish(bootstrap: str, records: Sequence[Record], rate: float) -> list[float]:
    """Send `records` at `rate` per second; return each one's send time (`clock`)."""
    producer = make_producer(bootstrap, client_id="sitn-bench-latency-publish")
    await producer.start()
    sent: list[float] = []
    try:
        pending = []
        start = clock() + 0.2  # the producer's first metadata round trips are done by then
        for index, record in enumerate(records):
            delay = start + index / rate - clock()
            if delay > 0:
                await asyncio.sleep(delay)
            sent.append(clock())
            pending.append(await producer.send(record.topic, key=record.key, value=record.value))
            if len(pending) >= SEND_CHUNK:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent


def publisher_process(bootstrap: str, records: list[Record], rate: float, out: str) -> None:
    """The child process's body: publish, then write the send times to `out` (doubles)."""
    times = asyncio.run(paced_publish(bootstrap, records, rate))
    with open(out, "wb") as file:
        array.array("d", times).tofile(file)


def read_send_times(path: Path, count: int) -> list[float]:
    times = array.array("d")
    with path.open("rb") as file:
        times.fromfile(file, count)
    return list(times)


async def publish_in_child(
    bootstrap: str, records: list[Record], rate: float, home: Path
) -> list[float]:
    out = home / "send-times.bin"
    context = multiprocessing.get_context("spawn")
    child = context.Process(
        target=publisher_process, args=(bootstrap, records, rate, str(out)), daemon=True
    )
    child.start()
    await asyncio.to_thread(child.join)
    if child.exitcode != 0:
        raise SystemExit(f"the publisher process failed (exit code {child.exitcode})")
    return await asyncio.to_thread(read_send_times, out, len(records))


async def publish_now(bootstrap: str, records: Sequence[Record]) -> None:
    """Send without pacing (the creations), waiting for every delivery."""
    producer = make_producer(bootstrap, client_id="sitn-bench-latency-create")
    await producer.start()
    try:
        for start in range(0, len(records), SEND_CHUNK):
            chunk = records[start : start + SEND_CHUNK]
            futures = [await producer.send(r.topic, key=r.key, value=r.value) for r in chunk]
            await asyncio.gather(*futures)
    finally:
        await producer.stop()


# ---------------------------------------------------------------- the feed poller (thread)


# (diffuser, offer, regional version, entry time): an entry a change caused carries the change's
# time; one a scheduler's tick caused (same version) carries the tick's, later.
Shown = tuple[str, str, int, datetime]


class FeedPoller(threading.Thread):
    """Notes when each entry (`Shown`) first shows in a watched feed.

    Reads only the columns it needs (no view JSON to decode), so it takes as little CPU (and GIL)
    from the worker as it can.
    """

    def __init__(self, path: Path, diffusers: Sequence[str]) -> None:
        super().__init__(name="bench-feed-poller", daemon=True)
        self.engine = read_only_engine(path)
        self.diffusers = tuple(diffusers)
        # Per (diffuser, partition): feeds are numbered per offer partition
        # (consumers.feeds.cursor).
        self.cursors: dict[tuple[str, int], int] = {}
        self.seen: dict[Shown, float] = {}
        self.poll_starts: list[float] = []
        self.halt = threading.Event()
        self.error: BaseException | None = None

    def skip_to_heads(self) -> None:
        """Start from the feeds' current ends (the creations are not measured)."""
        query = (
            select(
                feed_entries.c.diffuser_id,
                feed_entries.c.partition,
                func.max(feed_entries.c.seq),
            )
            .where(feed_entries.c.diffuser_id.in_(self.diffusers))
            .group_by(feed_entries.c.diffuser_id, feed_entries.c.partition)
        )
        with self.engine.connect() as conn:
            for diffuser_id, partition, last in conn.execute(query):
                self.cursors[(diffuser_id, partition)] = int(last)

    def poll(self) -> int:
        """One read of everything new in the watched feeds; returns the rows read."""
        read = 0
        while True:
            query = (
                select(
                    feed_entries.c.diffuser_id,
                    feed_entries.c.partition,
                    feed_entries.c.seq,
                    feed_entries.c.offer_id,
                    feed_entries.c.version,
                    feed_entries.c.occurred_at,
                )
                .where(
                    or_(
                        *(
                            and_(
                                feed_entries.c.diffuser_id == d,
                                feed_entries.c.partition == p,
                                feed_entries.c.seq > self.cursors.get((d, p), 0),
                            )
                            for d in self.diffusers
                            for p in range(OFFER_PARTITIONS)
                        )
                    )
                )
                .order_by(feed_entries.c.diffuser_id, feed_entries.c.partition, feed_entries.c.seq)
                .limit(POLL_LIMIT)
            )
            started = clock()
            self.poll_starts.append(started)
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
            for diffuser_id, partition, seq, offer_id, version, occurred_at in rows:
                self.seen.setdefault((diffuser_id, offer_id, version, occurred_at), started)
                key = (diffuser_id, partition)
                self.cursors[key] = max(self.cursors.get(key, 0), seq)
            read += len(rows)
            if len(rows) < POLL_LIMIT:
                return read

    def run(self) -> None:
        try:
            while not self.halt.is_set():
                self.poll()
                self.halt.wait(POLL_PAUSE)
            self.poll()  # what the last batches wrote
        except BaseException as error:  # reported by the main thread
            self.error = error
        finally:
            self.engine.dispose()


# ---------------------------------------------------------------- the hub's progress


async def sampler(hub: Hub, samples: list[Sample], stop: asyncio.Event) -> None:
    while not stop.is_set():
        samples.append(await hub.sample(clock()))
        try:
            await asyncio.wait_for(stop.wait(), SAMPLE_EVERY)
        except TimeoutError:
            continue
    samples.append(await hub.sample(clock()))


@dataclass(frozen=True)
class Backlog:
    """How far behind the hub was at one moment."""

    unjudged: int  # contributions sent and not yet judged
    undiffused: int  # regional changes on the topic the diffusion projector has not read yet
    # Regional changes the scheduler has not looked at yet (it may tick them); None: not known.
    unscheduled: int | None
    ticks: int  # the scheduler's ticks the diffusion projector has not read yet
    unstored: int  # regional changes and rejections the store projector has not read yet

    @property
    def none(self) -> bool:
        return not (
            self.unjudged or self.undiffused or self.unscheduled or self.ticks or self.unstored
        )


class Progress:
    """The hub's backlog, read with one consumer kept open (a new client per look costs CPU the
    hub, in this same process or beside it, would miss)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.consumer = make_consumer(
            hub.settings.bootstrap_servers, group_id=None, client_id="sitn-bench-progress"
        )
        self.partitions: list[TopicPartition] = []

    async def __aenter__(self) -> Progress:
        await self.consumer.start()
        self.partitions = await topic_partitions(
            self.hub.settings.bootstrap_servers, [REGIONAL_CHANGES, REJECTIONS, DIFFUSION_TICKS]
        )
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.consumer.stop()

    async def backlog(self, sent: int) -> Backlog:
        hub = self.hub
        ends = {
            (tp.topic, tp.partition): end
            for tp, end in (await self.consumer.end_offsets(self.partitions)).items()
        }
        diffused = await hub.diffused_positions()
        stored = await hub.stored_positions()
        scheduled = hub.scheduled_positions()
        return Backlog(
            max(sent - await hub.judged(), 0),
            sum(
                max(end - diffused.get(key, 0), 0)
                for key, end in ends.items()
                if key[0] == REGIONAL_CHANGES
            ),
            None
            if scheduled is None
            else sum(
                max(end - scheduled.get(key, 0), 0)
                for key, end in ends.items()
                if key[0] == REGIONAL_CHANGES
            ),
            sum(
                max(end - diffused.get(key, 0), 0)
                for key, end in ends.items()
                if key[0] == DIFFUSION_TICKS
            ),
            sum(
                max(end - stored.get(key, 0), 0)
                for key, end in ends.items()
                if key[0] != DIFFUSION_TICKS
            ),
        )

    async def settle(self, sent: int, progress_every: float | None = None) -> float:
        """Wait until everything sent is judged, stored and diffused; return when (`clock`).

        The scheduler publishes the ticks of the changes it has seen at its next poll, so the hub
        counts as caught up once nothing has been waiting for longer than that poll; the time
        returned is when nothing was waiting any more. With `progress_every`, prints the backlog
        that often (a long catch-up shows it moving).
        """
        hub = self.hub
        within = max(SETTLE_MIN, sent * SETTLE_PER_RECORD)
        started = shown = clock()
        quiet_since: float | None = None
        while clock() < started + within:
            hub.check_running()
            due = progress_every is not None and clock() - shown >= progress_every
            if await hub.judged() >= sent or due:
                late = await self.backlog(sent)
                if not late.none:
                    quiet_since = None
                elif quiet_since is None:
                    quiet_since = clock()
                elif clock() - quiet_since >= SCHEDULER_QUIET:
                    return quiet_since
                if due:
                    shown = clock()
                    print(f"  {shown - started:,.0f}s: {late}", flush=True)
            await asyncio.sleep(0.25)
        raise SystemExit(f"the hub did not catch up within {within:g}s: {hub.summary()}")


# ---------------------------------------------------------------- one run


@dataclass
class Outcome:
    rate: float
    seconds: float
    diffusers: int
    watched: tuple[str, ...]
    creations: int = 0
    creations_seconds: float = 0.0
    creation_entries: int = 0
    send_times: list[float] = field(default_factory=list)
    follow_ups: list[Record] = field(default_factory=list)
    built_to_be_rejected: int = 0
    caused: dict[str, tuple[str, int, datetime]] = field(default_factory=dict)  # event id ->
    seen: dict[Shown, float] = field(default_factory=dict)
    poll_starts: list[float] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    at_last_send: Backlog | None = None
    settled_at: float = 0.0
    summary: str = ""
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)


async def run(
    bootstrap: str,
    home: Path,
    registry: Registry,
    work: Workload,
    outcome: Outcome,
    in_process: bool,
) -> None:
    await prepare(bootstrap, registry)
    contributor_topics = [contrib_topic(org) for org in sorted(registry.organisations)]
    await refuse_written_topics(bootstrap, [*OUTPUT_TOPICS, DIFFUSION_TICKS, *contributor_topics])
    store_path = home / "store.db"
    settings = Settings.from_env(
        {
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "SITN_HOME": str(home),
            "SITN_DATABASE_URL": f"sqlite:///{store_path}",
        }
    )
    hub: Hub
    if in_process:
        hub = InProcess(settings, app_id=f"sitn-bench-latency-{secrets.token_hex(4)}")
    else:
        hub = StageProcesses(settings, store_path, home / "worker.log")
    in_force = (await read_registry_topic(bootstrap)).registry
    if len(in_force.diffusers) != outcome.diffusers:
        raise SystemExit(
            f"sitn.registry folds into {len(in_force.diffusers)} diffusers, not "
            f"{outcome.diffusers}: it held other entries; use a broker whose hub topics are empty"
        )
    poller = FeedPoller(store_path, outcome.watched)
    stop_sampling = asyncio.Event()
    try:
        await hub.start()
        async with Progress(hub) as progress:
            await measure(hub, work, outcome, progress, poller, stop_sampling)
    finally:
        stop_sampling.set()
        if poller.is_alive():
            poller.halt.set()
            await asyncio.to_thread(poller.join)
        await hub.stop()


async def measure(
    hub: Hub,
    work: Workload,
    outcome: Outcome,
    progress: Progress,
    poller: FeedPoller,
    stop_sampling: asyncio.Event,
) -> None:
    """Creations first (not measured), then the paced changes with the poller watching."""
    settings = hub.settings
    bootstrap = settings.bootstrap_servers
    started = clock()
    await publish_now(bootstrap, work.creations)
    await progress.settle(len(work.creations), progress_every=60.0)
    outcome.creations = len(work.creations)
    outcome.creations_seconds = clock() - started
    outcome.creation_entries = await hub.entries()
    print(
        f"creations: {outcome.creations:,} offers judged, stored and diffused in "
        f"{outcome.creations_seconds:.1f}s ({outcome.creation_entries:,} feed entries; "
        "not measured)"
    )

    await asyncio.to_thread(poller.skip_to_heads)
    poller.start()
    sampling = asyncio.create_task(sampler(hub, outcome.samples, stop_sampling))
    print(
        f"publishing {len(work.follow_ups):,} changes at {outcome.rate:g}/s "
        f"for {outcome.seconds:g}s ...",
        flush=True,
    )
    outcome.send_times = await publish_in_child(
        bootstrap, work.follow_ups, outcome.rate, settings.home
    )
    outcome.load = os.getloadavg()
    total = len(work.creations) + len(work.follow_ups)
    outcome.at_last_send = await progress.backlog(total)
    print(
        f"sent; backlog then: {outcome.at_last_send}; waiting for the hub to catch up ...",
        flush=True,
    )
    outcome.settled_at = await progress.settle(total, progress_every=60.0)
    poller.halt.set()
    await asyncio.to_thread(poller.join)
    if poller.error is not None:
        raise SystemExit(f"the feed poller failed: {poller.error!r}")
    stop_sampling.set()
    await sampling
    outcome.seen = poller.seen
    outcome.poll_starts = poller.poll_starts
    outcome.summary = hub.summary()
    wanted = {r.event_id for r in work.follow_ups}
    history = await read_prefix_records(
        bootstrap,
        REGIONAL_CHANGES,
        lambda r: (r.topic, r.partition, r.offset, decode_regional_change(r.value)),
    )
    ticks = await read_prefix_records(
        bootstrap, DIFFUSION_TICKS, lambda r: (r.topic, r.partition, r.offset)
    )
    count = RecordCount.of([*(v[:3] for v in history.values), *ticks.values])
    outcome.samples = [count.counted(sample) for sample in outcome.samples]
    for *_, change in history.values:
        if change.event_id in wanted:
            outcome.caused[change.event_id] = (
                change.offer_id,
                change.version,
                change.occurred_at,
            )


# ---------------------------------------------------------------- the report


def percentile(ordered: Sequence[float], share: float) -> float:
    """The nearest-rank percentile of sorted values."""
    rank = max(1, min(len(ordered), math.ceil(share * len(ordered))))
    return ordered[rank - 1]


def at(samples: Sequence[Sample], moment: float) -> Sample:
    """The last sample taken at or before `moment` (the first one if none)."""
    before = [s for s in samples if s.at <= moment]
    return before[-1] if before else samples[0]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


def latencies(outcome: Outcome) -> tuple[list[tuple[float, float]], Counter[str]]:
    """(send time, latency) of each measured change, and what became of the others."""
    fates: Counter[str] = Counter()
    measured: list[tuple[float, float]] = []
    for record, sent in zip(outcome.follow_ups, outcome.send_times, strict=True):
        regional = outcome.caused.get(record.event_id)
        if regional is None:
            fates["rejected or without effect (no regional change)"] += 1
            continue
        offer_id, version, occurred_at = regional
        shown = [
            outcome.seen[key]
            for diffuser_id in outcome.watched
            if (key := (diffuser_id, offer_id, version, occurred_at)) in outcome.seen
        ]
        if not shown:
            fates["accepted, no entry in a watched feed (outside their views)"] += 1
            continue
        fates["measured"] += 1
        measured.append((sent, min(shown) - sent))
    return measured, fates


def windows(
    measured: Sequence[tuple[float, float]], start: float
) -> Iterator[tuple[int, list[float]]]:
    by_window: dict[int, list[float]] = {}
    for sent, latency in measured:
        by_window.setdefault(int((sent - start) // WINDOW), []).append(latency)
    for index in sorted(by_window):
        yield index, sorted(by_window[index])


def report(outcome: Outcome) -> None:
    sends = outcome.send_times
    first, last = sends[0], sends[-1]
    span = max(last - first, 1e-9)
    measured, fates = latencies(outcome)
    samples = outcome.samples
    print(
        f"\n=== {outcome.rate:g} changes/s for {outcome.seconds:g}s, {outcome.diffusers} "
        f"diffusers, watched: {', '.join(outcome.watched)}"
    )
    load = ", ".join(f"{value:.2f}" for value in outcome.load)
    print(f"load average at the end of sending: {load} ({os.cpu_count()} CPUs)")
    print(
        f"published {len(sends):,} changes in {span:.1f}s: {(len(sends) - 1) / span:,.1f}/s "
        f"achieved (asked {outcome.rate:g}/s)"
    )
    s0, s1 = at(samples, first), at(samples, last)
    during = max(s1.at - s0.at, 1e-9)
    end = samples[-1]
    until = max(outcome.settled_at - s0.at, 1e-9)
    total = outcome.creations + len(sends)
    all_judged = next((s.at for s in samples if s.judged >= total), outcome.settled_at)
    diffused, entries = end.diffused_changes - s0.diffused_changes, end.entries - s0.entries
    ticks = end.diffused_ticks - s0.diffused_ticks
    print(
        f"judged {(s1.judged - s0.judged) / during:,.1f}/s while sending; the last one "
        f"{max(all_judged - last, 0):.1f}s after the last send"
    )
    print(
        f"diffused {(s1.diffused_changes - s0.diffused_changes) / during:,.1f} regional "
        f"changes/s and fan-out {(s1.entries - s0.entries) / during:,.0f} feed entries/s while "
        f"sending; {diffused / until:,.1f} regional changes/s and {entries / until:,.0f} feed "
        f"entries/s from the first send until caught up, {outcome.settled_at - last:.1f}s "
        f"after the last send; {entries / max(diffused, 1):.1f} entries per regional change, "
        f"over all diffusers (entries caused by the scheduler's {ticks:,} ticks included)"
    )
    if outcome.at_last_send is not None:
        late = outcome.at_last_send
        # Kept up: less than one second of sending was waiting anywhere.
        kept_up = max(late.unjudged, late.undiffused, late.unstored) <= outcome.rate
        print(
            f"backlog at the last send: {late.unjudged:,} contributions not judged, "
            f"{late.undiffused:,} regional changes and {late.ticks:,} ticks not diffused, "
            f"{late.unstored:,} records not stored, "
            + (
                ""
                if late.unscheduled is None
                else f"{late.unscheduled:,} regional changes not seen by the scheduler "
            )
            + "-> "
            + ("the hub kept up" if kept_up else "the hub did NOT keep up")
            + " (kept up: at most one second of sending waiting)"
        )
    print(
        f"creations before the run: {outcome.creations:,} in {outcome.creations_seconds:.1f}s "
        f"({outcome.creations / outcome.creations_seconds:,.1f}/s through rules, store and "
        f"{outcome.creation_entries / outcome.creations_seconds:,.0f} feed entries/s)"
    )
    fate_text = ", ".join(f"{count:,} {fate}" for fate, count in sorted(fates.items()))
    print(f"changes: {fate_text} ({outcome.built_to_be_rejected:,} were built to be rejected)")
    if not measured:
        print("no change produced an entry in a watched feed: nothing to measure")
        return
    ordered = sorted(latency for _, latency in measured)
    gaps = sorted(b - a for a, b in itertools.pairwise(outcome.poll_starts))
    print(
        f"latency publish -> visible (ms) over {len(ordered):,} changes: "
        f"p50 {ms(percentile(ordered, 0.50))}  p95 {ms(percentile(ordered, 0.95))}  "
        f"p99 {ms(percentile(ordered, 0.99))}  max {ms(ordered[-1])}  "
        f"(min {ms(ordered[0])}, mean {ms(statistics.fmean(ordered))})"
    )
    if gaps:
        print(
            f"poll gap (the latencies' resolution, ms): median {ms(percentile(gaps, 0.5))}, "
            f"p99 {ms(percentile(gaps, 0.99))}, max {ms(gaps[-1])}"
        )
    print(
        f"\n{'sent at (s)':<14}{'sent':>6}{'measured':>10}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'p99 ms':>9}{'max ms':>9}{'judged/s':>10}{'entries/s':>11}"
    )
    sent_in: Counter[int] = Counter(int((s - first) // WINDOW) for s in sends)
    for index, values in windows(measured, first):
        lo, hi = first + index * WINDOW, min(first + (index + 1) * WINDOW, last)
        a, b = at(samples, lo), at(samples, hi)
        dt = max(b.at - a.at, 1e-9)
        print(
            f"{f'{index * WINDOW:>4.0f}-{index * WINDOW + WINDOW:<4.0f}':<14}"
            f"{sent_in[index]:>6}{len(values):>10}{ms(percentile(values, 0.5)):>9}"
            f"{ms(percentile(values, 0.95)):>9}{ms(percentile(values, 0.99)):>9}"
            f"{ms(values[-1]):>9}{(b.judged - a.judged) / dt:>10.1f}"
            f"{(b.entries - a.entries) / dt:>11.0f}"
        )
    print(outcome.summary)


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=200.0, help="changes/s (default 200)")
    parser.add_argument("--diffusers", type=int, default=100, help="diffusers (default 100)")
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument(
        "--offers", type=int, default=2_000, help="offers created first (default 2000)"
    )
    parser.add_argument(
        "--watch", type=int, default=3, help="synthetic diffusers watched (default 3)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the generators")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run every stage in this process (hub.worker) instead of `sitn worker`'s stage "
        "processes",
    )
    args = parser.parse_args()
    if args.rate <= 0 or args.seconds <= 0 or args.offers < 1 or args.watch < 0:
        parser.error("--rate and --seconds must be positive, --offers at least 1, --watch >= 0")
    changes = round(args.rate * args.seconds)
    if changes < 2:
        parser.error("--rate x --seconds must make at least 2 changes")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    registry, watched = bench_registry(args.diffusers, args.watch, args.seed)
    work = build_workload(args.offers, changes, args.seed, registry)
    outcome = Outcome(args.rate, args.seconds, args.diffusers, watched)
    outcome.follow_ups = work.follow_ups
    outcome.built_to_be_rejected = work.built_to_be_rejected
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    with tempfile.TemporaryDirectory(prefix="sitn-bench-latency-") as temp:
        home = Path(temp)
        broker: LocalBroker | None = None
        if configured:
            bootstrap, where = configured, "KAFKA_BOOTSTRAP_SERVERS"
        else:
            broker = make_test_broker(home / "kafka")
            ready = broker.start().ready_seconds
            os.environ.update(broker_login(broker))  # the bench's clients and stages log in to it
            bootstrap, where = broker.bootstrap, f"a fresh broker ready in {ready:.1f}s"
        print(f"on {bootstrap}, {where}; load average {os.getloadavg()}")
        try:
            asyncio.run(run(bootstrap, home, registry, work, outcome, args.in_process))
        finally:
            if broker is not None:
                broker.stop()
    report(outcome)


if __name__ == "__main__":
    main()
