"""The DATAtourisme adapter: a JSON-LD flux (one object per file) mapped to offers of the hub.

A flux is a single `.json` file, a folder of them (read recursively) or a `.zip` of them; files
are read in path order, and the flux's `index.json` at the top is skipped. A file that cannot be
read (unreadable, too large, refused from the zip by `producers.zip_archive`'s bounds, not JSON or
nested too deep for `producers.bounded_json`) is reported as a failed file and the others are
read: the import then knows its snapshot is incomplete. A file may also hold a
list of objects or an `{"@graph": [...]}`. JSON-LD is lenient and so is this reader:

- any value may be one value or a list; literals may be plain or `{"@value": ..}`; keys are found
  with or without their `schema:` prefix; texts are `{lang: [text]}` maps, `{"@language", "@value"}`
  objects or plain (French) strings; language tags are cut to their language (`fr-FR` -> `fr`) and
  only the base's six languages are kept;
- a record that cannot be an offer (no `dc:identifier`, no type the hub knows, no French label, no
  findable commune) is left out and reported; a value that cannot be read is left out of an
  otherwise imported record and reported; unknown keys are ignored;
- texts listed in `hasTranslatedProperty` (a `dc:language` and the translated property) are marked
  machine-translated; a property-less entry marks every text in that language.

The offer id is `dc:identifier` (in Normandy the Tourinsoft id), the source id the object's `@id`.
`SOURCE_FIELDS` lists which key feeds which group. A group is set only when the record gives
something for it, except names, location, diffusion (published) and external ids (the `@id`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import TypeVar

from hub.core.offer import (
    LANGUAGES,
    Address,
    Capacity,
    Contact,
    ContactKind,
    DiffusionStatus,
    EventDate,
    ExternalId,
    GeoPoint,
    LocalizedText,
    Location,
    Media,
    OfferFields,
    OfferType,
    OpeningPeriod,
    PriceLine,
    Prices,
    TranslationSource,
)
from hub.core.territory import Territory
from producers import bounded_json, zip_archive
from producers.snapshot import (
    CommuneNames,
    ParsedSnapshot,
    RecordProblem,
    SnapshotCollector,
    SnapshotError,
    SnapshotOffer,
    parse_coordinate,
    parse_count,
    parse_day,
    parse_decimal,
    parse_instant,
)

SOURCE_SYSTEM = "datatourisme"

# The flux carries no licence per image: the professional's concession of rights governs it.
MEDIA_LICENCE = "concession de droits (DATAtourisme)"

SOURCE_FIELDS: Mapping[str, str] = {
    "names": "rdfs:label",
    "descriptions": "hasDescription[].dc:description, else shortDescription, else rdfs:comment",
    "location": "isLocatedAt[].schema:address[] (schema:streetAddress, schema:postalCode, "
    "hasAddressCity.insee or its rdfs:label) and isLocatedAt[].schema:geo",
    "contacts": "hasContact[] (schema:telephone, schema:email, foaf:homepage, schema:faxNumber)",
    "opening": "isLocatedAt[].schema:openingHoursSpecification[] (schema:validFrom, "
    "schema:validThrough), for every type but FMA",
    "event_dates": "takesPlaceAt[] (startDate, endDate), for FMA",
    "prices": "offers[].schema:priceSpecification[] (schema:minPrice, schema:maxPrice, "
    "schema:priceCurrency)",
    "capacity": "allowedPersons, schema:numberOfRooms, numberOfPitches",
    "media": "hasMainRepresentation, hasRepresentation: ebucore:hasRelatedResource[] "
    "(ebucore:locator, ebucore:title) with annotations credits, rightsStartDate, rightsEndDate",
    "diffusion": "published (the flux holds what the contributor diffuses)",
    "external_ids": "@id",
}

# DATAtourisme classes, most specific bordereau first: a hotel-restaurant is HOT, a camping HPA
# though it is an Accommodation too, a village's heritage VIL though it is a CulturalSite.
_TYPE_CLASSES: tuple[tuple[OfferType, tuple[str, ...]], ...] = (
    (
        OfferType.FMA,
        (
            "EntertainmentAndEvent",
            "SaleEvent",
            "CulturalEvent",
            "SportsEvent",
            "BusinessEvent",
            "SocialEvent",
            "Event",
        ),
    ),
    (
        OfferType.ITI,
        (
            "Tour",
            "CyclingTour",
            "FluvialTour",
            "WalkingTour",
            "RoadTour",
            "HorseTour",
            "UnderwaterRoute",
        ),
    ),
    (OfferType.HPA, ("CampingAndCaravanning", "Camping", "CamperVanArea", "Campground")),
    (OfferType.HOT, ("HotelTrade", "Hotel", "HotelRestaurant")),
    (
        OfferType.HLO,
        (
            "RentalAccommodation",
            "SelfCateringAccommodation",
            "Guesthouse",
            "TableHoteGuesthouse",
            "CollectiveAccommodation",
            "HolidayResort",
            "GroupLodging",
            "Accommodation",
        ),
    ),
    (OfferType.VIL, ("CityHeritage", "City", "Village")),
    (OfferType.DEG, ("TastingProvider",)),
    (
        OfferType.RES,
        (
            "FoodEstablishment",
            "Restaurant",
            "BarOrPub",
            "BistroOrWineBar",
            "CafeOrTeahouse",
            "FastFoodRestaurant",
            "StreetFood",
            "IceCreamShop",
            "Bakery",
            "Cellar",
        ),
    ),
    (
        OfferType.PCU,
        (
            "CulturalSite",
            "Museum",
            "Castle",
            "RemarkableBuilding",
            "ReligiousSite",
            "Church",
            "ParkAndGarden",
            "ArcheologicalSite",
            "DefenceSite",
            "RemembranceSite",
            "InterpretationCentre",
            "TechnicalHeritage",
            "Library",
        ),
    ),
    (OfferType.PNA, ("NaturalHeritage",)),
    (OfferType.ASC, ("ActivityProvider",)),
    (OfferType.LOI, ("SportsAndLeisurePlace", "MedicalPlace", "Spa", "ThalassotherapyCentre")),
    (OfferType.ORG, ("TouristInformationCenter", "LocalTouristOffice", "BusinessPlace")),
    (OfferType.COM, ("Store", "ServiceProvider", "ShoppingCentre")),
)

_CONTACT_KEYS: tuple[tuple[ContactKind, tuple[str, ...]], ...] = (
    (ContactKind.PHONE, ("schema:telephone", "telephone")),
    (ContactKind.EMAIL, ("schema:email", "email")),
    (ContactKind.WEBSITE, ("foaf:homepage", "homepage", "schema:url")),
    (ContactKind.FAX, ("schema:faxNumber", "faxNumber")),
)

_CAPACITY_KEYS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("persons", ("allowedPersons", "schema:maximumAttendeeCapacity", "maximumAttendeeCapacity")),
    ("rooms", ("schema:numberOfRooms", "numberOfRooms")),
    ("pitches", ("numberOfPitches",)),
)

_T = TypeVar("_T")


class _Skip(Exception):
    """The record cannot become an offer: which key, and why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class _Document:
    """One JSON file of the flux: where it was found and its bytes, or why it cannot be read."""

    name: str
    content: bytes = b""
    failure: str | None = None


# ---------------------------------------------------------------- reading the flux


def read_flux(
    path: Path,
    territory: Territory,
    *,
    taken_at: datetime,
    limits: zip_archive.Limits = zip_archive.DEFAULT_LIMITS,
) -> ParsedSnapshot:
    """Parse a flux: a JSON file, a folder of them or a .zip of them (see the module doc).

    A file of the flux that cannot be read (unreadable, larger than `limits.member_bytes`, refused
    from the archive, not JSON, nested too deep) is a `FileFailure` and the others are read; a
    flux that cannot be read at all raises `SnapshotError`.
    """
    if path.is_dir():
        documents = _folder(path, limits.member_bytes)
    elif path.suffix.lower() == ".zip":
        documents = _archive(path, limits)
    else:
        (document,) = _files(path.parent, [path], limits.member_bytes)
        if document.failure is not None:
            raise SnapshotError(document.failure)
        documents = iter([document])
    communes = CommuneNames(territory)
    collected = SnapshotCollector("dc:identifier")
    for document in documents:
        if document.failure is not None:
            collected.failed(document.name, document.failure)
            continue
        try:
            decoded = bounded_json.loads(document.content)
        except bounded_json.TooDeep as error:
            collected.failed(document.name, f"refused: {error}")
            continue
        except ValueError as error:
            collected.failed(document.name, f"not JSON ({error}); export the file again")
            continue
        for position, raw in enumerate(_records(decoded), start=1):
            where = document.name if position == 1 else f"{document.name}#{position}"
            offer, record_problems = parse_object(raw, where, communes, taken_at=taken_at)
            collected.add(offer, record_problems, where, file=document.name)
    return collected.parsed()


def _folder(root: Path, member_bytes: int) -> Iterator[_Document]:
    try:
        paths = sorted(
            p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in (".json", ".jsonld")
        )
    except OSError as error:
        raise SnapshotError(f"cannot list the DATAtourisme flux {root}: {error}") from error
    yield from _files(
        root, [p for p in paths if not _is_index(p.relative_to(root).as_posix())], member_bytes
    )


def _files(root: Path, paths: list[Path], member_bytes: int) -> Iterator[_Document]:
    """Each file read whole, unless it cannot be read or is larger than a zip member may be."""
    for path in paths:
        relative = path.relative_to(root).as_posix()
        try:
            size = path.stat().st_size
            if size > member_bytes:
                yield _Document(
                    relative,
                    failure=f"{path} is refused: it holds {size} bytes, more than the "
                    f"{member_bytes} one file of a flux may; export it again",
                )
                continue
            yield _Document(relative, path.read_bytes())
        except OSError as error:
            yield _Document(relative, failure=f"cannot read {path}: {error}")


def _archive(path: Path, limits: zip_archive.Limits) -> Iterator[_Document]:
    def wanted(name: str) -> bool:
        return PurePosixPath(name).suffix in (".json", ".jsonld") and not _is_index(name)

    try:
        for member in zip_archive.members(path, wanted, limits):
            yield _Document(member.name, member.content, member.refusal)
    except zip_archive.ArchiveRefused as error:
        raise SnapshotError(str(error)) from error


def _is_index(relative: str) -> bool:
    # The flux's table of contents, and its JSON-LD context: not offers.
    return relative in ("index.json", "context.jsonld", "context.json")


def _records(decoded: object) -> list[object]:
    if isinstance(decoded, dict) and isinstance(decoded.get("@graph"), list):
        return list(decoded["@graph"])
    if isinstance(decoded, list):
        return decoded
    return [decoded]


# ---------------------------------------------------------------- one object


def parse_object(
    raw: object, where: str, communes: CommuneNames, *, taken_at: datetime
) -> tuple[SnapshotOffer | None, list[RecordProblem]]:
    """One JSON-LD object as an offer (or None) with the problems found in it.

    `where` names the object in reports until its id is known; `taken_at` stands in for a
    missing `lastUpdate`.
    """
    if not isinstance(raw, dict):
        return None, [RecordProblem(where, "", f"is {_shown(raw)}, not a JSON-LD object")]
    identifier = _string(_get(raw, "dc:identifier", "identifier"))
    if identifier is None:
        label = _string(raw.get("@id")) or where
        return None, [
            RecordProblem(label, "dc:identifier", "missing: every object needs its offer id")
        ]
    record = _Object(raw, identifier)
    try:
        offer = record.offer(communes, taken_at)
    except _Skip as skip:
        return None, [*record.problems, RecordProblem(identifier, skip.field, skip.reason)]
    return offer, record.problems


class _Object:
    """One JSON-LD object being mapped; collects the problems of the values it reads."""

    def __init__(self, raw: Mapping[str, object], offer_id: str) -> None:
        self.raw = raw
        self.offer_id = offer_id
        self.source_id = _string(raw.get("@id")) or offer_id
        self.problems: list[RecordProblem] = []

    def warn(self, field: str, reason: str) -> None:
        self.problems.append(RecordProblem(self.offer_id, field, reason, skipped=False))

    def offer(self, communes: CommuneNames, taken_at: datetime) -> SnapshotOffer:
        offer_type = self.offer_type()
        machine = self.machine_translated()
        names = _one_per_language(
            [(lang, text, "label") for lang, text in _texts(_get(self.raw, "rdfs:label"))],
            machine,
        )
        if not any(name.lang == "fr" for name in names):
            raise _Skip("rdfs:label", "no French label: every offer needs its name in French")
        is_event = offer_type is OfferType.FMA
        fields = OfferFields(
            names=names,
            descriptions=_or_none(_one_per_language(self.description_texts(), machine)),
            location=self.location(communes),
            contacts=_or_none(self.contacts()),
            opening=None if is_event else _or_none(self.opening()),
            event_dates=_or_none(self.event_dates()) if is_event else None,
            prices=self.prices(),
            capacity=self.capacity(),
            media=_or_none(self.media()),
            diffusion=DiffusionStatus.PUBLISHED,
            external_ids=(ExternalId(SOURCE_SYSTEM, self.source_id),),
        )
        return SnapshotOffer(
            offer_id=self.offer_id,
            offer_type=offer_type,
            fields=fields,
            occurred_at=self.updated(taken_at),
            source_id=self.source_id,
        )

    def offer_type(self) -> OfferType:
        classes = {_local_name(name) for name in _strings(self.raw.get("@type"))}
        for offer_type, names in _TYPE_CLASSES:
            if any(name in classes for name in names):
                return offer_type
        shown = ", ".join(sorted(classes)) or "none"
        raise _Skip("@type", f"no type the hub maps to a bordereau among: {shown}")

    def updated(self, taken_at: datetime) -> datetime:
        key = "lastUpdate" if "lastUpdate" in self.raw else "lastUpdateDatatourisme"
        text = _string(self.raw.get(key))
        if text is None:
            self.warn("lastUpdate", "missing; the snapshot's time is used as the change's time")
            return taken_at
        try:
            return parse_instant(text)
        except ValueError as error:
            self.warn(key, f"{error}; the snapshot's time is used instead")
            return taken_at

    def machine_translated(self) -> set[tuple[str, str]]:
        """(language, property) pairs marked as translated; property "" means every property."""
        marked: set[tuple[str, str]] = set()
        for entry in _objects(self.raw.get("hasTranslatedProperty")):
            languages = [_language(tag) for tag in _strings(_get(entry, "dc:language", "language"))]
            properties = [
                _local_name(p)
                for p in _strings(_get(entry, "rdf:predicate", "property", "rdf:property"))
            ] or [""]
            marked |= {(lang, prop) for lang in languages for prop in properties}
        return marked

    def description_texts(self) -> list[tuple[str, str, str]]:
        """(language, text, property) in order of preference: long, then short, then comment."""
        found: list[tuple[str, str, str]] = []
        descriptions = _objects(self.raw.get("hasDescription"))
        for entry in descriptions:
            found += [(lang, t, "description") for lang, t in _texts(_get(entry, "dc:description"))]
        for holder in [*descriptions, self.raw]:
            found += [
                (lang, t, "shortDescription")
                for lang, t in _texts(_get(holder, "shortDescription"))
            ]
        found += [(lang, t, "comment") for lang, t in _texts(_get(self.raw, "rdfs:comment"))]
        return found

    def places(self) -> list[Mapping[str, object]]:
        return _objects(self.raw.get("isLocatedAt"))

    def location(self, communes: CommuneNames) -> Location:
        places = self.places()
        addresses = [
            (i, a) for i, p in enumerate(places) for a in _objects(_get(p, "schema:address"))
        ]
        if not addresses:
            raise _Skip("isLocatedAt.schema:address", "missing: the offer has no address")
        index, address = addresses[0]
        at = f"isLocatedAt[{index + 1}].schema:address"
        postal_code = _string(_get(address, "schema:postalCode"))
        cities = _objects(_get(address, "hasAddressCity"))
        insee = next((code for c in cities if (code := _string(_get(c, "insee")))), None)
        city_name = next((_french(_texts(_get(c, "rdfs:label"))) for c in cities), None)
        city_name = city_name or _string(_get(address, "schema:addressLocality"))
        if insee is None:
            if city_name is None:
                raise _Skip(f"{at}.hasAddressCity", "missing: neither an INSEE code nor a name")
            insee, why = communes.resolve(city_name, postal_code)
            if insee is None:
                raise _Skip(f"{at}.hasAddressCity", why or "not found")
        street = ", ".join(_strings(_get(address, "schema:streetAddress"))) or None
        known = communes.territory.get(insee)
        return Location(
            Address(
                commune_insee=insee,
                street=street,
                postal_code=postal_code,
                commune_name=known.name if known is not None else city_name,
            ),
            self.geo(places[index], f"isLocatedAt[{index + 1}].schema:geo"),
        )

    def geo(self, place: Mapping[str, object], at: str) -> GeoPoint | None:
        points = _objects(_get(place, "schema:geo"))
        if not points:
            return None
        latitude = _scalar(_get(points[0], "schema:latitude"))
        longitude = _scalar(_get(points[0], "schema:longitude"))
        if latitude is None or longitude is None:
            self.warn(at, "a coordinate is missing; no point is kept")
            return None
        try:
            return GeoPoint(parse_coordinate(latitude), parse_coordinate(longitude))
        except ValueError as error:
            self.warn(at, f"{error}; no point is kept")
            return None

    def contacts(self) -> tuple[Contact, ...]:
        contacts: list[Contact] = []
        for agent in _objects(self.raw.get("hasContact")):
            for kind, keys in _CONTACT_KEYS:
                contacts += [Contact(kind, value) for value in _strings(_get(agent, *keys))]
        return tuple(contacts)

    def opening(self) -> tuple[OpeningPeriod, ...]:
        periods: list[OpeningPeriod] = []
        for p, place in enumerate(self.places(), start=1):
            specs = _objects(_get(place, "schema:openingHoursSpecification"))
            for s, spec in enumerate(specs, start=1):
                at = f"isLocatedAt[{p}].schema:openingHoursSpecification[{s}]"
                span = self.span(spec, at, ("schema:validFrom",), ("schema:validThrough",))
                if span is not None:
                    note = _french(_texts(_get(spec, "additionalInformation")))
                    periods.append(OpeningPeriod(span[0], span[1], note=note))
        return tuple(periods)

    def event_dates(self) -> tuple[EventDate, ...]:
        dates: list[EventDate] = []
        for i, period in enumerate(_objects(self.raw.get("takesPlaceAt")), start=1):
            span = self.span(period, f"takesPlaceAt[{i}]", ("startDate",), ("endDate",))
            if span is not None:
                dates.append(EventDate(*span))
        return tuple(dates)

    def span(
        self, holder: Mapping[str, object], at: str, starts: tuple[str, ...], ends: tuple[str, ...]
    ) -> tuple[date, date] | None:
        start_text, end_text = _string(_get(holder, *starts)), _string(_get(holder, *ends))
        if start_text is None:
            self.warn(at, "no start date; the period is left out")
            return None
        try:
            start = parse_day(start_text)
            return start, parse_day(end_text) if end_text else start
        except ValueError as error:
            self.warn(at, f"{error}; the period is left out")
            return None

    def prices(self) -> Prices | None:
        lines: list[PriceLine] = []
        for o, offer in enumerate(_objects(_get(self.raw, "offers", "schema:offers")), start=1):
            specs = _objects(_get(offer, "schema:priceSpecification"))
            for s, spec in enumerate(specs, start=1):
                at = f"offers[{o}].schema:priceSpecification[{s}]"
                line = self.price_line(spec, at)
                if line is not None:
                    lines.append(line)
        return Prices(lines=tuple(lines)) if lines else None

    def price_line(self, spec: Mapping[str, object], at: str) -> PriceLine | None:
        amounts: list[Decimal | None] = []
        for key in ("schema:minPrice", "schema:maxPrice"):
            text = _string(_get(spec, key))
            try:
                amounts.append(parse_decimal(text) if text is not None else None)
            except ValueError as error:
                self.warn(f"{at}.{key}", f"{error}; the price line is left out")
                return None
        label = _french(_texts(_get(spec, "rdfs:label", "schema:name")))
        for key in ("hasPricingOffer", "hasPricingMode", "hasAudience"):
            label = label or next(
                (_french(_texts(_get(o, "rdfs:label"))) for o in _objects(spec.get(key))), None
            )
        currency = (_string(_get(spec, "schema:priceCurrency")) or "EUR").upper()
        return PriceLine(label or "Tarif", amounts[0], amounts[1], currency)

    def capacity(self) -> Capacity | None:
        counts: dict[str, int] = {}
        for name, keys in _CAPACITY_KEYS:
            text = _string(_get(self.raw, *keys))
            if text is None:
                continue
            try:
                counts[name] = parse_count(text)
            except ValueError as error:
                self.warn(keys[0], str(error))
        return Capacity(**counts) if counts else None

    def media(self) -> tuple[Media, ...]:
        """One medium per representation: its first related resource that has a locator."""
        media: list[Media] = []
        seen: set[str] = set()
        representations = [
            (f"{key}[{i}]", rep)
            for key in ("hasMainRepresentation", "hasRepresentation")
            for i, rep in enumerate(_objects(self.raw.get(key)), start=1)
        ]
        for at, representation in representations:
            resources = _objects(_get(representation, "ebucore:hasRelatedResource"))
            located = [(r, url) for r in resources if (url := _string(_get(r, "ebucore:locator")))]
            if not located:
                self.warn(at, "no ebucore:locator in its related resources; it is left out")
                continue
            resource, url = located[0]
            if url in seen:
                continue  # the main representation is often listed among the others too
            seen.add(url)
            item = self.medium(representation, resource, url, at)
            if item is not None:
                media.append(item)
        return tuple(media)

    def medium(
        self,
        representation: Mapping[str, object],
        resource: Mapping[str, object],
        url: str,
        at: str,
    ) -> Media | None:
        holders = [representation, resource]
        for holder in (representation, resource):
            holders += _objects(_get(holder, "ebucore:hasAnnotation", "hasAnnotation"))

        def first(*keys: str) -> str | None:
            return next((v for h in holders if (v := _french(_texts(_get(h, *keys))))), None)

        credit = first("credits", "ebucore:credits")
        if credit is None:
            self.warn(at, "the medium has no credits; it is left out (media are diffused with it)")
            return None
        rights: list[date | None] = []
        for key in ("rightsStartDate", "rightsEndDate"):
            text = first(key)
            try:
                rights.append(parse_day(text) if text else None)
            except ValueError as error:
                self.warn(f"{at}.{key}", f"{error}; the medium is left out")
                return None
        return Media(
            url=url,
            credit=credit,
            licence=MEDIA_LICENCE,
            title=first("ebucore:title"),
            rights_start=rights[0],
            rights_end=rights[1],
        )


# ---------------------------------------------------------------- JSON-LD values


def _get(holder: Mapping[str, object], *keys: str) -> object:
    """The first key present, each also tried without its prefix (`schema:geo` or `geo`)."""
    for key in keys:
        for candidate in (key, key.partition(":")[2]):
            if candidate and candidate in holder:
                return holder[candidate]
    return None


def _list(value: object) -> list[object]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _objects(value: object) -> list[Mapping[str, object]]:
    return [item for item in _list(value) if isinstance(item, dict)]


def _scalar(value: object) -> object:
    """A literal's value: the first of a list, the `@value` of an object."""
    for item in _list(value):
        if isinstance(item, dict):
            item = item.get("@value")
        if item is not None:
            return item
    return None


def _strings(value: object) -> list[str]:
    found: list[str] = []
    for item in _list(value):
        if isinstance(item, dict):
            item = item.get("@value", item.get("@id"))
        if isinstance(item, str | int | float) and not isinstance(item, bool):
            text = str(item).strip()
            if text:
                found.append(text)
    return found


def _string(value: object) -> str | None:
    strings = _strings(value)
    return strings[0] if strings else None


def _texts(value: object) -> list[tuple[str, str]]:
    """(language, text) pairs of a language map, language-tagged literals or plain strings."""
    found: list[tuple[str, str]] = []
    for item in _list(value):
        if isinstance(item, str):
            if item.strip():
                found.append(("fr", item.strip()))
        elif isinstance(item, dict) and "@value" in item:
            text = _string(item)
            if text is not None:
                found.append((_language(_string(item.get("@language")) or "fr"), text))
        elif isinstance(item, dict):
            for tag, texts in item.items():
                found += [(_language(str(tag)), text) for text in _strings(texts)]
    return found


def _french(texts: list[tuple[str, str]]) -> str | None:
    """The French text if there is one, else the first."""
    return next((t for lang, t in texts if lang == "fr"), texts[0][1] if texts else None)


def _one_per_language(
    texts: list[tuple[str, str, str]], machine: set[tuple[str, str]]
) -> tuple[LocalizedText, ...]:
    """The first text per language, in LANGUAGES order, marked machine-translated if listed."""
    first: dict[str, tuple[str, str]] = {}
    for lang, text, prop in texts:
        first.setdefault(lang, (text, prop))
    return tuple(
        LocalizedText(
            lang,
            first[lang][0],
            TranslationSource.MACHINE
            if {(lang, first[lang][1]), (lang, "")} & machine
            else TranslationSource.HUMAN,
        )
        for lang in LANGUAGES
        if lang in first
    )


def _language(tag: str) -> str:
    return tag.strip().lower().replace("_", "-").split("-")[0]


def _local_name(name: str) -> str:
    """`schema:Hotel`, `https://www.datatourisme.fr/ontology/core#Hotel` -> `Hotel`."""
    for separator in ("#", "/", ":"):
        name = name.rsplit(separator, 1)[-1]
    return name


def _or_none(items: tuple[_T, ...]) -> tuple[_T, ...] | None:
    return items or None


def _shown(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."
