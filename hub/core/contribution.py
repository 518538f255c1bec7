"""What contributors publish: a change to one offer in an envelope, and customer-data records.

The envelope carries who contributes (`contributor`, an organisation id), which offer, a
per-contributor `source_version` that must grow for each offer, the event's own time (rules are
judged at this time, never the wall clock) and where the change came from in the source system.
Customer data collected by members is a separate record that never joins an offer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from hub.core.offer import FieldGroup, OfferFields, OfferType


@dataclass(frozen=True)
class OfferCreated:
    offer_type: OfferType
    fields: OfferFields

    @property
    def changed_groups(self) -> tuple[FieldGroup, ...]:
        return self.fields.groups()


@dataclass(frozen=True)
class FieldGroupsChanged:
    """Replaces the groups set in `fields`; the others are untouched."""

    fields: OfferFields

    @property
    def changed_groups(self) -> tuple[FieldGroup, ...]:
        return self.fields.groups()


@dataclass(frozen=True)
class OfferWithdrawn:
    """The offer stops being diffused (closed, out of business, no longer in the snapshot)."""

    reason: str

    @property
    def changed_groups(self) -> tuple[FieldGroup, ...]:
        return (FieldGroup.DIFFUSION,)


@dataclass(frozen=True)
class OfferDeleted:
    """The offer is removed from the base altogether (entered by mistake, duplicate)."""

    reason: str

    @property
    def changed_groups(self) -> tuple[FieldGroup, ...]:
        return tuple(FieldGroup)


Payload = OfferCreated | FieldGroupsChanged | OfferWithdrawn | OfferDeleted


@dataclass(frozen=True)
class Contribution:
    """One change to one offer, as published on `sitn.contrib.<contributor>`."""

    event_id: str
    contributor: str
    offer_id: str
    source_version: int
    occurred_at: datetime  # timezone-aware
    source_system: str
    source_id: str
    payload: Payload


class CustomerChannel(StrEnum):
    WEB_FORM = "web_form"
    RECEPTION = "reception"  # the tourist office's reception tool


@dataclass(frozen=True)
class CustomerRecord:
    """Customer data a member collected: kept on its own private topic, never in an offer."""

    event_id: str
    collector: str  # organisation id of the member that collected it
    collected_at: datetime  # timezone-aware
    channel: CustomerChannel
    full_name: str | None = None
    email: str | None = None
    phone: str | None = None
    postal_code: str | None = None
    message: str | None = None
    consent_marketing: bool = False
