"""The regional store's port: what every implementation promises (architecture §6, §7).

The store is the projection of `sitn.regional.changes` (plus the rejections and customer-data
topics) that operators and the HTTP API read. `RegionalStore` is the one interface; the in-memory
and SQL implementations pass the same contract suite (tests/contract/store_contract.py).

Guarantees every implementation keeps:
- **One transaction per call.** `apply`, `record_rejections` and `record_customer_data` write
  their rows *and* the consumed Kafka positions together, or nothing at all (exactly-once effect
  on top of at-least-once delivery: commit Kafka offsets only after the call returned).
- **Idempotence.** A change whose version is not newer than the stored version of its offer has
  no effect (a redelivery after a crash); a rejection already stored (same event and rule ids)
  or a customer record already stored (same event id) is ignored; a consumed position only moves
  forward, a lower one is ignored.
- **Privacy.** The private block is kept apart from the public state and customer data apart from
  everything: neither is part of `StoredOffer.public`, `counts()` or `digest()`.
- **A digest of the public content** (`digest()`), the same for every implementation fed the same
  changes in any order across offers, so a rebuilt store can be compared with the live one.

Every method is synchronous and may block on I/O: async callers run them in a worker thread
(`await asyncio.to_thread(store.apply, changes, positions)`), never on the event loop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from hub.core.contribution import CustomerRecord
from hub.core.offer import FieldGroup, OfferFields, OfferType, PrivateBlock
from hub.core.regional import ContributorVersion, OfferStatus, Provenance, RegionalChange

# (topic, partition) -> the offset of the next record to consume there (Kafka's commit convention).
Positions = Mapping[tuple[str, int], int]

# (offer type, department or None for an offer without location, status) -> number of offers.
CountKey = tuple[OfferType, str | None, OfferStatus]


class StoreError(ValueError):
    """Input the store refuses as a whole (nothing of the call was written)."""


@dataclass(frozen=True)
class StoredRejection:
    """A contribution refused by the collection rules, kept for the contributor's feedback feed.

    The fields of `hub.core.collection.Rejection` (its `rejected_groups` here `field_groups`);
    identified by `event_id` and `rule_ids` together, so a record redelivered is stored once.
    """

    event_id: str
    contributor: str
    offer_id: str
    occurred_at: datetime  # timezone-aware
    rule_ids: tuple[str, ...]
    message: str
    field_groups: tuple[FieldGroup, ...]  # the groups at fault; empty if none in particular
    # When the hub judged it: the time of its record on `sitn.rejections` (None: stored by a hub
    # older than that column). An import dated by its source's last update is judged today.
    judged_at: datetime | None = None


@dataclass(frozen=True)
class SequencedRejection:
    """A stored rejection with its position in the order rejections were first recorded.

    Positions start at 1 and only grow, across all contributors: a rejection recorded later has a
    higher one whatever its event time, so a reader resuming after the last position it saw
    misses none (the contributors' rejections feed uses it as its cursor).
    """

    seq: int
    rejection: StoredRejection


@dataclass(frozen=True)
class StoredOffer:
    """The current state of one offer: the latest applied `RegionalChange`, flattened."""

    offer_id: str
    offer_type: OfferType
    status: OfferStatus
    version: int
    department: str | None  # derived from the commune, see `hub.store.projection`
    commune_insee: str | None
    public: OfferFields  # never holds the private group
    private: PrivateBlock | None
    provenance: tuple[Provenance, ...]  # in FieldGroup order
    # The last source version applied per contributor, sorted by contributor: with the fields
    # above, what `hub.core.collection.evolve` would rebuild the rules' state from.
    contributor_versions: tuple[ContributorVersion, ...]


@dataclass(frozen=True)
class PositionedDigest:
    """The store's `digest()` and the consumed positions it reflects, read together."""

    digest: str
    positions: dict[tuple[str, int], int]


@dataclass(frozen=True)
class VersionEntry:
    """One line of an offer's history: which event made which version, and what it changed."""

    offer_id: str
    version: int
    event_id: str
    contributor: str
    source_version: int  # of the contribution, in its contributor's numbering
    changed_groups: tuple[FieldGroup, ...]
    occurred_at: datetime  # timezone-aware
    status: OfferStatus


class RegionalStore(Protocol):
    """The regional store (see the module docstring for what every method guarantees)."""

    def apply(self, changes: Sequence[RegionalChange], positions: Positions) -> None:
        """Applies `changes` in order and records `positions`, in one transaction.

        A change not newer than its offer's stored version is skipped. Raises `StoreError` (and
        writes nothing) if any change is malformed. Synchronous: run it in a thread from async code.
        """
        ...

    def record_rejections(
        self, rejections: Sequence[StoredRejection], positions: Positions
    ) -> None:
        """Stores rejections not yet stored and records `positions`, in one transaction."""
        ...

    def record_customer_data(self, records: Sequence[CustomerRecord], positions: Positions) -> None:
        """Stores customer records (private table only) and `positions`, in one transaction."""
        ...

    def positions(self) -> dict[tuple[str, int], int]:
        """Every consumed position: (topic, partition) -> next offset to consume."""
        ...

    def offer(self, offer_id: str) -> StoredOffer | None:
        """The offer's current state, or None if no change of it was ever applied."""
        ...

    def offers(self, after: str = "", limit: int = 100) -> list[StoredOffer]:
        """Current offers whose id sorts after `after`, by offer id (code points), `limit` at most.

        Each is what `offer` gives for its id, whatever its status. Page through every offer by
        passing the last id of a page as the next `after`; the empty string starts at the first.
        """
        ...

    def history(self, offer_id: str) -> list[VersionEntry]:
        """The offer's versions, oldest first (empty for an unknown offer)."""
        ...

    def rejections(self, contributor: str | None = None, limit: int = 100) -> list[StoredRejection]:
        """Rejections, newest event first (then by event id), of one contributor or of all."""
        ...

    def rejections_after(
        self, contributor: str, after: int = 0, limit: int = 100
    ) -> list[SequencedRejection]:
        """One contributor's rejections recorded after position `after`, oldest recorded first.

        At most `limit` of them; a redelivered rejection keeps its first position.
        """
        ...

    def rejection_counts(self, since: datetime) -> dict[str, int]:
        """How many rejections each contributor has that the hub judged at or after `since`.

        By when they were judged (`judged_at`; a rejection stored without it, by an older hub,
        counts by its event time), not by the event time a source gave; a contributor with none
        is absent. Raises `StoreError` if `since` has no UTC offset.
        """
        ...

    def customer_data(self, collector: str | None = None) -> list[CustomerRecord]:
        """Customer records, oldest first, of one collecting member or of all (never diffused)."""
        ...

    def counts(self) -> dict[CountKey, int]:
        """How many offers there are per (type, department, status); absent keys mean zero."""
        ...

    def digest(self) -> str:
        """Hex sha256 of the public content of every offer (see `hub.store.digest`)."""
        ...

    def digest_with_positions(self) -> PositionedDigest:
        """`digest()` and `positions()` as of one and the same state (one read transaction).

        What a rebuild compares itself with: the store's content at exactly these positions,
        even while a projector keeps writing.
        """
        ...
