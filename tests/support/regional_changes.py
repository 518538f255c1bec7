"""Builders of `RegionalChange` values for the store tests, and hypothesis strategies of histories.

`change(...)` makes one version of an offer with a few realistic field groups; `history(...)`
strategies draw several offers' versions interleaved the way a partitioned topic delivers them
(each offer's versions in order). Fixed times, no clock, no unseeded randomness.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import strategies as st

from hub.core.offer import (
    Address,
    Contact,
    ContactKind,
    DiffusionStatus,
    FieldGroup,
    GeoPoint,
    LocalizedText,
    Location,
    OfferFields,
    OfferType,
    PriceLine,
    Prices,
    PrivateBlock,
)
from hub.core.regional import ContributorVersion, OfferStatus, Provenance, RegionalChange

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
PARIS_SUMMER = timezone(timedelta(hours=2))

# Communes of three departments: Caen (14), Rouen (76), Cherbourg-en-Cotentin (50).
CAEN, ROUEN, CHERBOURG = "14118", "76540", "50129"

TOPIC = "sitn.regional.changes"


def public_fields(
    name: str,
    commune: str = CAEN,
    price: Decimal = Decimal("12.50"),
    diffusion: DiffusionStatus = DiffusionStatus.PUBLISHED,
) -> OfferFields:
    return OfferFields(
        names=(LocalizedText("fr", name), LocalizedText("en", f"{name} (en)")),
        location=Location(
            Address(commune_insee=commune, street="1 rue de l'Église"),
            GeoPoint(latitude=49.1829, longitude=-0.3707),
        ),
        contacts=(Contact(ContactKind.EMAIL, "accueil@offre.example"),),
        prices=Prices(lines=(PriceLine("Adulte", price, price + Decimal("3.00")),)),
        diffusion=diffusion,
    )


def change(
    offer_id: str,
    version: int,
    *,
    name: str | None = None,
    commune: str = CAEN,
    offer_type: OfferType = OfferType.HOT,
    status: OfferStatus = OfferStatus.ACTIVE,
    private: PrivateBlock | None = None,
    contributor: str = "cdt-14",
    price: Decimal = Decimal("12.50"),
    occurred_at: datetime | None = None,
) -> RegionalChange:
    """Version `version` of `offer_id` by `contributor` (event id `<contributor>:<offer>:<v>`)."""
    at = occurred_at if occurred_at is not None else T0 + timedelta(minutes=version)
    event_id = f"{contributor}:{offer_id}:{version}"
    if status is OfferStatus.DELETED:
        public = OfferFields()
    else:
        diffusion = (
            DiffusionStatus.UNPUBLISHED
            if status is OfferStatus.WITHDRAWN
            else DiffusionStatus.PUBLISHED
        )
        public = public_fields(name or f"Offre {offer_id} v{version}", commune, price, diffusion)
    groups = public.groups() + ((FieldGroup.PRIVATE,) if private is not None else ())
    return RegionalChange(
        offer_id=offer_id,
        version=version,
        offer_type=offer_type,
        status=status,
        changed_groups=groups,
        public=public,
        private=private,
        provenance=tuple(
            Provenance(group, contributor, event_id, version, at, f"principle:{contributor}")
            for group in groups
        ),
        event_id=event_id,
        contributor=contributor,
        occurred_at=at,
        source_version=version,
        contributor_versions=(ContributorVersion(contributor, version),),
    )


def in_paris_time(item: RegionalChange) -> RegionalChange:
    """The same change with every time expressed at UTC+2 (the same instants)."""
    return replace(
        item,
        occurred_at=item.occurred_at.astimezone(PARIS_SUMMER),
        provenance=tuple(
            replace(p, occurred_at=p.occurred_at.astimezone(PARIS_SUMMER)) for p in item.provenance
        ),
    )


def private_block(note: str) -> PrivateBlock:
    return PrivateBlock(
        owner_contacts=(Contact(ContactKind.MOBILE, "+33 6 12 34 56 78", "Gérante"),),
        contract_refs=("CONC-2026-014",),
        internal_notes=note,
    )


# ---------------------------------------------------------------- hypothesis strategies

_OFFER_IDS = ("HOT-1", "RES-2", "FMA-3", "LOI-4")


@st.composite
def _version(draw: st.DrawFn, offer_id: str, version: int) -> RegionalChange:
    status = draw(st.sampled_from(OfferStatus))
    return change(
        offer_id,
        version,
        name=draw(st.text(alphabet="abcéèô ", min_size=1, max_size=8)),
        commune=draw(st.sampled_from((CAEN, ROUEN, CHERBOURG))),
        offer_type=draw(st.sampled_from((OfferType.HOT, OfferType.RES, OfferType.FMA))),
        status=status,
        private=draw(st.none() | st.builds(private_block, st.text(max_size=5))),
        contributor=draw(st.sampled_from(("cdt-14", "ot-caen"))),
        price=Decimal(draw(st.integers(min_value=0, max_value=99_999))).scaleb(-2),
    )


@st.composite
def histories(draw: st.DrawFn) -> list[RegionalChange]:
    """Several offers' versions, interleaved, each offer's versions in increasing order."""
    order = draw(st.lists(st.sampled_from(_OFFER_IDS), min_size=1, max_size=12))
    seen: dict[str, int] = {}
    changes: list[RegionalChange] = []
    for offer_id in order:
        seen[offer_id] = seen.get(offer_id, 0) + 1
        changes.append(draw(_version(offer_id, seen[offer_id])))
    return changes


@st.composite
def redeliveries(draw: st.DrawFn, changes: Sequence[RegionalChange]) -> list[RegionalChange]:
    """`changes` delivered at least once: after each record, maybe again some earlier records."""
    delivered: list[RegionalChange] = []
    for index, item in enumerate(changes):
        delivered.append(item)
        again = draw(st.lists(st.integers(min_value=0, max_value=index), max_size=3))
        delivered.extend(changes[i] for i in again)
    return delivered


@st.composite
def batches(draw: st.DrawFn, items: Sequence[RegionalChange]) -> list[list[RegionalChange]]:
    """`items` cut into consecutive batches of random sizes (as a consumer polls them)."""
    cuts = sorted(draw(st.sets(st.integers(min_value=1, max_value=max(len(items) - 1, 1)))))
    bounds = [0, *(c for c in cuts if c < len(items)), len(items)]
    return [list(items[a:b]) for a, b in itertools.pairwise(bounds) if b > a]
