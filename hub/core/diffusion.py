"""Diffusion (architecture §5): what each diffuser receives of the regional history.

This module owns the records of a diffuser's feed. `DiffusionChange` is one entry of one
diffuser's feed: a full upsert of the diffuser's view of an offer, or an explicit removal with its
reason. Every entry carries `(offer_id, version)` so a consumer can drop a duplicate, and a feed
never shows a version going backwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from hub.core.offer import OfferFields, OfferType


class DiffusionKind(StrEnum):
    UPSERT = "upsert"
    REMOVAL = "removal"


class DiffusionReason(StrEnum):
    ENTERED_SCOPE = "entered_scope"  # the offer is now in the diffuser's scope: full upsert
    CHANGED = "changed"  # the diffuser's view of the offer changed
    WITHDRAWN = "withdrawn"  # withdrawn or deleted from the regional base
    UNPUBLISHED = "unpublished"  # its diffusion status no longer says published
    OUT_OF_TERRITORY = "out_of_territory"  # type or place no longer covered by the convention
    CONVENTION_ENDED = "convention_ended"  # the diffuser's convention is no longer in force
    RIGHTS_ENDED = "rights_ended"  # no concession in force allows the diffuser's class
    RESYNC = "resync"  # re-sent on purpose by an operator (`sitn diffusion resync`)
    EVENT_ENDED = "event_ended"  # an event (FMA) whose last date has passed


@dataclass(frozen=True)
class DiffusionChange:
    """One entry of one diffuser's feed (`view` and `offer_type` are None on a removal)."""

    diffuser_id: str
    offer_id: str
    version: int  # the regional version this entry reflects
    kind: DiffusionKind
    reason: DiffusionReason
    offer_type: OfferType | None
    view: OfferFields | None
    occurred_at: datetime
