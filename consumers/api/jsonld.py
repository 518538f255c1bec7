"""JSON-LD bodies of the feed API, in the style of DATAtourisme on schema.org's vocabulary.

An offer is a node whose `@id` is the offer's URI (``urn:sitn:offer:<id>``) and whose `@type`s
are a schema.org class with the DATAtourisme classes of its bordereau (a hotel is
``schema:Hotel``, ``Hotel``, ``HotelTrade``, ``Accommodation``...). Properties follow the
DATAtourisme ontology (``@vocab``) where it has one: `rdfs:label` and descriptions as language
maps, `isLocatedAt` a `schema:Place` with `schema:address` and `schema:geo`, `hasContact`,
`offers` with `schema:priceSpecification`, `takesPlaceAt`, `hasRepresentation` with ebucore
resources and their credits and rights; machine-translated texts are listed in
`hasTranslatedProperty`. What the ontology has no term for is under the hub's own prefix
``sitn:`` (``urn:sitn:terms:``). The mapping is written so that the hub's own DATAtourisme reader
(`producers.datatourisme`) reads an offer back (a test holds it to that).

Feed entries are `sitn:FeedChange` nodes around their offer (a removal names only the offer's
`@id`); documents carry the `@context` inline, and lines of a snapshot point to it by URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final
from urllib.parse import quote

from consumers.api.native import iso_utc
from consumers.feeds.cursor import FeedCursor
from consumers.feeds.port import FeedEntry
from hub.core.diffusion import DiffusionChange
from hub.core.offer import (
    ContactKind,
    LocalizedText,
    OfferFields,
    OfferType,
    TranslationSource,
    Weekday,
)

MEDIA_TYPE: Final = "application/ld+json"
OFFER_IRI_PREFIX: Final = "urn:sitn:offer:"
SITN_TERMS: Final = "urn:sitn:terms:"

CONTEXT: Final[Mapping[str, object]] = {
    "@vocab": "https://www.datatourisme.fr/ontology/core#",
    "schema": "http://schema.org/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "ebucore": "http://www.ebu.ch/metadata/ontologies/ebucore/ebucore#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "sitn": SITN_TERMS,
    "rdfs:label": {"@container": "@language"},
    "dc:description": {"@container": "@language"},
    "ebucore:title": {"@container": "@language"},
    "additionalInformation": {"@container": "@language"},
    "rdf:predicate": {"@type": "@id"},
    "schema:dayOfWeek": {"@type": "@id"},
    "foaf:homepage": {"@type": "@id"},
    "schema:sameAs": {"@type": "@id"},
    "ebucore:locator": {"@type": "@id"},
    "lastUpdate": {"@type": "xsd:dateTime"},
    "sitn:occurredAt": {"@type": "xsd:dateTime"},
    "schema:validFrom": {"@type": "xsd:date"},
    "schema:validThrough": {"@type": "xsd:date"},
    "startDate": {"@type": "xsd:date"},
    "endDate": {"@type": "xsd:date"},
    "rightsStartDate": {"@type": "xsd:date"},
    "rightsEndDate": {"@type": "xsd:date"},
    "sitn:validUntil": {"@type": "xsd:date"},
    "schema:minPrice": {"@type": "xsd:decimal"},
    "schema:maxPrice": {"@type": "xsd:decimal"},
}

# Each bordereau's classes: schema.org's first, then DATAtourisme's, most specific first.
TYPES: Final[Mapping[OfferType, tuple[str, ...]]] = {
    OfferType.HOT: ("schema:Hotel", "Hotel", "HotelTrade", "Accommodation"),
    OfferType.HPA: ("schema:Campground", "Camping", "CampingAndCaravanning", "Accommodation"),
    OfferType.HLO: ("schema:LodgingBusiness", "RentalAccommodation", "Accommodation"),
    OfferType.RES: ("schema:Restaurant", "Restaurant", "FoodEstablishment"),
    OfferType.LOI: ("schema:SportsActivityLocation", "SportsAndLeisurePlace"),
    OfferType.ASC: ("schema:LocalBusiness", "ActivityProvider"),
    OfferType.DEG: ("schema:LocalBusiness", "TastingProvider"),
    OfferType.PCU: ("schema:TouristAttraction", "CulturalSite"),
    OfferType.PNA: ("schema:TouristAttraction", "NaturalHeritage"),
    OfferType.FMA: ("schema:Event", "EntertainmentAndEvent"),
    OfferType.ITI: ("schema:TouristTrip", "Tour"),
    OfferType.ORG: ("schema:Organization", "LocalTouristOffice"),
    OfferType.VIL: ("schema:City", "City"),
    OfferType.COM: ("schema:Store", "Store"),
}
_POINT_OF_INTEREST: Final = ("PlaceOfInterest", "PointOfInterest")

_CONTACT_PROPERTY: Final[Mapping[ContactKind, str]] = {
    ContactKind.PHONE: "schema:telephone",
    ContactKind.MOBILE: "schema:telephone",
    ContactKind.FAX: "schema:faxNumber",
    ContactKind.EMAIL: "schema:email",
    ContactKind.WEBSITE: "foaf:homepage",
    ContactKind.SOCIAL: "schema:sameAs",
}

_DAYS: Final[Mapping[Weekday, str]] = {
    Weekday.MON: "schema:Monday",
    Weekday.TUE: "schema:Tuesday",
    Weekday.WED: "schema:Wednesday",
    Weekday.THU: "schema:Thursday",
    Weekday.FRI: "schema:Friday",
    Weekday.SAT: "schema:Saturday",
    Weekday.SUN: "schema:Sunday",
}


def offer_iri(offer_id: str) -> str:
    """The offer's URI, the same in every feed (`@id`)."""
    return OFFER_IRI_PREFIX + quote(offer_id, safe="")


def _language_map(texts: tuple[LocalizedText, ...]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for text in texts:
        found.setdefault(text.lang, []).append(text.text)
    return found


def _translated(view: OfferFields) -> list[dict[str, object]]:
    """`hasTranslatedProperty` entries: which property is machine-translated in which language."""
    marks: list[dict[str, object]] = []
    for predicate, texts in (("rdfs:label", view.names), ("dc:description", view.descriptions)):
        for lang in dict.fromkeys(
            t.lang for t in texts or () if t.source is TranslationSource.MACHINE
        ):
            marks.append(
                {
                    "@type": ["TranslatedProperty"],
                    "dc:language": [lang],
                    "rdf:predicate": [predicate],
                }
            )
    return marks


def _place(view: OfferFields, is_event: bool) -> dict[str, object] | None:
    place: dict[str, object] = {"@type": ["schema:Place"]}
    if view.location is not None:
        address = view.location.address
        postal: dict[str, object] = {"@type": ["schema:PostalAddress"]}
        if address.street is not None:
            postal["schema:streetAddress"] = [address.street]
        if address.postal_code is not None:
            postal["schema:postalCode"] = address.postal_code
        city: dict[str, object] = {"@type": ["City"], "insee": address.commune_insee}
        if address.commune_name is not None:
            postal["schema:addressLocality"] = address.commune_name
            city["rdfs:label"] = {"fr": [address.commune_name]}
        postal["hasAddressCity"] = city
        place["schema:address"] = [postal]
        if view.location.geo is not None:
            place["schema:geo"] = {
                "@type": ["schema:GeoCoordinates"],
                "schema:latitude": view.location.geo.latitude,
                "schema:longitude": view.location.geo.longitude,
            }
    if view.opening and not is_event:
        periods: list[dict[str, object]] = []
        for period in view.opening:
            spec: dict[str, object] = {
                "@type": ["OpeningHoursSpecification"],
                "schema:validFrom": period.start.isoformat(),
                "schema:validThrough": period.end.isoformat(),
            }
            if period.weekdays:
                spec["schema:dayOfWeek"] = [_DAYS[day] for day in period.weekdays]
            if period.note is not None:
                spec["additionalInformation"] = {"fr": [period.note]}
            periods.append(spec)
        place["schema:openingHoursSpecification"] = periods
    return place if len(place) > 1 else None


def offer_node(offer_id: str, offer_type: OfferType, view: OfferFields) -> dict[str, object]:
    """The JSON-LD node of a diffuser's view of an offer (without `@context`)."""
    view = view.public()  # never the private group, whatever a store holds
    node: dict[str, object] = {
        "@id": offer_iri(offer_id),
        "@type": [*TYPES[offer_type], *_POINT_OF_INTEREST],
        "dc:identifier": offer_id,
    }
    if view.names:
        node["rdfs:label"] = _language_map(view.names)
    if view.descriptions:
        node["hasDescription"] = [
            {"@type": ["Description"], "dc:description": _language_map(view.descriptions)}
        ]
    if marks := _translated(view):
        node["hasTranslatedProperty"] = marks
    is_event = offer_type is OfferType.FMA
    if (place := _place(view, is_event)) is not None:
        node["isLocatedAt"] = [place]
    if view.event_dates:
        node["takesPlaceAt"] = [
            {"@type": ["Period"], "startDate": d.start.isoformat(), "endDate": d.end.isoformat()}
            for d in view.event_dates
        ]
    if view.contacts:
        agents: list[dict[str, object]] = []
        for contact in view.contacts:
            agent: dict[str, object] = {
                "@type": ["foaf:Agent"],
                _CONTACT_PROPERTY[contact.kind]: [contact.value],
                "sitn:contactKind": contact.kind.value,
            }
            if contact.label is not None:
                agent["rdfs:label"] = {"fr": [contact.label]}
            agents.append(agent)
        node["hasContact"] = agents
    if view.prices is not None:
        if view.prices.free:
            node["schema:isAccessibleForFree"] = True
        if view.prices.lines:
            specs: list[dict[str, object]] = []
            for line in view.prices.lines:
                spec: dict[str, object] = {
                    "@type": ["PriceSpecification"],
                    "schema:name": line.label,
                    "schema:priceCurrency": line.currency,
                }
                if line.minimum is not None:
                    spec["schema:minPrice"] = str(line.minimum)
                if line.maximum is not None:
                    spec["schema:maxPrice"] = str(line.maximum)
                specs.append(spec)
            node["offers"] = [{"@type": ["Offer"], "schema:priceSpecification": specs}]
    if view.classifications:
        reviews: list[dict[str, object]] = []
        for classification in view.classifications:
            review: dict[str, object] = {
                "@type": ["Review"],
                "sitn:scheme": classification.scheme.value,
                "sitn:value": classification.value,
            }
            if classification.valid_until is not None:
                review["sitn:validUntil"] = classification.valid_until.isoformat()
            reviews.append(review)
        node["hasReview"] = reviews
    if view.accessibility is not None:
        access = view.accessibility
        if access.wheelchair_access is not None:
            node["reducedMobilityAccess"] = access.wheelchair_access
        if access.disabilities:
            node["sitn:welcomedDisabilities"] = [d.value for d in access.disabilities]
        if access.note is not None:
            node["sitn:accessibilityNote"] = access.note
    if view.capacity is not None:
        for key, value in (
            ("allowedPersons", view.capacity.persons),
            ("schema:numberOfRooms", view.capacity.rooms),
            ("numberOfPitches", view.capacity.pitches),
        ):
            if value is not None:
                node[key] = value
    if view.media:
        representations: list[dict[str, object]] = []
        for medium in view.media:
            resource: dict[str, object] = {
                "@type": ["ebucore:Resource"],
                "ebucore:locator": medium.url,
            }
            if medium.title is not None:
                resource["ebucore:title"] = {"fr": [medium.title]}
            annotation: dict[str, object] = {
                "@type": ["Annotation"],
                "credits": [medium.credit],
                "dc:rights": medium.licence,
            }
            if medium.rights_start is not None:
                annotation["rightsStartDate"] = medium.rights_start.isoformat()
            if medium.rights_end is not None:
                annotation["rightsEndDate"] = medium.rights_end.isoformat()
            representations.append(
                {
                    "@type": ["ebucore:EditorialObject"],
                    "ebucore:hasRelatedResource": [resource],
                    "ebucore:hasAnnotation": [annotation],
                }
            )
        node["hasRepresentation"] = representations
    if view.external_ids:
        node["sitn:externalId"] = [
            {"sitn:system": e.system, "sitn:value": e.value} for e in view.external_ids
        ]
    return node


def _entry_offer(entry: FeedEntry) -> dict[str, object]:
    change: DiffusionChange = entry.change
    if change.view is None or change.offer_type is None:
        return {"@id": offer_iri(change.offer_id), "dc:identifier": change.offer_id}
    offer = offer_node(change.offer_id, change.offer_type, change.view)
    offer["lastUpdate"] = iso_utc(change.occurred_at)
    offer["sitn:version"] = change.version
    return offer


def change_node(entry: FeedEntry, cursor: FeedCursor) -> dict[str, object]:
    """A feed entry as a `sitn:FeedChange` node around its offer (a removal: only its `@id`),
    with the cursor right after it."""
    change = entry.change
    return {
        "@type": "sitn:FeedChange",
        "sitn:cursor": str(cursor),
        "sitn:diffuser": change.diffuser_id,
        "sitn:kind": change.kind.value,
        "sitn:reason": change.reason.value,
        "sitn:version": change.version,
        "sitn:occurredAt": iso_utc(change.occurred_at),
        "sitn:offer": _entry_offer(entry),
    }


def changes_document(
    diffuser_id: str, entries: list[FeedEntry], after: FeedCursor, has_more: bool
) -> dict[str, object]:
    """A page of a feed read from `after` as one JSON-LD document."""
    graph: list[dict[str, object]] = []
    for entry in entries:
        after = after.past([entry])
        graph.append(change_node(entry, after))
    return {
        "@context": CONTEXT,
        "@type": "sitn:FeedPage",
        "sitn:diffuser": diffuser_id,
        "sitn:nextCursor": str(after),
        "sitn:hasMore": has_more,
        "@graph": graph,
    }


def offer_document(
    entry: FeedEntry, context: Mapping[str, object] | str = CONTEXT
) -> dict[str, object]:
    """An upsert's offer as a JSON-LD document: `context` inline, or the URL it is served at."""
    return {"@context": context, **_entry_offer(entry)}
