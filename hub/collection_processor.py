"""Applies the collection rules to raw contribution records: bytes in, records to produce out.

This is the stream processor's logic without the stream: the faust agent (`hub.worker`) feeds it
records and produces what it returns, and tests drive it directly. It owns the rules' per-offer
state (restored from `sitn.regional.changes` before the first record) and uses the registry it is
given. For each input record, in order:
- bytes that do not decode go to `sitn.deadletter` with their origin and the reason;
- a customer-data record goes to the private customer-data topic only (never near an offer);
- a contribution is judged by `hub.core.collection.decide`; an accepted change is produced to
  `sitn.regional.changes` keyed by offer id, a (partial) rejection to `sitn.rejections`.
Deterministic: the same record on the same state gives the same output bytes (no wall clock:
times come from the events or the Kafka record), which is what makes redelivery harmless.
Outputs come in the order they must be delivered: a partial rejection before its regional change,
so a crash between the two leaves the change unsent and the replay re-emits both.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from hub.codec import (
    DecodeError,
    decode_contribution,
    decode_customer_record,
    encode,
    encode_customer_record,
    encode_record,
    writer_schema_of,
)
from hub.core.collection import Accepted, Context, OfferState, Rejected, Rejection, decide, evolve
from hub.core.regional import RegionalChange
from hub.core.registry import Registry
from hub.core.territory import Territory
from hub.topics import CONTRIB_PREFIX, CUSTOMER_DATA, DEADLETTER, REGIONAL_CHANGES, REJECTIONS


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


@dataclass
class Tally:
    """What the processor did, for logs, status and benchmarks."""

    accepted: int = 0
    partially_rejected: int = 0
    rejected: int = 0
    no_effect: int = 0
    dead_lettered: int = 0
    customer_records: int = 0


def encode_regional_change(change: RegionalChange) -> bytes:
    return encode_record("RegionalChange", change)


def encode_rejection(rejection: Rejection) -> bytes:
    return encode_record("Rejection", rejection)


def dead_letter(record: Inbound, reason: str, kind: str) -> Outbound:
    value = encode(
        "DeadLetter",
        {
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "key": record.key,
            "value": record.value,
            "reason": reason,
            "error_kind": kind,
            # The record's own timestamp, not the clock: reprocessing re-emits the same bytes.
            "failed_at": datetime.fromtimestamp(record.timestamp_ms / 1000, UTC),
        },
    )
    return Outbound(
        DEADLETTER, f"{record.topic}:{record.partition}:{record.offset}".encode(), value
    )


class CollectionProcessor:
    def __init__(self, registry: Registry, territory: Territory) -> None:
        self.registry = registry
        self.territory = territory
        self.states: dict[str, OfferState] = {}
        self.tally = Tally()

    def restore(self, changes: Iterable[RegionalChange]) -> None:
        """Rebuild the rules' state from the regional history (a change holds the full state)."""
        for change in changes:
            known = self.states.get(change.offer_id)
            if known is None or change.version > known.version:
                self.states[change.offer_id] = evolve(change)

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
        verdict = decide(
            self.states.get(contribution.offer_id),
            contribution,
            Context(topic_owner=owner, registry=self.registry, territory=self.territory),
        )
        key = contribution.offer_id.encode()
        if isinstance(verdict, Accepted):
            self.states[contribution.offer_id] = verdict.state
            change = Outbound(REGIONAL_CHANGES, key, encode_regional_change(verdict.change))
            if verdict.partial is None:
                self.tally.accepted += 1
                return [change]
            self.tally.partially_rejected += 1
            # The change last: once it is out, a restarted hub's state holds it and a replay has
            # no effect, so a rejection still unsent then would be lost for good.
            return [Outbound(REJECTIONS, key, encode_rejection(verdict.partial)), change]
        if isinstance(verdict, Rejected):
            self.tally.rejected += 1
            return [Outbound(REJECTIONS, key, encode_rejection(verdict.rejection))]
        self.tally.no_effect += 1
        return []

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
