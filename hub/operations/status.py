"""The hub's status on one screen: lag, rejections, dead letters, deliveries, store, throughput.

`gather_status(sources)` reads, never writes, and returns a `HubStatus` of frozen dataclasses:
what `sitn status` prints, what `/metrics` exposes to Prometheus, and what the operators'
dashboard shows. Its dataclasses and signature are a stable API: fields are only ever added.

Where each figure comes from:
- **lag**: per Kafka consumer group (the stages', `sitn-collection` among them), the committed
  offsets against the partitions' end offsets, through the admin client; and, for the store and
  diffusion projectors, which keep their positions in the database with their rows, those stored
  positions against the end offsets of the topics they project;
- **rejections** per contributor that the hub judged in the last 24 hours (the store), by when
  they were judged, not the event time a source gave them;
- **dead letters**: records on `sitn.deadletter`, and how many were redriven (`hub.deadletter`);
- **deliveries** per diffuser: its feed's last entry, and its webhook's cursor and state;
- **store counts** by offer type, department and status;
- **throughput**: records appended to `sitn.regional.changes` in the last minutes, by their
  Kafka timestamps (`offsets_for_times`), less the transaction markers between them (the window
  is read, up to 20,000 records, then extrapolated).

A broker that does not answer does not fail the call: the Kafka figures are then empty or None
and `problems` says what could not be gathered, so the store's figures are still shown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from consumers.diffusion_projector import DIFFUSED_TOPICS
from consumers.feeds.cursor import FeedCursor
from consumers.feeds.port import FeedEntry, FeedStore
from consumers.feeds.sql import SqlFeedStore
from consumers.webhooks.port import Webhook, WebhookState, WebhookStore
from consumers.webhooks.sql import SqlWebhookStore
from hub.core.diffusion import DiffusionKind
from hub.core.offer import OfferType
from hub.core.regional import OfferStatus
from hub.deadletter import REDRIVES, DeadLetterError, read_redrive_marks
from hub.kafka_clients import make_admin, make_consumer, topic_partitions
from hub.registry.topic import RegistryTopicError, read_registry_topic
from hub.settings import Settings, SettingsError
from hub.stages.groups import DIFFUSION_GROUP, STORE_GROUP
from hub.store.port import CountKey, RegionalStore
from hub.store.sql import SqlStore
from hub.store_projector import PROJECTED_TOPICS
from hub.topics import DEADLETTER, OFFER_PARTITIONS, REGIONAL_CHANGES, REGISTRY

# The names the database-held consumers go by in `ConsumerLag.consumer` (their Kafka client ids).
STORE_CONSUMER: Final = STORE_GROUP
DIFFUSION_CONSUMER: Final = DIFFUSION_GROUP
DEFAULT_THROUGHPUT_WINDOW: Final = timedelta(minutes=5)
DEFAULT_REJECTIONS_WINDOW: Final = timedelta(hours=24)

_HUB_TOPICS: Final = "sitn."  # the prefix of every topic the hub owns
_EXACT_GAP: Final = 50  # gaps of this many offsets or fewer are read to count their records

LagSource = Literal["kafka", "database"]


@dataclass(frozen=True)
class PartitionLag:
    """Where one consumer stands in one partition."""

    topic: str
    partition: int
    position: int | None  # the next offset it will read; None if it never stored one
    end: int  # the partition's end offset: the offset its next record will get
    # Records not yet consumed: end - max(position, the partition's first offset), except that in
    # a gap of 50 offsets or fewer the records are counted, transaction markers left out.
    lag: int


@dataclass(frozen=True)
class ConsumerLag:
    """A consumer's lag: a Kafka consumer group, or a projector's positions in the database."""

    consumer: str  # the group id, or STORE_CONSUMER / DIFFUSION_CONSUMER
    source: LagSource
    partitions: tuple[PartitionLag, ...]  # by topic, then partition

    @property
    def total(self) -> int:
        return sum(partition.lag for partition in self.partitions)


@dataclass(frozen=True)
class ContributorRejections:
    """How many rejections of one contributor's contributions occurred in the window."""

    contributor: str
    rejections: int


@dataclass(frozen=True)
class DeadLetters:
    """Records on `sitn.deadletter`, and how many of them were redriven to their origin."""

    total: int
    redriven: int

    @property
    def waiting(self) -> int:
        """Dead letters nobody redrove yet (the ones an operator should look at)."""
        return self.total - self.redriven


@dataclass(frozen=True)
class WebhookDelivery:
    """Where a diffuser's webhook stands (`consumers.webhooks`)."""

    url: str
    state: WebhookState  # "active", or "parked" after too many failures
    delivered: FeedCursor  # the feed cursor past the last entry the receiver acknowledged
    backlog: int  # feed entries not acknowledged yet: between `delivered` and the feed's head
    failures: int  # consecutive failures
    last_error: str | None
    last_attempt_at: datetime | None


@dataclass(frozen=True)
class DiffuserDelivery:
    """A diffuser's feed (its last entry) and its webhook, if it has one."""

    diffuser_id: str
    head: FeedCursor  # the cursor past the feed's last entries; START for an empty feed
    last_offer_id: str | None  # the last entry's offer, version, kind and time (None if empty)
    last_version: int | None
    last_kind: DiffusionKind | None
    last_occurred_at: datetime | None
    webhook: WebhookDelivery | None


@dataclass(frozen=True)
class StoreCount:
    """How many offers of one type, department and status the regional store holds."""

    offer_type: OfferType
    department: str | None  # None for offers without a location
    status: OfferStatus
    offers: int


@dataclass(frozen=True)
class Throughput:
    """Regional changes appended to `sitn.regional.changes` in the last `window`."""

    window: timedelta
    regional_changes: int

    @property
    def per_minute(self) -> float:
        return self.regional_changes / (self.window.total_seconds() / 60)


@dataclass(frozen=True)
class HubStatus:
    """Everything `sitn status` shows, taken at `taken_at` (see the module docstring)."""

    taken_at: datetime  # timezone-aware
    lags: tuple[ConsumerLag, ...]  # Kafka groups first (by id), then the store, then the feeds
    rejections_since: datetime  # the start of the rejections' window
    rejections: tuple[ContributorRejections, ...]  # most rejected first, then by contributor
    dead_letters: DeadLetters | None  # None if the broker did not answer
    diffusers: tuple[DiffuserDelivery, ...]  # by diffuser id
    store_counts: tuple[StoreCount, ...]  # by type, department (None first), status
    throughput: Throughput | None  # None if the broker did not answer
    problems: tuple[str, ...]  # what could not be gathered, one line each; empty if all was

    @property
    def offers(self) -> int:
        return sum(count.offers for count in self.store_counts)


@dataclass(frozen=True)
class StatusSources:
    """Where the status is read from: the broker and the hub's three stores."""

    bootstrap: str
    store: RegionalStore
    feeds: FeedStore
    webhooks: WebhookStore


async def gather_status(
    sources: StatusSources,
    *,
    now: datetime | None = None,
    groups: tuple[str, ...] | None = None,
    throughput_window: timedelta = DEFAULT_THROUGHPUT_WINDOW,
    rejections_window: timedelta = DEFAULT_REJECTIONS_WINDOW,
    kafka_timeout: float = 10.0,
) -> HubStatus:
    """The hub's status now (or at `now`, timezone-aware, for the windows).

    `groups`: the Kafka consumer groups to report; None for every group the broker lists that
    has committed offsets on the hub's topics (`sitn.*`). Kafka calls give up after
    `kafka_timeout` seconds (then `problems` says so). Blocking store calls run in worker threads;
    from synchronous code in a worker thread, call it with `asyncio.run`.
    """
    taken_at = datetime.now(UTC) if now is None else now
    if taken_at.utcoffset() is None:
        raise ValueError(f"gather_status(now={taken_at.isoformat()}): give a UTC offset")
    since = taken_at - rejections_window
    local = await asyncio.to_thread(_read_stores, sources, since)
    problems: list[str] = []
    kafka: _KafkaView | None = None
    lags: list[ConsumerLag] = []
    try:
        async with asyncio.timeout(kafka_timeout):
            kafka = await _read_kafka(sources.bootstrap, groups, taken_at - throughput_window)
            consumers: list[tuple[str, LagSource, Mapping[tuple[str, int], int], Iterable[str]]]
            consumers = [
                (group, "kafka", committed, _topics_of(committed))
                for group, committed in sorted(kafka.groups.items())
            ]
            consumers += [
                (STORE_CONSUMER, "database", local.store_positions, PROJECTED_TOPICS),
                (DIFFUSION_CONSUMER, "database", local.feed_positions, DIFFUSED_TOPICS),
            ]
            records = await _records_in_small_gaps(
                sources.bootstrap, kafka, [positions for _, _, positions, _ in consumers]
            )
            lags = [
                ConsumerLag(name, source, _partition_lags(kafka, positions, topics, records))
                for name, source, positions, topics in consumers
            ]
    # A login that cannot be built (SettingsError) leaves the broker unread like one that is down.
    except (
        TimeoutError,
        KafkaError,
        OSError,
        DeadLetterError,
        RegistryTopicError,
        SettingsError,
    ) as error:
        kafka, lags = None, []
        if isinstance(error, TimeoutError):
            detail = f"no answer within {kafka_timeout:g} s"
        else:
            detail = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        problems.append(
            f"Kafka at {sources.bootstrap} could not be read ({detail}); lag, dead letters, "
            "throughput and the registry's diffusers are not shown"
        )
    diffuser_ids = sorted({*local.webhooks, *(kafka.diffusers if kafka else ())})
    feeds = await asyncio.to_thread(_read_feeds, sources.feeds, diffuser_ids)
    return HubStatus(
        taken_at=taken_at,
        lags=tuple(lags),
        rejections_since=since,
        rejections=tuple(
            ContributorRejections(contributor, count)
            for contributor, count in sorted(local.rejections.items(), key=lambda i: (-i[1], i[0]))
        ),
        dead_letters=kafka.dead_letters if kafka else None,
        diffusers=tuple(
            _delivery(diffuser_id, *feeds[diffuser_id], local.webhooks.get(diffuser_id))
            for diffuser_id in diffuser_ids
        ),
        store_counts=tuple(
            StoreCount(offer_type, department, status, offers)
            for (offer_type, department, status), offers in sorted(
                local.counts.items(), key=lambda i: (i[0][0], i[0][1] or "", i[0][2])
            )
        ),
        throughput=Throughput(throughput_window, kafka.recent_changes) if kafka else None,
        problems=tuple(problems),
    )


@contextmanager
def sql_sources(settings: Settings) -> Iterator[StatusSources]:
    """The status sources of a deployment: its broker and its SQL stores (migrated first)."""
    url = settings.database_url
    store = SqlStore(url)
    feeds = SqlFeedStore(url)
    hooks = SqlWebhookStore(url)
    try:
        store.migrate()  # the feeds' and webhooks' tables are in the same migrations
        yield StatusSources(settings.bootstrap_servers, store, feeds, hooks)
    finally:
        hooks.close()
        feeds.close()
        store.close()


# ---------------------------------------------------------------- the stores


@dataclass(frozen=True)
class _StoreView:
    counts: dict[CountKey, int]
    rejections: dict[str, int]
    store_positions: dict[tuple[str, int], int]
    feed_positions: dict[tuple[str, int], int]
    webhooks: dict[str, Webhook]


def _read_stores(sources: StatusSources, since: datetime) -> _StoreView:
    return _StoreView(
        counts=sources.store.counts(),
        rejections=sources.store.rejection_counts(since),
        store_positions=sources.store.positions(),
        feed_positions=sources.feeds.positions(),
        webhooks={hook.diffuser_id: hook for hook in sources.webhooks.webhooks()},
    )


def _read_feeds(
    feeds: FeedStore, diffuser_ids: list[str]
) -> dict[str, tuple[FeedCursor, FeedEntry | None]]:
    """Each feed's head and its latest entry (of each partition's last, the latest in time)."""
    last: dict[str, tuple[FeedCursor, FeedEntry | None]] = {}
    for diffuser_id in diffuser_ids:
        head = feeds.head(diffuser_id)
        tails = feeds.changes(diffuser_id, head.back(1), OFFER_PARTITIONS) if head.total else []
        latest = max(tails, key=lambda e: (e.change.occurred_at, e.partition), default=None)
        last[diffuser_id] = (head, latest)
    return last


def _delivery(
    diffuser_id: str, head: FeedCursor, last: FeedEntry | None, hook: Webhook | None
) -> DiffuserDelivery:
    return DiffuserDelivery(
        diffuser_id=diffuser_id,
        head=head,
        last_offer_id=last.change.offer_id if last else None,
        last_version=last.change.version if last else None,
        last_kind=last.change.kind if last else None,
        last_occurred_at=last.change.occurred_at if last else None,
        webhook=None
        if hook is None
        else WebhookDelivery(
            url=hook.url,
            state=hook.state,
            delivered=hook.delivered,
            backlog=hook.delivered.behind(head),
            failures=hook.failures,
            last_error=hook.last_error,
            last_attempt_at=hook.last_attempt_at,
        ),
    )


# ---------------------------------------------------------------- the broker


@dataclass(frozen=True)
class _KafkaView:
    starts: dict[tuple[str, int], int]  # every partition of the hub's topics: its first offset
    ends: dict[tuple[str, int], int]  # ... and its end offset
    groups: dict[str, dict[tuple[str, int], int]]  # group -> its committed offsets on them
    dead_letters: DeadLetters
    recent_changes: int
    diffusers: tuple[str, ...]


async def _read_kafka(
    bootstrap: str, groups: tuple[str, ...] | None, since: datetime
) -> _KafkaView:
    admin = make_admin(bootstrap, client_id="sitn-status")
    await admin.start()
    try:
        topics = sorted(t for t in await admin.list_topics() if t.startswith(_HUB_TOPICS))
        wanted = (
            sorted(group for group, *_ in await admin.list_consumer_groups())
            if groups is None
            else list(groups)
        )
        committed: dict[str, dict[tuple[str, int], int]] = {}
        for group in wanted:
            offsets = await admin.list_consumer_group_offsets(group)
            ours = {
                (tp.topic, tp.partition): meta.offset
                for tp, meta in offsets.items()
                if tp.topic in topics and meta.offset >= 0
            }
            if ours or groups is not None:
                committed[group] = ours
    finally:
        await admin.close()
    partitions = await topic_partitions(bootstrap, topics) if topics else []
    consumer = make_consumer(bootstrap, group_id=None, client_id="sitn-status")
    await consumer.start()
    try:
        # Assigned first: without it the consumer fetches the partitions' metadata the slow way
        # (about 3 s on the local broker), with it a scrape takes some tens of milliseconds.
        consumer.assign(partitions)
        starts = await consumer.beginning_offsets(partitions) if partitions else {}
        ends = await consumer.end_offsets(partitions) if partitions else {}
        regional = [tp for tp in partitions if tp.topic == REGIONAL_CHANGES]
        since_ms = int(since.timestamp() * 1000)
        found = await consumer.offsets_for_times(dict.fromkeys(regional, since_ms))
        window = {tp: at.offset for tp, at in found.items() if at is not None}
        recent = await _records_in(consumer, window, ends)
    finally:
        await consumer.stop()
    letters = sum(ends[tp] - starts[tp] for tp in partitions if tp.topic == DEADLETTER)
    marks = await read_redrive_marks(bootstrap) if REDRIVES in topics else {}
    registry = await read_registry_topic(bootstrap) if REGISTRY in topics else None
    return _KafkaView(
        starts={(tp.topic, tp.partition): offset for tp, offset in starts.items()},
        ends={(tp.topic, tp.partition): offset for tp, offset in ends.items()},
        groups=committed,
        dead_letters=DeadLetters(total=letters, redriven=len(marks)),
        recent_changes=recent,
        diffusers=tuple(sorted(registry.registry.diffusers)) if registry else (),
    )


# Records read at most to count a window's data records; past it, the count is extrapolated
# from the share of data records among the offsets read (the rest are transaction markers).
_COUNTED: Final = 20_000


async def _records_in(
    consumer: AIOKafkaConsumer,
    starts: Mapping[TopicPartition, int],
    ends: Mapping[TopicPartition, int],
) -> int:
    """The data records between `starts` and `ends`: offsets less transaction markers."""
    todo = {tp: start for tp, start in starts.items() if start < ends[tp]}
    offsets = sum(ends[tp] - start for tp, start in todo.items())
    if not todo:
        return 0
    for tp, start in todo.items():
        consumer.seek(tp, start)
    records = 0
    read = 0
    remaining = set(todo)
    while remaining and read < _COUNTED:
        batch = await consumer.getmany(*remaining, timeout_ms=500, max_records=5_000)
        for tp, found in batch.items():
            records += sum(1 for r in found if r.offset < ends[tp])
        for tp in sorted(remaining):
            if await consumer.position(tp) >= ends[tp]:
                remaining.discard(tp)
        read = 0
        for tp in todo:
            read += min(await consumer.position(tp), ends[tp]) - todo[tp]
        if not batch:
            break
    if remaining and read:
        return round(records * offsets / read)
    return records


def _topics_of(positions: Mapping[tuple[str, int], int]) -> tuple[str, ...]:
    return tuple(sorted({topic for topic, _ in positions}))


def _partition_lags(
    kafka: _KafkaView,
    positions: Mapping[tuple[str, int], int],
    topics: Iterable[str],
    records: Mapping[tuple[str, int], list[int]],
) -> tuple[PartitionLag, ...]:
    """The lag on every partition of `topics` the broker has (a topic it lacks has none).

    Where the gap was read (`records`: the offsets of the data records in it), the lag counts
    those records only, not the transaction markers between them.
    """
    wanted = set(topics)
    lags: list[PartitionLag] = []
    for key in sorted(k for k in kafka.ends if k[0] in wanted):
        position = positions.get(key)
        end = kafka.ends[key]
        start = max(position or 0, kafka.starts[key])
        lag = max(end - start, 0)
        if 0 < lag <= _EXACT_GAP and key in records:
            lag = sum(1 for offset in records[key] if offset >= start)
        lags.append(PartitionLag(key[0], key[1], position, end, lag))
    return tuple(lags)


async def _records_in_small_gaps(
    bootstrap: str, kafka: _KafkaView, consumers: Iterable[Mapping[tuple[str, int], int]]
) -> dict[tuple[str, int], list[int]]:
    """The offsets of the data records in every gap of `_EXACT_GAP` offsets or fewer.

    Publishers write in transactions, and each transaction ends with a commit marker that takes an
    offset but is no record: a consumer that has read everything still lags by 1 on the partition
    by offsets. Reading the small gaps (read_committed) tells markers from records.
    """
    froms: dict[tuple[str, int], int] = {}
    for positions in consumers:
        for key, position in positions.items():
            if key not in kafka.ends:
                continue
            start = max(position, kafka.starts[key])
            if 0 < kafka.ends[key] - start <= _EXACT_GAP:
                froms[key] = min(start, froms.get(key, start))
    if not froms:
        return {}
    partitions = {
        TopicPartition(topic, partition): start for (topic, partition), start in froms.items()
    }
    consumer = make_consumer(bootstrap, group_id=None, client_id="sitn-status")
    await consumer.start()
    try:
        consumer.assign(list(partitions))
        for tp, start in partitions.items():
            consumer.seek(tp, start)
        found: dict[tuple[str, int], list[int]] = {key: [] for key in froms}
        remaining = list(partitions)
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=200)
            for tp, read in batch.items():
                end = kafka.ends[(tp.topic, tp.partition)]
                found[(tp.topic, tp.partition)] += [r.offset for r in read if r.offset < end]
            # The position, not the last offset: it moves past the markers too.
            remaining = [
                tp
                for tp in remaining
                if await consumer.position(tp) < kafka.ends[(tp.topic, tp.partition)]
            ]
        return found
    finally:
        await consumer.stop()
