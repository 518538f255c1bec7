"""The regional history: what the hub accepted, one `RegionalChange` per new offer version.

`sitn.regional.changes` carries these records keyed by offer id; the regional store and every
diffuser's view are projections of them, so each record holds the offer's *full* state after the
change (a consumer never needs earlier records to know an offer) and what changed. The private
block travels in its own attribute so projections can store it apart and diffusion never sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from hub.core.offer import FieldGroup, OfferFields, OfferType, PrivateBlock


class OfferStatus(StrEnum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"  # kept in the base, no longer diffused
    DELETED = "deleted"  # removed from the base: the state holds no fields any more


@dataclass(frozen=True)
class Provenance:
    """Who set a field group last, when, and which rule allowed it."""

    group: FieldGroup
    contributor: str
    event_id: str
    source_version: int
    occurred_at: datetime
    authority: str  # "principle:<cdt>", "exception:<id>" or "convention:<id>"


@dataclass(frozen=True)
class ContributorVersion:
    """The last source version of one contributor applied to an offer, and the event that
    carried it (rule 5's memory: a contribution that is not newer is a redelivery when it is that
    event, and stale otherwise)."""

    contributor: str
    version: int
    event_id: str | None = None  # None in changes written before the hub recorded it


@dataclass(frozen=True)
class RegionalChange:
    """Version `version` of offer `offer_id`, caused by contribution `event_id`."""

    offer_id: str
    version: int
    offer_type: OfferType
    status: OfferStatus
    changed_groups: tuple[FieldGroup, ...]
    public: OfferFields  # the full public state after the change (no private group)
    private: PrivateBlock | None  # the full private block after the change, stored apart
    provenance: tuple[Provenance, ...]  # one per group that has a value, in FieldGroup order
    event_id: str
    contributor: str
    occurred_at: datetime
    source_version: int  # of the causing contribution
    # The last source version applied per contributor after this change, sorted by contributor:
    # with it the collection rules' state of an offer is rebuilt from its latest change alone.
    contributor_versions: tuple[ContributorVersion, ...]
