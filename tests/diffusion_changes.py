"""Builders of `DiffusionChange` values (feed entries) for the feed store and feed API tests.

`upsert(...)` makes a diffuser's view of an offer at a version, `removal(...)` its tombstone.
Times are fixed: `minutes` after `T0`, default the version number, so a later version is later.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from hub.core.diffusion import DiffusionChange, DiffusionKind, DiffusionReason
from hub.core.offer import OfferFields, OfferType
from tests.regional_changes import CAEN, PARIS_SUMMER, T0, public_fields

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
