"""The native JSON bodies of the feed API, as pydantic models: what the OpenAPI document shows.

The bodies themselves are built by `consumers.api.native` from the stored values (the same JSON
shape as `hub.records`: prices as strings with two decimals, dates ISO-8601, times in UTC with
``Z``, unset optional fields left out); these models describe them field by field, forbid anything
else, and the tests validate every body against them. `OfferView` has one field per field group
except the private one, which no feed ever carries (a test keeps it in step with `OfferFields`).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from hub.core.diffusion import DiffusionKind, DiffusionReason
from hub.core.offer import (
    ClassificationScheme,
    ContactKind,
    DiffuserClass,
    DiffusionStatus,
    Disability,
    FieldGroup,
    OfferType,
    TranslationSource,
    Weekday,
)
from hub.topics import OFFER_PARTITIONS

CURSOR_PATTERN = r"^(0|[1-9][0-9]{0,17})$"
# A feed's cursor: one number, or one per offer partition (consumers.feeds.cursor); opaque to
# clients.
_NUMBER = r"(0|[1-9][0-9]{0,17})"
FEED_CURSOR_PATTERN = rf"^{_NUMBER}(\.{_NUMBER}){{{OFFER_PARTITIONS - 1}}}$|^{_NUMBER}$"

Cursor = Annotated[
    str,
    Field(
        pattern=CURSOR_PATTERN,
        description="Opaque position in the rejections: pass it back as `after` to resume "
        "after it.",
        examples=["42"],
    ),
]
FeedCursorText = Annotated[
    str,
    Field(
        pattern=FEED_CURSOR_PATTERN,
        description="Opaque position in the feed: pass it back as `after` to resume after it.",
        examples=["42", "42.17.40.38.45.41"],
    ),
]
Price = Annotated[
    str,
    Field(
        pattern=r"^-?[0-9]{1,10}\.[0-9]{2}$", description="Decimal, two places.", examples=["12.50"]
    ),
]
Language = Annotated[
    str, Field(pattern=r"^[a-z]{2}$", description="ISO 639-1 language code.", examples=["fr"])
]


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- the offer view


class LocalizedText(ApiModel):
    lang: Language
    text: str
    source: TranslationSource = Field(
        default=TranslationSource.HUMAN, description="Written by a person, or machine-translated."
    )


class Address(ApiModel):
    commune_insee: str = Field(description="INSEE code of the commune.", examples=["14118"])
    street: str | None = None
    postal_code: str | None = None
    commune_name: str | None = None


class GeoPoint(ApiModel):
    latitude: float
    longitude: float


class Location(ApiModel):
    address: Address
    geo: GeoPoint | None = None


class Contact(ApiModel):
    kind: ContactKind
    value: str
    label: str | None = None


class OpeningPeriod(ApiModel):
    start: date
    end: date
    weekdays: list[Weekday] = Field(default_factory=list, description="Empty: every day.")
    note: str | None = None


class EventDate(ApiModel):
    start: date
    end: date


class PriceLine(ApiModel):
    label: str
    minimum: Price | None = None
    maximum: Price | None = None
    currency: str = "EUR"


class Prices(ApiModel):
    free: bool = False
    lines: list[PriceLine] = Field(default_factory=list)


class Classification(ApiModel):
    scheme: ClassificationScheme
    value: str
    valid_until: date | None = None


class Accessibility(ApiModel):
    disabilities: list[Disability] = Field(default_factory=list)
    wheelchair_access: bool | None = None
    note: str | None = None


class Capacity(ApiModel):
    persons: int | None = None
    rooms: int | None = None
    pitches: int | None = None


class Media(ApiModel):
    url: str
    credit: str = Field(description="Always shown with the medium.")
    licence: str
    title: str | None = None
    rights_start: date | None = None
    rights_end: date | None = None
    allowed_classes: list[DiffuserClass] = Field(default_factory=list)


class ExternalId(ApiModel):
    system: str
    value: str


class OfferView(ApiModel):
    """A diffuser's view of an offer: only the groups and languages its convention grants."""

    names: list[LocalizedText] | None = None
    descriptions: list[LocalizedText] | None = None
    location: Location | None = None
    contacts: list[Contact] | None = None
    opening: list[OpeningPeriod] | None = None
    event_dates: list[EventDate] | None = None
    prices: Prices | None = None
    classifications: list[Classification] | None = None
    accessibility: Accessibility | None = None
    capacity: Capacity | None = None
    media: list[Media] | None = None
    diffusion: DiffusionStatus | None = None
    external_ids: list[ExternalId] | None = None


# ---------------------------------------------------------------- feeds


class FeedChange(ApiModel):
    """One entry of a diffuser's feed: a full upsert of its view of an offer, or a removal.

    `(offer_id, version)` lets a consumer drop a duplicate; a feed never shows an offer going
    back to a lower version. A removal (a tombstone) has no `offer` nor `offer_type`.
    """

    cursor: FeedCursorText = Field(
        description="Opaque: in a page, the position right after this entry; in a snapshot, "
        "the snapshot's (the feed goes on from there); for one offer, the feed's when it was "
        "read (nothing later of this offer comes before it)."
    )
    diffuser_id: str
    offer_id: str
    version: int = Field(ge=1, description="The regional version this entry reflects.")
    kind: DiffusionKind
    reason: DiffusionReason
    occurred_at: AwareDatetime
    offer_type: OfferType | None = None
    offer: OfferView | None = None


class ChangesPage(ApiModel):
    """A page of a diffuser's feed, oldest first; resume with `after=next_cursor`."""

    diffuser_id: str
    changes: list[FeedChange]
    next_cursor: FeedCursorText
    has_more: bool = Field(description="True if more entries follow `next_cursor` already.")


# ---------------------------------------------------------------- rejections and errors


class ContributorRejection(ApiModel):
    """A contribution the collection rules refused, with what to fix."""

    cursor: Cursor
    event_id: str
    offer_id: str
    occurred_at: AwareDatetime
    rule_ids: list[str]
    message: str
    field_groups: list[FieldGroup] = Field(description="The groups at fault, if any in particular.")


class RejectionsPage(ApiModel):
    """A page of a contributor's rejections, in the order they were recorded."""

    contributor: str
    rejections: list[ContributorRejection]
    next_cursor: Cursor
    has_more: bool


class ErrorBody(ApiModel):
    """Why the request was refused, and what to do."""

    detail: str
