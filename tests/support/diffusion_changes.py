"""Builders of `DiffusionChange` values (feed entries) for the feed store and feed API tests.

`upsert(...)` makes a diffuser's view of an offer at a version, `removal(...)` its tombstone.
Times are fixed: `minutes` after `T0`, default the version number, so a later version is later.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from consumers.feeds.cursor import FeedCursor
from hub.core.diffusion import DiffusionChange, DiffusionKind, DiffusionReason
from hub.core.offer import OfferFields, OfferType
from hub.topics import OFFER_PARTITIONS, offer_partition
from tests.support.regional_changes import CAEN, PARIS_SUMMER, T0, public_fields

DIFFUSER = "tourisme-fr"
OTHER_DIFFUSER = "ideoguide"


def upsert(
    offer_id: str,
    version: int,
    *,
    diffuser: str = DIFFUSER,
    minutes: int | None = None,
    name: str | None = None,
    commune: str = CAEN,
    offer_type: OfferType = OfferType.HOT,
    view: OfferFields | None = None,
    reason: DiffusionReason = DiffusionReason.CHANGED,
) -> DiffusionChange:
    return DiffusionChange(
        diffuser_id=diffuser,
        offer_id=offer_id,
        version=version,
        kind=DiffusionKind.UPSERT,
        reason=reason,
        offer_type=offer_type,
        view=view if view is not None else public_fields(name or f"{offer_id} v{version}", commune),
        occurred_at=T0 + timedelta(minutes=version if minutes is None else minutes),
    )


def removal(
    offer_id: str,
    version: int,
    *,
    diffuser: str = DIFFUSER,
    minutes: int | None = None,
    reason: DiffusionReason = DiffusionReason.WITHDRAWN,
) -> DiffusionChange:
    return DiffusionChange(
        diffuser_id=diffuser,
        offer_id=offer_id,
        version=version,
        kind=DiffusionKind.REMOVAL,
        reason=reason,
        offer_type=None,
        view=None,
        occurred_at=T0 + timedelta(minutes=version if minutes is None else minutes),
    )


def in_paris_time(entry: DiffusionChange) -> DiffusionChange:
    """The same entry with its time expressed at UTC+2 (the same instant)."""
    return replace(entry, occurred_at=entry.occurred_at.astimezone(PARIS_SUMMER))


def offer_ids(partition: int, prefix: str, count: int) -> list[str]:
    """The first `count` ids `prefix-1`, `prefix-2`, ... whose offers live on `partition`."""
    found: list[str] = []
    n = 0
    while len(found) < count:
        n += 1
        if offer_partition(f"{prefix}-{n}") == partition:
            found.append(f"{prefix}-{n}")
    return found


def cursor_at(**seqs: int) -> FeedCursor:
    """A feed cursor with `p<N>=seq` for the partitions named, 0 elsewhere."""
    return FeedCursor(tuple(seqs.get(f"p{p}", 0) for p in range(OFFER_PARTITIONS)))
