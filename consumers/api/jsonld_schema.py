"""The JSON-LD bodies of the feed API as pydantic models, for the OpenAPI document and the tests.

`consumers.api.jsonld` builds the bodies as plain dicts; these models describe them key by key (with
their JSON-LD names as aliases), forbid anything else, and are added to the OpenAPI document
under the `application/ld+json` responses. The tests validate built bodies against them.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from consumers.api.models import FeedCursorText, Price
from hub.core.diffusion import DiffusionKind, DiffusionReason
from hub.core.offer import ClassificationScheme, ContactKind, Disability

LanguageMap = dict[str, list[str]]


class LdModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LdCity(LdModel):
    type: list[str] = Field(alias="@type")
    insee: str = Field(description="INSEE code of the commune.")
    label: LanguageMap | None = Field(default=None, alias="rdfs:label")


class LdPostalAddress(LdModel):
    type: list[str] = Field(alias="@type")
    street: list[str] | None = Field(default=None, alias="schema:streetAddress")
    postal_code: str | None = Field(default=None, alias="schema:postalCode")
    locality: str | None = Field(default=None, alias="schema:addressLocality")
    city: LdCity = Field(alias="hasAddressCity")


class LdGeoCoordinates(LdModel):
    type: list[str] = Field(alias="@type")
    latitude: float = Field(alias="schema:latitude")
    longitude: float = Field(alias="schema:longitude")


class LdOpeningHours(LdModel):
    type: list[str] = Field(alias="@type")
    valid_from: date = Field(alias="schema:validFrom")
    valid_through: date = Field(alias="schema:validThrough")
    days: list[str] | None = Field(default=None, alias="schema:dayOfWeek")
    information: LanguageMap | None = Field(default=None, alias="additionalInformation")


class LdPlace(LdModel):
    type: list[str] = Field(alias="@type")
    address: list[LdPostalAddress] | None = Field(default=None, alias="schema:address")
    geo: LdGeoCoordinates | None = Field(default=None, alias="schema:geo")
    opening: list[LdOpeningHours] | None = Field(
        default=None, alias="schema:openingHoursSpecification"
    )


class LdDescription(LdModel):
    type: list[str] = Field(alias="@type")
    description: LanguageMap = Field(alias="dc:description")


class LdTranslatedProperty(LdModel):
    type: list[str] = Field(alias="@type")
    language: list[str] = Field(alias="dc:language")
    predicate: list[str] = Field(alias="rdf:predicate")


class LdPeriod(LdModel):
    type: list[str] = Field(alias="@type")
    start: date = Field(alias="startDate")
    end: date = Field(alias="endDate")


class LdAgent(LdModel):
    type: list[str] = Field(alias="@type")
    telephone: list[str] | None = Field(default=None, alias="schema:telephone")
    fax: list[str] | None = Field(default=None, alias="schema:faxNumber")
    email: list[str] | None = Field(default=None, alias="schema:email")
    homepage: list[str] | None = Field(default=None, alias="foaf:homepage")
    same_as: list[str] | None = Field(default=None, alias="schema:sameAs")
    kind: ContactKind = Field(alias="sitn:contactKind")
    label: LanguageMap | None = Field(default=None, alias="rdfs:label")


class LdPriceSpecification(LdModel):
    type: list[str] = Field(alias="@type")
    name: str = Field(alias="schema:name")
    currency: str = Field(alias="schema:priceCurrency")
    min_price: Price | None = Field(default=None, alias="schema:minPrice")
    max_price: Price | None = Field(default=None, alias="schema:maxPrice")


class LdCommercialOffer(LdModel):
    type: list[str] = Field(alias="@type")
    specifications: list[LdPriceSpecification] = Field(alias="schema:priceSpecification")


class LdReview(LdModel):
    type: list[str] = Field(alias="@type")
    scheme: ClassificationScheme = Field(alias="sitn:scheme")
    value: str = Field(alias="sitn:value")
    valid_until: date | None = Field(default=None, alias="sitn:validUntil")


class LdResource(LdModel):
    type: list[str] = Field(alias="@type")
    locator: str = Field(alias="ebucore:locator")
    title: LanguageMap | None = Field(default=None, alias="ebucore:title")


class LdAnnotation(LdModel):
    type: list[str] = Field(alias="@type")
    credits: list[str]
    rights: str = Field(alias="dc:rights", description="The medium's licence.")
    rights_start: date | None = Field(default=None, alias="rightsStartDate")
    rights_end: date | None = Field(default=None, alias="rightsEndDate")


class LdRepresentation(LdModel):
    type: list[str] = Field(alias="@type")
    resources: list[LdResource] = Field(alias="ebucore:hasRelatedResource")
    annotations: list[LdAnnotation] = Field(alias="ebucore:hasAnnotation")


class LdExternalId(LdModel):
    system: str = Field(alias="sitn:system")
    value: str = Field(alias="sitn:value")


class LdOfferNode(LdModel):
    """A diffuser's view of an offer as a JSON-LD node (schema.org / DATAtourisme)."""

    id: str = Field(alias="@id", examples=["urn:sitn:offer:HOTNOR0140000123"])
    type: list[str] = Field(alias="@type", examples=[["schema:Hotel", "Hotel", "HotelTrade"]])
    identifier: str = Field(alias="dc:identifier", description="The offer id.")
    label: LanguageMap | None = Field(default=None, alias="rdfs:label")
    descriptions: list[LdDescription] | None = Field(default=None, alias="hasDescription")
    translated: list[LdTranslatedProperty] | None = Field(
        default=None, alias="hasTranslatedProperty"
    )
    located_at: list[LdPlace] | None = Field(default=None, alias="isLocatedAt")
    takes_place_at: list[LdPeriod] | None = Field(default=None, alias="takesPlaceAt")
    contacts: list[LdAgent] | None = Field(default=None, alias="hasContact")
    free: bool | None = Field(default=None, alias="schema:isAccessibleForFree")
    offers: list[LdCommercialOffer] | None = None
    reviews: list[LdReview] | None = Field(default=None, alias="hasReview")
    reduced_mobility_access: bool | None = Field(default=None, alias="reducedMobilityAccess")
    disabilities: list[Disability] | None = Field(default=None, alias="sitn:welcomedDisabilities")
    accessibility_note: str | None = Field(default=None, alias="sitn:accessibilityNote")
    allowed_persons: int | None = Field(default=None, alias="allowedPersons")
    rooms: int | None = Field(default=None, alias="schema:numberOfRooms")
    pitches: int | None = Field(default=None, alias="numberOfPitches")
    representations: list[LdRepresentation] | None = Field(default=None, alias="hasRepresentation")
    external_ids: list[LdExternalId] | None = Field(default=None, alias="sitn:externalId")
    last_update: AwareDatetime | None = Field(default=None, alias="lastUpdate")
    version: int | None = Field(default=None, alias="sitn:version")


class LdOfferReference(LdModel):
    """An offer named by its URI only (the offer of a removal)."""

    id: str = Field(alias="@id")
    identifier: str = Field(alias="dc:identifier")


class LdFeedChange(LdModel):
    """One feed entry as a JSON-LD node around its offer."""

    type: Literal["sitn:FeedChange"] = Field(alias="@type")
    cursor: FeedCursorText = Field(alias="sitn:cursor")
    diffuser: str = Field(alias="sitn:diffuser")
    kind: DiffusionKind = Field(alias="sitn:kind")
    reason: DiffusionReason = Field(alias="sitn:reason")
    version: int = Field(alias="sitn:version", ge=1)
    occurred_at: AwareDatetime = Field(alias="sitn:occurredAt")
    offer: LdOfferNode | LdOfferReference = Field(alias="sitn:offer")


class LdChangesPage(LdModel):
    """A page of a feed as one JSON-LD document."""

    context: dict[str, Any] = Field(alias="@context")
    type: Literal["sitn:FeedPage"] = Field(alias="@type")
    diffuser: str = Field(alias="sitn:diffuser")
    next_cursor: FeedCursorText = Field(alias="sitn:nextCursor")
    has_more: bool = Field(alias="sitn:hasMore")
    graph: list[LdFeedChange] = Field(alias="@graph")


class LdOfferDocument(LdOfferNode):
    """An offer as a JSON-LD document: its `@context` inline, or the URL it is served at."""

    context: dict[str, Any] | str = Field(alias="@context")


# Added to the OpenAPI document's components (the routes refer to them by name).
DOCUMENTS: tuple[type[LdModel], ...] = (LdChangesPage, LdOfferDocument)
