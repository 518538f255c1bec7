"""How a `RegionalChange` projects onto the store, shared by every implementation.

`project` checks a change and turns it into what a store keeps: canonical JSON texts of the
public state and of the private block, and the offer's department and commune. `newer_changes`
is the idempotence rule (a change not newer than the stored version of its offer is dropped) and
`forward_positions` the rule that consumed positions never go back. Both implementations call
these, so they cannot disagree on what a batch does; they differ only in how they write it.

The department is derived, not passed in: it is the first two characters of the commune's INSEE
code. That holds for every Normandy commune (departments 14, 27, 50, 61, 76, all numeric), which
is all the charte de saisie lets through; it would be wrong for Corsica (2A/2B) and overseas
departments (three digits), which this hub never stores. An offer without a location (a deleted
one holds no fields) has neither department nor commune.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from hub.core.offer import FieldGroup, OfferFields
from hub.core.regional import RegionalChange
from hub.record_error import RecordError
from hub.records import offer_fields_to_json, to_json_record
from hub.store.port import Positions, StoreError


@dataclass(frozen=True)
class ProjectedChange:
    """A checked change with the texts and keys a store writes for it."""

    change: RegionalChange
    public_json: str  # canonical JSON of `change.public` (see `canonical_json`)
    private_json: str | None  # canonical JSON of `change.private`, None if it has none
    contributor_versions_json: str  # canonical JSON list of [contributor, version(, event id)]
    department: str | None
    commune_insee: str | None


def canonical_json(value: object) -> str:
    """One text per value: sorted keys, no spaces, non-ASCII kept (equal content, equal bytes)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def utc_iso(moment: datetime) -> str:
    """An aware datetime as ISO-8601 in UTC, the form the digest uses whatever the time zone."""
    return moment.astimezone(UTC).isoformat()


def location_keys(public: OfferFields) -> tuple[str | None, str | None]:
    """The (department, commune INSEE code) of an offer (see the module docstring)."""
    if public.location is None:
        return None, None
    insee = public.location.address.commune_insee
    return insee[:2], insee


def project(change: RegionalChange) -> ProjectedChange:
    """Checks `change` and projects it; raises `StoreError` naming the offer, version and field."""
    where = f"offer {change.offer_id!r} version {change.version} (event {change.event_id!r})"
    if not change.offer_id:
        raise StoreError(f"event {change.event_id!r}: the offer id is empty; fix the producer")
    if change.version < 1:
        raise StoreError(f"{where}: versions start at 1; the change is malformed")
    if change.public.private is not None:
        raise StoreError(
            f"{where}: the public state carries the private group; private data travels in "
            "RegionalChange.private only (architecture §4 rule 7)"
        )
    if change.occurred_at.utcoffset() is None or any(
        p.occurred_at.utcoffset() is None for p in change.provenance
    ):
        raise StoreError(f"{where}: a time has no UTC offset; event times must be aware")
    if len({p.group for p in change.provenance}) != len(change.provenance):
        raise StoreError(f"{where}: the provenance names a field group twice")
    try:
        public_json = canonical_json(offer_fields_to_json(change.public))
        private_json = (
            None if change.private is None else canonical_json(to_json_record(change.private))
        )
    except RecordError as error:
        raise StoreError(f"{where}: {error}") from None
    versions_json = canonical_json(
        [
            [v.contributor, v.version, *(() if v.event_id is None else (v.event_id,))]
            for v in change.contributor_versions
        ]
    )
    department, commune = location_keys(change.public)
    return ProjectedChange(change, public_json, private_json, versions_json, department, commune)


def newer_changes(
    projected: Iterable[ProjectedChange], stored_versions: Mapping[str, int]
) -> list[ProjectedChange]:
    """The changes that take effect, in order: each newer than its offer's version so far.

    `stored_versions` holds the stored version of (at least) every offer in the batch that has one.
    A redelivered or stale change, in the store or earlier in the same batch, is dropped.
    """
    versions = dict(stored_versions)
    kept: list[ProjectedChange] = []
    for item in projected:
        change = item.change
        if change.version > versions.get(change.offer_id, 0):
            versions[change.offer_id] = change.version
            kept.append(item)
    return kept


def latest_per_offer(changes: Sequence[ProjectedChange]) -> dict[str, ProjectedChange]:
    """The last change of each offer in `changes` (insertion-ordered by first appearance)."""
    latest: dict[str, ProjectedChange] = {}
    for item in changes:
        latest[item.change.offer_id] = item
    return latest


def check_aware(what: str, event_id: str, moment: datetime) -> None:
    """Raises `StoreError` unless `moment` (the time of `what` of event `event_id`) is aware."""
    if moment.utcoffset() is None:
        raise StoreError(f"{what} of event {event_id!r}: the time has no UTC offset; give one")


def check_positions(positions: Positions) -> None:
    """Raises `StoreError` for a consumed position Kafka could not have given."""
    for (topic, partition), offset in positions.items():
        if not topic or partition < 0 or offset < 0:
            raise StoreError(
                f"consumed position ({topic!r}, {partition}) -> {offset} is impossible; "
                "topics are named, partitions and offsets are >= 0"
            )


def forward_positions(
    current: Mapping[tuple[str, int], int], incoming: Positions
) -> dict[tuple[str, int], int]:
    """The incoming positions that move forward (new, or beyond the current next offset)."""
    return {
        key: offset
        for key, offset in incoming.items()
        if key not in current or offset > current[key]
    }


def rule_key(rule_ids: Sequence[str]) -> str:
    """What identifies a rejection together with its event: its rule ids, as canonical JSON."""
    return canonical_json(list(rule_ids))


def group_order(group: FieldGroup) -> int:
    """The rank of a field group in `FieldGroup` order (provenance is kept in that order)."""
    return _GROUP_ORDER[group]


_GROUP_ORDER: Mapping[FieldGroup, int] = {group: rank for rank, group in enumerate(FieldGroup)}
