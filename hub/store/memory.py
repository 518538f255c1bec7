"""`InMemoryStore`: the regional store in plain dicts, for tests, property tests and tooling.

It keeps every promise of `hub.store.port` except durability. Atomicity comes from checking the
whole call first (`hub.store.projection`) and only then mutating dicts, which cannot fail; a lock
makes each call atomic for readers in other threads too (callers use `asyncio.to_thread`).
It keeps the same JSON texts as the SQL store, so both give the same `digest()`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import datetime

from hub.core.contribution import CustomerRecord
from hub.core.offer import PrivateBlock
from hub.core.regional import RegionalChange
from hub.records import from_json_record, offer_fields_from_json
from hub.store.digest import digest_of, offer_line
from hub.store.port import (
    CountKey,
    PositionedDigest,
    Positions,
    SequencedRejection,
    StoredOffer,
    StoredRejection,
    StoreError,
    VersionEntry,
)
from hub.store.projection import (
    ProjectedChange,
    check_aware,
    check_positions,
    forward_positions,
    newer_changes,
    project,
    rule_key,
)


def _stored(item: ProjectedChange) -> StoredOffer:
    """The offer's state read back through the same JSON as the SQL store: equal values in both."""
    change = item.change
    return StoredOffer(
        offer_id=change.offer_id,
        offer_type=change.offer_type,
        status=change.status,
        version=change.version,
        department=item.department,
        commune_insee=item.commune_insee,
        public=offer_fields_from_json(json.loads(item.public_json)),
        private=None
        if item.private_json is None
        else from_json_record(PrivateBlock, json.loads(item.private_json)),
        provenance=change.provenance,
        contributor_versions=change.contributor_versions,
    )


class InMemoryStore:
    """The regional store in memory; every method is synchronous and thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offers: dict[str, ProjectedChange] = {}  # each offer's current version
        self._history: dict[str, list[VersionEntry]] = {}
        # Insertion-ordered, and an entry is never replaced: its position + 1 is its `seq`.
        self._rejections: dict[tuple[str, str], StoredRejection] = {}
        self._customers: dict[str, CustomerRecord] = {}
        self._positions: dict[tuple[str, int], int] = {}

    # ------------------------------------------------------------ writes

    def apply(self, changes: Sequence[RegionalChange], positions: Positions) -> None:
        check_positions(positions)
        projected = [project(change) for change in changes]
        with self._lock:
            stored = {
                item.change.offer_id: self._offers[item.change.offer_id].change.version
                for item in projected
                if item.change.offer_id in self._offers
            }
            for item in newer_changes(projected, stored):
                change = item.change
                self._offers[change.offer_id] = item
                self._history.setdefault(change.offer_id, []).append(
                    VersionEntry(
                        offer_id=change.offer_id,
                        version=change.version,
                        event_id=change.event_id,
                        contributor=change.contributor,
                        source_version=change.source_version,
                        changed_groups=change.changed_groups,
                        occurred_at=change.occurred_at,
                        status=change.status,
                    )
                )
            self._positions.update(forward_positions(self._positions, positions))

    def record_rejections(
        self, rejections: Sequence[StoredRejection], positions: Positions
    ) -> None:
        check_positions(positions)
        for rejection in rejections:
            check_aware("rejection", rejection.event_id, rejection.occurred_at)
            if rejection.judged_at is not None:
                check_aware("rejection", rejection.event_id, rejection.judged_at)
        with self._lock:
            for rejection in rejections:
                key = (rejection.event_id, rule_key(rejection.rule_ids))
                self._rejections.setdefault(key, rejection)
            self._positions.update(forward_positions(self._positions, positions))

    def record_customer_data(self, records: Sequence[CustomerRecord], positions: Positions) -> None:
        check_positions(positions)
        for record in records:
            check_aware("customer record", record.event_id, record.collected_at)
        with self._lock:
            for record in records:
                self._customers.setdefault(record.event_id, record)
            self._positions.update(forward_positions(self._positions, positions))

    # ------------------------------------------------------------ reads

    def positions(self) -> dict[tuple[str, int], int]:
        with self._lock:
            return dict(self._positions)

    def offer(self, offer_id: str) -> StoredOffer | None:
        with self._lock:
            item = self._offers.get(offer_id)
        return None if item is None else _stored(item)

    def offers(self, after: str = "", limit: int = 100) -> list[StoredOffer]:
        with self._lock:
            page = sorted(offer_id for offer_id in self._offers if offer_id > after)
            items = [self._offers[offer_id] for offer_id in page[: max(limit, 0)]]
        return [_stored(item) for item in items]

    def history(self, offer_id: str) -> list[VersionEntry]:
        with self._lock:
            return list(self._history.get(offer_id, ()))

    def rejections(self, contributor: str | None = None, limit: int = 100) -> list[StoredRejection]:
        with self._lock:
            chosen = [
                r
                for r in self._rejections.values()
                if contributor is None or r.contributor == contributor
            ]
        chosen.sort(key=lambda r: (r.event_id, rule_key(r.rule_ids)))
        chosen.sort(key=lambda r: r.occurred_at, reverse=True)  # stable: ties keep the id order
        return chosen[: max(limit, 0)]

    def rejections_after(
        self, contributor: str, after: int = 0, limit: int = 100
    ) -> list[SequencedRejection]:
        with self._lock:
            recorded = list(self._rejections.values())
        chosen = [
            SequencedRejection(seq, rejection)
            for seq, rejection in enumerate(recorded, start=1)
            if seq > after and rejection.contributor == contributor
        ]
        return chosen[: max(limit, 0)]

    def rejection_counts(self, since: datetime) -> dict[str, int]:
        if since.utcoffset() is None:
            raise StoreError(f"rejection_counts(since={since.isoformat()}): give a UTC offset")
        counts: dict[str, int] = {}
        with self._lock:
            for rejection in self._rejections.values():
                if (rejection.judged_at or rejection.occurred_at) >= since:
                    counts[rejection.contributor] = counts.get(rejection.contributor, 0) + 1
        return counts

    def customer_data(self, collector: str | None = None) -> list[CustomerRecord]:
        with self._lock:
            chosen = [
                r for r in self._customers.values() if collector is None or r.collector == collector
            ]
        return sorted(chosen, key=lambda r: (r.collected_at, r.event_id))

    def counts(self) -> dict[CountKey, int]:
        counts: dict[CountKey, int] = {}
        with self._lock:
            for item in self._offers.values():
                change = item.change
                key = (change.offer_type, item.department, change.status)
                counts[key] = counts.get(key, 0) + 1
        return counts

    def digest(self) -> str:
        with self._lock:
            items = list(self._offers.values())
        return _digest(items)

    def digest_with_positions(self) -> PositionedDigest:
        with self._lock:
            items = list(self._offers.values())
            positions = dict(self._positions)
        return PositionedDigest(_digest(items), positions)


def _digest(items: Sequence[ProjectedChange]) -> str:
    return digest_of(
        (
            item.change.offer_id,
            offer_line(
                item.change.offer_id,
                item.change.offer_type,
                item.change.status,
                item.change.version,
                item.public_json,
                item.change.provenance,
            ),
        )
        for item in items
    )
