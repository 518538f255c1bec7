"""Applies the collection rules to raw contribution records: bytes in, records to produce out.

This is the collection stage's logic without Kafka: the stage runner (`hub.collection.stage`) feeds
it the records of one task (the same partition of every contributor topic) and commits what it
returns in one transaction with the consumed offsets; tests drive it directly. It owns the task's
per-offer ledger (`hub.core.ledger`), restored from `sitn.collection.state` and decoded lazily, an
offer at a time, when a contribution first touches it. For each input record:
- bytes that do not decode, or a record on the wrong partition for its key, go to
  `sitn.deadletter` with their origin and the reason;
- a customer-data record goes to the private customer-data topic only (never near an offer);
- a contribution is judged in its offer's entry: an accepted change goes to
  `sitn.regional.changes`, a (partial) rejection to `sitn.rejections`, and the entry, when it
  changed, to `sitn.collection.state` (a contribution that waits for its offer's creation changes
  only the entry), last; a new change's `BoundaryFacts` go to `sitn.collection.boundaries`
  before the entry;
- an output larger than the broker takes (`max_record_bytes`) is never sent: the contribution is
  rejected with `offer.too_large` instead, which the contributor sees, and the offer is unchanged.
Deterministic: the same record on the same entry gives the same output bytes (no wall clock: times
come from the events or the Kafka record; `expire` is given the instant).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Final

from hub.core.collection import Accepted, Context, OfferState, Rejected, Rejection
from hub.core.diffusion_rules import boundary_facts
from hub.core.ledger import Deferred, Judged, OfferEntry, Origin, Outcome, collect, expire
from hub.core.regional import RegionalChange
from hub.core.registry import Registry
from hub.core.territory import Territory
from hub.topics import (
    COLLECTION_BOUNDARIES,
    COLLECTION_STATE,
    CONTRIB_PREFIX,
    CUSTOMER_DATA,
    DEADLETTER,
    REGIONAL_CHANGES,
    REJECTIONS,
    expected_partition,
)
from hub.wire import (
    DecodeError,
    decode_contribution,
    decode_customer_record,
    decode_offer_entry,
    encode_boundary_facts,
    encode_customer_record,
    encode_dead_letter,
    encode_offer_entry,
    encode_regional_change,
    encode_rejection,
    writer_schema_of,
)

__all__ = [
    "DEFAULT_MAX_RECORD_BYTES",
    "WAITING_HEADER",
    "CollectionProcessor",
    "Inbound",
    "Outbound",
    "Tally",
    "boundaries_output",
    "encode_regional_change",
    "encode_rejection",
    "ledger_output",
    "ledger_outputs",
]

# Below Kafka's default `message.max.bytes` (1,048,588) and aiokafka's `max_request_size`
# (1,048,576), with room for the batch and record overhead.
DEFAULT_MAX_RECORD_BYTES: Final = 1_000_000

# Header of a state record whose entry holds waiting contributions: the earliest arrival, in ms,
# so a restart knows which entries have a deadline without decoding any.
WAITING_HEADER: Final = "sitn-waiting-since"


@dataclass(frozen=True)
class Inbound:
    """A record as read from Kafka: where it came from and its raw bytes."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class Outbound:
    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()

    @property
    def size(self) -> int:
        """The bytes the record takes against the broker's limit: its value and headers."""
        return len(self.value) + sum(len(name) + len(value) for name, value in self.headers)


@dataclass
class Tally:
    """What the processor did, for logs, status and benchmarks."""

    accepted: int = 0
    partially_rejected: int = 0
    rejected: int = 0
    no_effect: int = 0
    dead_lettered: int = 0
    customer_records: int = 0
    waiting: int = 0  # contributions that waited for their offer's creation (when they arrived)


def dead_letter(record: Inbound, reason: str, kind: str) -> Outbound:
    value = encode_dead_letter(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        reason=reason,
        kind=kind,
        # The record's own timestamp, not the clock: reprocessing re-emits the same bytes.
        failed_at=datetime.fromtimestamp(record.timestamp_ms / 1000, UTC),
    )
    return Outbound(
        DEADLETTER, f"{record.topic}:{record.partition}:{record.offset}".encode(), value
    )


class CollectionProcessor:
    def __init__(
        self,
        registry: Registry,
        territory: Territory,
        *,
        partitions: int | None = None,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    ) -> None:
        self.registry = registry
        self.territory = territory
        self.partitions = partitions  # checked against each record's key when given
        self.max_record_bytes = max_record_bytes
        self.entries: dict[str, OfferEntry | bytes] = {}
        self.waiting_since: dict[str, int] = {}  # offer id -> earliest arrival of its waiting
        self.tally = Tally()
        # While a batch is open: each touched offer's entry as it was before, to roll back to.
        self._undo: dict[str, tuple[OfferEntry | bytes | None, int | None]] | None = None
        self._tally_before = Tally()

    # ------------------------------------------------------------ batches

    def begin(self) -> None:
        """Open a batch: until `commit`, `rollback` can undo what the records did to the ledger."""
        self._undo = {}
        self._tally_before = replace(self.tally)

    def commit(self) -> None:
        self._undo = None

    def rollback(self) -> None:
        """Put back every entry the open batch changed (its outputs were never committed)."""
        for offer_id, (known, since) in (self._undo or {}).items():
            if known is None:
                self.entries.pop(offer_id, None)
            else:
                self.entries[offer_id] = known
            if since is None:
                self.waiting_since.pop(offer_id, None)
            else:
                self.waiting_since[offer_id] = since
        self.tally = self._tally_before
        self._undo = None

    # ------------------------------------------------------------ restoring

    def restore(self, changes: Iterable[RegionalChange]) -> None:
        """Rebuild the entries from a regional history (a change holds the full state)."""
        for change in changes:
            known = self.entries.get(change.offer_id)
            entry = self._decoded(change.offer_id, known) if known is not None else None
            if entry is None or entry.latest is None or change.version > entry.latest.version:
                self.entries[change.offer_id] = OfferEntry(change.offer_id, change)

    def restore_entry(self, offer_id: str, value: bytes | None, waiting_since: int | None) -> None:
        """Take in one record of the state topic, in offset order (None: a tombstone)."""
        if value is None:
            self.entries.pop(offer_id, None)
            self.waiting_since.pop(offer_id, None)
            return
        self.entries[offer_id] = value
        if waiting_since is None:
            self.waiting_since.pop(offer_id, None)
        else:
            self.waiting_since[offer_id] = waiting_since

    @property
    def states(self) -> dict[str, OfferState]:
        """The rules' state of every offer created (decodes every entry: for tests and tools)."""
        found: dict[str, OfferState] = {}
        for offer_id, known in self.entries.items():
            state = self._decoded(offer_id, known).state
            if state is not None:
                found[offer_id] = state
        return found

    # ------------------------------------------------------------ judging

    def process(self, record: Inbound) -> list[Outbound]:
        if not record.topic.startswith(CONTRIB_PREFIX):
            return [dead_letter(record, f"{record.topic} is not a contribution topic", "routing")]
        owner = record.topic.removeprefix(CONTRIB_PREFIX)
        try:
            name = writer_schema_of(record.value).record_name
            if name == "CustomerRecord":
                return self._customer(record, owner)
            contribution = decode_contribution(record.value)
        except DecodeError as error:
            self.tally.dead_lettered += 1
            return [dead_letter(record, error.message, str(error.reason))]
        if self.partitions is not None:
            expected = expected_partition(contribution.offer_id.encode(), self.partitions)
            if expected != record.partition:
                self.tally.dead_lettered += 1
                return [
                    dead_letter(
                        record,
                        f"a contribution to {contribution.offer_id} belongs on partition "
                        f"{expected} of {record.topic}, not {record.partition}: the offer's other "
                        "events are judged there. Key each record by its offer id and publish "
                        "with Kafka's default partitioner (librdkafka: "
                        "partitioner=murmur2_random)",
                        "partitioning",
                    )
                ]
        origin = Origin(record.topic, record.partition, record.offset, record.timestamp_ms)
        entry = self.entry(contribution.offer_id)
        context = Context(topic_owner=owner, registry=self.registry, territory=self.territory)
        after, outcomes = collect(entry, contribution, origin, context)
        encoded: dict[int, bytes] = {}
        outputs = list(self._outputs(outcomes, encoded))
        state = self._state_output(entry, after, encoded)
        if any(out.size > self.max_record_bytes for out in [*outputs, *state]):
            return self._too_large(entry, outcomes[0], [*outputs, *state])
        self._count(outcomes)
        self._keep(after)
        return [*outputs, *state]

    def expire(self, now_ms: int, deadline_ms: int) -> list[Outbound]:
        """Refuse the contributions that waited `deadline_ms` for their offer's creation."""
        overdue = sorted(
            o for o, since in self.waiting_since.items() if now_ms - since >= deadline_ms
        )
        outputs: list[Outbound] = []
        for offer_id in overdue:
            entry = self.entry(offer_id)
            after, outcomes = expire(entry, now_ms, deadline_ms)
            self._count(outcomes)
            self._keep(after)
            outputs += [*self._outputs(outcomes), *self._state_output(entry, after)]
        return outputs

    def entry(self, offer_id: str) -> OfferEntry:
        known = self.entries.get(offer_id)
        return OfferEntry(offer_id) if known is None else self._decoded(offer_id, known)

    def _decoded(self, offer_id: str, known: OfferEntry | bytes) -> OfferEntry:
        if isinstance(known, OfferEntry):
            return known
        entry = decode_offer_entry(known)  # our own record: a failure stops the stage, loudly
        self.entries[offer_id] = entry
        return entry

    def _keep(self, entry: OfferEntry) -> None:
        if self._undo is not None and entry.offer_id not in self._undo:
            self._undo[entry.offer_id] = (
                self.entries.get(entry.offer_id),
                self.waiting_since.get(entry.offer_id),
            )
        self.entries[entry.offer_id] = entry
        since = entry.earliest_arrival_ms()
        if since is None:
            self.waiting_since.pop(entry.offer_id, None)
        else:
            self.waiting_since[entry.offer_id] = since

    def _outputs(
        self, outcomes: Iterable[Outcome], encoded: dict[int, bytes] | None = None
    ) -> Iterator[Outbound]:
        """The outcomes' records; each accepted change's bytes also go into `encoded`, by the
        change's identity, for the ledger record that embeds the latest one."""
        for outcome in outcomes:
            verdict = outcome.verdict
            key = outcome.contribution.offer_id.encode()
            if isinstance(verdict, Accepted):
                # The partial rejection first: a reader of both topics sees why before the change.
                if verdict.partial is not None:
                    yield Outbound(REJECTIONS, key, encode_rejection(verdict.partial))
                value = encode_regional_change(verdict.change)
                if encoded is not None:
                    encoded[id(verdict.change)] = value
                yield Outbound(REGIONAL_CHANGES, key, value)
            elif isinstance(verdict, Rejected):
                yield Outbound(REJECTIONS, key, encode_rejection(verdict.rejection))

    def _state_output(
        self, before: OfferEntry, after: OfferEntry, encoded: dict[int, bytes] | None = None
    ) -> list[Outbound]:
        if after == before:
            return []
        if after.latest is None or (
            before.latest is not None and before.latest.version == after.latest.version
        ):
            return [ledger_output(after)]  # only its waiting contributions changed
        # `encoded` is keyed by identity: only this call's changes, all still alive in `after`.
        latest = (encoded or {}).get(id(after.latest))
        return [boundaries_output(after.latest), ledger_output(after, latest)]

    def _too_large(
        self, entry: OfferEntry, outcome: Outcome, outputs: list[Outbound]
    ) -> list[Outbound]:
        c = outcome.contribution
        largest = max(outputs, key=lambda out: out.size)
        rejection = Rejection(
            c.event_id,
            c.contributor,
            c.offer_id,
            c.occurred_at,
            ("offer.too_large",),
            f"accepting {c.event_id} would make a {largest.topic} record of {largest.size:,}"
            f" bytes, over the {self.max_record_bytes:,} the hub can send: the offer is unchanged;"
            " shorten its texts or move media to URLs, then publish the change again",
            (),
        )
        after = replace(
            entry,
            rejected=(*entry.rejected, Judged(c.event_id, c.contributor, c.source_version)),
        )
        self.tally.rejected += 1
        self._keep(after)
        key = c.offer_id.encode()
        return [
            Outbound(REJECTIONS, key, encode_rejection(rejection)),
            *self._state_output(entry, after),
        ]

    def _count(self, outcomes: Iterable[Outcome]) -> None:
        for outcome in outcomes:
            verdict = outcome.verdict
            if isinstance(verdict, Accepted):
                if verdict.partial is None:
                    self.tally.accepted += 1
                else:
                    self.tally.partially_rejected += 1
            elif isinstance(verdict, Rejected):
                self.tally.rejected += 1
            elif isinstance(verdict, Deferred):
                self.tally.waiting += 1
            else:
                self.tally.no_effect += 1

    def _customer(self, record: Inbound, owner: str) -> list[Outbound]:
        customer = decode_customer_record(record.value)
        if customer.collector != owner:
            return [
                dead_letter(
                    record,
                    f"customer record {customer.event_id} claims collector {customer.collector!r} "
                    f"but was published on the topic of {owner!r}",
                    "identity",
                )
            ]
        self.tally.customer_records += 1
        # Re-encoded with the current schema: the private topic holds one schema version.
        return [
            Outbound(CUSTOMER_DATA, customer.collector.encode(), encode_customer_record(customer))
        ]


def ledger_output(entry: OfferEntry, latest: bytes | None = None) -> Outbound:
    """An offer's record on `sitn.collection.state`, with the header that lets a restart know
    which entries have a deadline without decoding any (`WAITING_HEADER`); `latest` is
    `entry.latest` already encoded, if it is at hand."""
    since = entry.earliest_arrival_ms()
    headers = () if since is None else ((WAITING_HEADER, str(since).encode()),)
    value = encode_offer_entry(entry, latest)
    return Outbound(COLLECTION_STATE, entry.offer_id.encode(), value, headers)


def boundaries_output(change: RegionalChange) -> Outbound:
    """The `BoundaryFacts` of an offer's latest change on `sitn.collection.boundaries`: what the
    scheduler restores from, a few hundred bytes per offer."""
    return Outbound(
        COLLECTION_BOUNDARIES,
        change.offer_id.encode(),
        encode_boundary_facts(boundary_facts(change)),
    )


def ledger_outputs(entry: OfferEntry) -> list[Outbound]:
    """An offer's whole state as the collection stage leaves it: its boundary facts (if it has a
    change) and its ledger record, last. For writers of a ledger from scratch (seeding, a
    correction, a benchmark)."""
    facts = [] if entry.latest is None else [boundaries_output(entry.latest)]
    return [*facts, ledger_output(entry)]
