"""Offers whose diffusion changes with time, a fake clock, and ticks, for the scheduler's tests.

A hotel (and a festival) in Deauville entered by the Calvados board, judged on the shipped Normandy
registry: a photo with no end of rights, a summer photo whose rights end on 2026-09-30 (so the
first instant without it is `END_OF_SUMMER`), a festival from 10 to 14 June 2026. Fixed times.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from functools import cache

from hub.core.clock import Tick
from hub.core.offer import (
    Address,
    DiffusionStatus,
    EventDate,
    GeoPoint,
    LocalizedText,
    Location,
    Media,
    OfferType,
)
from hub.core.regional import ContributorVersion, OfferStatus, Provenance, RegionalChange
from hub.core.registry import Registry
from hub.registry.format import load_normandy_registry
from tests.support import examples

MAY_DAY = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
DEAUVILLE = Location(
    Address("14220", "1 boulevard de la Mer", "14800", "Deauville"), GeoPoint(49.36, 0.07)
)
PHOTO = Media(
    url="https://media.example/plage.jpg",
    credit="© Office de tourisme de Deauville",
    licence="CC-BY-4.0",
    rights_start=date(2020, 1, 1),
)
SUMMER_PHOTO = Media(
    url="https://media.example/planches-ete.jpg",
    credit="© J. Leroy",
    licence="concession-2026-31",
    rights_start=date(2026, 4, 1),
    rights_end=date(2026, 9, 30),
)
END_OF_SUMMER = datetime(2026, 10, 1, tzinfo=UTC)  # the first instant SUMMER_PHOTO is not covered
JUNE_FESTIVAL = (EventDate(date(2026, 6, 10), date(2026, 6, 14)),)
AFTER_FESTIVAL = datetime(2026, 6, 15, tzinfo=UTC)


class FakeClock:
    """A clock that says whatever time the test set last."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@cache
def registry() -> Registry:
    return load_normandy_registry()


def offer(
    version: int = 1,
    *,
    offer_type: OfferType = OfferType.HOT,
    media: tuple[Media, ...] = (PHOTO, SUMMER_PHOTO),
    event_dates: tuple[EventDate, ...] | None = None,
    occurred_at: datetime = MAY_DAY,
    status: OfferStatus = OfferStatus.ACTIVE,
    name: str | None = None,
    offer_id: str | None = None,
) -> RegionalChange:
    """Version `version` of a published offer in Deauville entered by the Calvados board."""
    offer_id = offer_id or f"{offer_type.value}NOR014T000001"
    fields = replace(
        examples.rich_offer_fields(),
        location=DEAUVILLE,
        media=media,
        event_dates=event_dates,
        diffusion=DiffusionStatus.PUBLISHED,
        private=None,
    )
    if name is not None:
        fields = replace(fields, names=(LocalizedText("fr", name),))
    event_id = f"cdt-calvados/{offer_id}/{version}"
    return RegionalChange(
        offer_id=offer_id,
        version=version,
        offer_type=offer_type,
        status=status,
        changed_groups=fields.groups(),
        public=fields,
        private=None,
        provenance=tuple(
            Provenance(g, "cdt-calvados", event_id, version, occurred_at, "principle:cdt-calvados")
            for g in fields.groups()
        ),
        event_id=event_id,
        contributor="cdt-calvados",
        occurred_at=occurred_at,
        source_version=version,
        contributor_versions=(ContributorVersion("cdt-calvados", version),),
    )


def festival(version: int = 1, *, occurred_at: datetime = MAY_DAY) -> RegionalChange:
    return offer(
        version, offer_type=OfferType.FMA, event_dates=JUNE_FESTIVAL, occurred_at=occurred_at
    )


def tick(change: RegionalChange, at: datetime, reason: str = "test boundary") -> Tick:
    return Tick(change.offer_id, change.version, at, reason)
