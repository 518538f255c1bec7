"""The hub's collection path in one process, for property tests: real bytes, processor and store.

Lists play Kafka's part, nothing else is stood in for. `contribution_log` puts each contribution's
encoded bytes on its contributor's topic `sitn.contrib.<org>` as an `Inbound` record (partition:
a stable hash of the offer id modulo `OFFER_PARTITIONS`, offsets counting up per topic-partition);
`OutputLog` appends what `CollectionProcessor.process` returns the same way (keyed by offer id),
the ledger's records on `sitn.collection.state` included, so `restored_processor` restarts a
processor from them as the collection stage does;
`project` feeds an output log to a `RegionalStore` through the store projector's own decoders, one
call per batch of a topic-partition with the position after it, as `hub.store_projector` does.

`demo_records()` is the stream the properties use: the demo generator's creations of 30 offers and
90 follow-up changes, a tenth of which the hub must reject, plus a few CRT contributions that are
only partly accepted (media under the photo-library exception, prices refused), so that every kind
of verdict occurs. Fixed seeds, no clock: the same stream in every process, built once per process.
"""

from __future__ import annotations

import functools
import hashlib
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from hub.codec import encode_contribution
from hub.collection_processor import WAITING_HEADER, CollectionProcessor, Inbound, Outbound, Tally
from hub.core.contribution import Contribution, FieldGroupsChanged, OfferDeleted
from hub.core.offer import OfferFields, OfferType, Prices
from hub.core.regional import RegionalChange
from hub.reference import load_normandy_territory
from hub.registry.format import load_normandy_registry
from hub.store import InMemoryStore, RegionalStore, StoredRejection
from hub.store_projector import stored
from hub.topics import (
    COLLECTION_BOUNDARIES,
    COLLECTION_STATE,
    OFFER_PARTITIONS,
    REGIONAL_CHANGES,
    REJECTIONS,
    contrib_topic,
)
from hub.wire import decode_regional_change, decode_rejection
from producers.demo import CRT, as_contribution, creations, generate_changes, generate_offers
from producers.demo.offers import PRICED_TYPES, DemoOffer

OFFERS = 30
CHANGES = 90
INVALID_RATIO = 0.1
OFFER_SEED = 2026
CHANGE_SEED = 14
PARTLY_ACCEPTED = 3  # CRT contributions whose prices are refused and media accepted

# Types where an exception lets the CRT change every group: nothing of theirs would be refused.
_NOT_PARTLY_ACCEPTED = frozenset({OfferType.ITI, OfferType.ORG})


def partition_of(offer_id: str) -> int:
    """The partition of an offer's records: a stable hash, not Python's per-process `hash`."""
    return zlib.crc32(offer_id.encode()) % OFFER_PARTITIONS


def contribution_log(contributions: Iterable[Contribution]) -> tuple[Inbound, ...]:
    """The contributions as a consumer reads them, in publication order."""
    next_offset: dict[tuple[str, int], int] = {}
    records: list[Inbound] = []
    for contribution in contributions:
        topic = contrib_topic(contribution.contributor)
        partition = partition_of(contribution.offer_id)
        offset = next_offset.get((topic, partition), 0)
        next_offset[(topic, partition)] = offset + 1
        records.append(
            Inbound(
                topic=topic,
                partition=partition,
                offset=offset,
                timestamp_ms=int(contribution.occurred_at.timestamp() * 1000),
                key=contribution.offer_id.encode(),
                value=encode_contribution(contribution),
            )
        )
    return tuple(records)


@functools.cache
def demo_contributions() -> tuple[Contribution, ...]:
    """The demo stream (see the module docstring), in publication order."""
    territory = load_normandy_territory()
    offers = generate_offers(OFFERS, OFFER_SEED, territory.values())
    changes = generate_changes(
        offers,
        CHANGES,
        CHANGE_SEED,
        invalid_ratio=INVALID_RATIO,
        registry=load_normandy_registry(),
    )
    stream = [as_contribution(org, demo) for org, demo in [*creations(offers), *changes]]
    extra = _partly_accepted(offers, stream)
    out: list[Contribution] = []
    for contribution in stream:
        out.append(contribution)
        if contribution.source_version == 1 and contribution.offer_id in extra:
            out.append(extra[contribution.offer_id])  # right after the offer's creation
    return tuple(out)


def _partly_accepted(
    offers: Sequence[DemoOffer], stream: Sequence[Contribution]
) -> dict[str, Contribution]:
    """The CRT's media-and-prices contributions to the first offers it never touches otherwise."""
    touched = {c.offer_id for c in stream if c.contributor == CRT}
    deleted = {c.offer_id for c in stream if isinstance(c.payload, OfferDeleted)}
    chosen = [
        offer
        for offer in offers
        if offer.offer_type in PRICED_TYPES
        and offer.offer_type not in _NOT_PARTLY_ACCEPTED
        and offer.offer_id not in touched | deleted
    ][:PARTLY_ACCEPTED]
    extra: dict[str, Contribution] = {}
    for offer in chosen:
        creation = next(c for c in stream if c.offer_id == offer.offer_id)
        payload = FieldGroupsChanged(
            OfferFields(media=offer.fields.media or (), prices=Prices(free=True))
        )
        extra[offer.offer_id] = replace(
            creation,
            event_id=f"{CRT}/{offer.offer_id}/1",
            contributor=CRT,
            source_version=1,
            occurred_at=creation.occurred_at + timedelta(minutes=1),
            payload=payload,
        )
    return extra


@functools.cache
def demo_records() -> tuple[Inbound, ...]:
    return contribution_log(demo_contributions())


def new_processor() -> CollectionProcessor:
    return CollectionProcessor(load_normandy_registry(), load_normandy_territory())


@dataclass(frozen=True)
class Produced:
    """An output record where the log put it."""

    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


def visible(outputs: Iterable[Outbound]) -> tuple[Outbound, ...]:
    """What readers downstream see of some outputs: all but the collection stage's own state
    records (its ledger and the boundary facts beside it)."""
    return tuple(
        out for out in outputs if out.topic not in (COLLECTION_STATE, COLLECTION_BOUNDARIES)
    )


class OutputLog:
    """The hub's output topics: records appended per topic-partition, offsets counting up."""

    def __init__(self, outputs: Iterable[Outbound] = ()) -> None:
        self.records: list[Produced] = []
        self._ends: dict[tuple[str, int], int] = {}
        self.append(outputs)

    def append(self, outputs: Iterable[Outbound]) -> None:
        for out in outputs:
            partition = partition_of(out.key.decode())
            offset = self._ends.get((out.topic, partition), 0)
            self._ends[(out.topic, partition)] = offset + 1
            self.records.append(
                Produced(out.topic, partition, offset, out.key, out.value, out.headers)
            )

    def values(self, topic: str) -> list[bytes]:
        """The values produced to `topic`, in the order they were produced."""
        return [r.value for r in self.records if r.topic == topic]

    def partitions(self, topic: str) -> list[list[Produced]]:
        """Each non-empty partition of `topic` in partition order, its records in offset order."""
        by_partition: dict[int, list[Produced]] = {}
        for record in self.records:
            if record.topic == topic:
                by_partition.setdefault(record.partition, []).append(record)
        return [by_partition[p] for p in sorted(by_partition)]


# Decoding is a pure function of the bytes (the codec's own tests hold it to that), and most
# examples decode the same outputs again: memoised, each example pays for its store writes only.
@functools.lru_cache(maxsize=8192)
def decoded_change(value: bytes) -> RegionalChange:
    return decode_regional_change(value)


@functools.lru_cache(maxsize=8192)
def decoded_rejection(value: bytes) -> StoredRejection:
    return stored(decode_rejection(value))


def regional_changes(log: OutputLog) -> list[RegionalChange]:
    """`sitn.regional.changes` decoded, partition after partition (as the worker restores)."""
    return [
        decoded_change(r.value) for partition in log.partitions(REGIONAL_CHANGES) for r in partition
    ]


def restored_processor(log: OutputLog) -> CollectionProcessor:
    """A new processor restored from the log's `sitn.collection.state`, as a restarted stage."""
    processor = new_processor()
    for partition in log.partitions(COLLECTION_STATE):
        for record in partition:
            since = dict(record.headers).get(WAITING_HEADER)
            processor.restore_entry(
                record.key.decode(), record.value, None if since is None else int(since)
            )
    return processor


def project(log: OutputLog, store: RegionalStore, batch_size: int = 40) -> None:
    """Feeds the log's changes and rejections to `store` as the store projector does."""
    for partition in log.partitions(REGIONAL_CHANGES):
        for batch in _batches(partition, batch_size):
            store.apply([decoded_change(r.value) for r in batch], _position_after(batch))
    for partition in log.partitions(REJECTIONS):
        for batch in _batches(partition, batch_size):
            store.record_rejections(
                [decoded_rejection(r.value) for r in batch], _position_after(batch)
            )


def _batches(records: list[Produced], size: int) -> list[list[Produced]]:
    return [records[start : start + size] for start in range(0, len(records), size)]


def _position_after(batch: list[Produced]) -> dict[tuple[str, int], int]:
    last = batch[-1]
    return {(last.topic, last.partition): last.offset + 1}


def memory_store_of(log: OutputLog) -> InMemoryStore:
    store = InMemoryStore()
    project(log, store)
    return store


@dataclass(frozen=True)
class Run:
    """What one processor made of a sequence of deliveries."""

    outputs: tuple[tuple[Outbound, ...], ...]  # per delivery, in delivery order
    log: OutputLog
    tally: Tally


def run(
    deliveries: Iterable[Inbound],
    processor: CollectionProcessor | None = None,
    log: OutputLog | None = None,
) -> Run:
    """Processes `deliveries` in order, appending every output to `log` (a new one if None)."""
    processor = processor or new_processor()
    log = log if log is not None else OutputLog()
    outputs: list[tuple[Outbound, ...]] = []
    for record in deliveries:
        out = tuple(processor.process(record))
        log.append(out)
        outputs.append(out)
    return Run(tuple(outputs), log, processor.tally)


@functools.cache
def reference_run() -> Run:
    """The demo stream processed once, in order, by one processor that never stops."""
    return run(demo_records())


@functools.cache
def reference_digest() -> str:
    return memory_store_of(reference_run().log).digest()


def fingerprint() -> str:
    """A sha256 of a fresh run of the demo stream: its inputs, outputs and store digest."""
    records = contribution_log(demo_contributions.__wrapped__())
    done = run(records)
    hasher = hashlib.sha256()
    for record in records:
        hasher.update(record.topic.encode() + b"\0" + (record.value or b""))
    for out in done.log.records:
        hasher.update(f"{out.topic}:{out.partition}:{out.offset}".encode() + b"\0" + out.value)
    hasher.update(memory_store_of(done.log).digest().encode())
    return hasher.hexdigest()
