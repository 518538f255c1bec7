"""The Tourinsoft adapter: a syndication export (OData JSON) mapped to offers of the hub.

A Tourinsoft syndication answers `{"value": [record, ...]}`, one flat record per offer, whose
multi-valued fields are packed in strings: `#` between items, `|` between an item's sub-fields.
`parse_export` maps what it can and never stops at a bad record:

- a record that cannot be an offer (no id, unknown type, no French name, no findable commune) is
  left out and reported; a value that cannot be read (a photo without credit, a price that is not
  a number, an unknown label) is left out of an otherwise imported record and reported too;
- unknown fields are ignored; text or numbers are accepted where either may come, and a packed
  field may also come as a JSON list of items (each a packed string or a list of sub-fields);
- times without an offset are French local time; `Updated` is the change's time (the snapshot's
  time if a record has none); dates may be dd/mm/yyyy or ISO; decimals may use ',' or '.'.

Which source field feeds which group is listed in `SOURCE_FIELDS` (and in each function's doc).
A group is set only when the record gives something for it, except the names, the location, the
diffusion (every exported offer is published) and the external ids (the Tourinsoft id).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar

from hub.core.offer import (
    LANGUAGES,
    Address,
    Capacity,
    Classification,
    ClassificationScheme,
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
)
from hub.core.territory import Territory
from producers import bounded_json
from producers.snapshot import (
    CommuneNames,
    ParsedSnapshot,
    RecordProblem,
    SnapshotCollector,
    SnapshotError,
    SnapshotOffer,
    fold,
    parse_coordinate,
    parse_count,
    parse_day,
    parse_decimal,
    parse_instant,
)

SOURCE_SYSTEM = "tourinsoft"

# Neither export says under which licence a photo is diffused: the professional's contract of
# concession of rights with the contributor does, so that is what the licence names.
MEDIA_LICENCE = "concession de droits (Tourinsoft)"

SOURCE_FIELDS: Mapping[str, str] = {
    "names": "NomOffre (+ _GB, _DE, _NL, _IT, _ES)",
    "descriptions": "DescriptionCommerciale (+ _GB, _DE, _NL, _IT, _ES)",
    "location": "Adresse1, Adresse2, Adresse3, CP, Commune or CodeInsee, GmapLatitude, "
    "GmapLongitude",
    "contacts": "MoyenDeCom (kind|value|label#...)",
    "opening": "PeriodeOuverture (start|end|note#...), for every type but FMA",
    "event_dates": "PeriodeOuverture (start|end#...), for FMA",
    "prices": "Tarifs (label|min|max#...)",
    "classifications": "ClassementPrefectoral, Labels (#-separated)",
    "capacity": "CapacitePersonnes, NombreChambres, NombreEmplacements",
    "media": "Photos (url|title|credit#...)",
    "diffusion": "published (the export holds what the contributor syndicates)",
    "external_ids": "SyndicObjectID",
}

# Tourinsoft's suffixes for the translations of a text field; no suffix is French.
_LANGUAGE_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("", "fr"),
    ("_GB", "en"),
    ("_UK", "en"),
    ("_EN", "en"),
    ("_DE", "de"),
    ("_NL", "nl"),
    ("_IT", "it"),
    ("_ES", "es"),
)

# `ObjectTypeName` as Tourinsoft spells its bordereaux, compared with `fold`.
_TYPE_NAMES: Mapping[str, OfferType] = {
    "hotellerie": OfferType.HOT,
    "hotel": OfferType.HOT,
    "hotels": OfferType.HOT,
    "hotellerie de plein air": OfferType.HPA,
    "camping": OfferType.HPA,
    "campings": OfferType.HPA,
    "hebergements locatifs": OfferType.HLO,
    "hebergement locatif": OfferType.HLO,
    "meubles et chambres d hotes": OfferType.HLO,
    "restauration": OfferType.RES,
    "restaurants": OfferType.RES,
    "loisirs": OfferType.LOI,
    "activites sportives et culturelles": OfferType.ASC,
    "activites sportives culturelles": OfferType.ASC,
    "degustation": OfferType.DEG,
    "degustations": OfferType.DEG,
    "patrimoine culturel": OfferType.PCU,
    "patrimoine naturel": OfferType.PNA,
    "fetes et manifestations": OfferType.FMA,
    "manifestations": OfferType.FMA,
    "itineraires": OfferType.ITI,
    "itineraires touristiques": OfferType.ITI,
    "organismes": OfferType.ORG,
    "villes et villages": OfferType.VIL,
    "commerces": OfferType.COM,
    "commerces et services": OfferType.COM,
}

# `MoyenDeCom` kinds, compared with `fold`; social networks keep their name as the label.
_CONTACT_KINDS: Mapping[str, ContactKind] = {
    "telephone": ContactKind.PHONE,
    "tel": ContactKind.PHONE,
    "telephone fixe": ContactKind.PHONE,
    "portable": ContactKind.MOBILE,
    "telephone portable": ContactKind.MOBILE,
    "mobile": ContactKind.MOBILE,
    "fax": ContactKind.FAX,
    "telecopie": ContactKind.FAX,
    "mel": ContactKind.EMAIL,
    "mail": ContactKind.EMAIL,
    "email": ContactKind.EMAIL,
    "e mail": ContactKind.EMAIL,
    "courriel": ContactKind.EMAIL,
    "site web": ContactKind.WEBSITE,
    "site web url": ContactKind.WEBSITE,
    "site internet": ContactKind.WEBSITE,
    "url": ContactKind.WEBSITE,
}
_SOCIAL_NETWORKS = ("facebook", "instagram", "twitter", "x", "youtube", "linkedin", "pinterest")

# `Labels` the hub records, by a folded fragment of their name.
_LABEL_SCHEMES: tuple[tuple[str, ClassificationScheme], ...] = (
    ("gites de france", ClassificationScheme.GITES_DE_FRANCE),
    ("clevacances", ClassificationScheme.CLEVACANCES),
    ("logis", ClassificationScheme.LOGIS),
    ("qualite tourisme", ClassificationScheme.QUALITE_TOURISME),
    ("tourisme et handicap", ClassificationScheme.TOURISME_HANDICAP),
    ("tourisme handicap", ClassificationScheme.TOURISME_HANDICAP),
    ("accueil velo", ClassificationScheme.ACCUEIL_VELO),
)

_CAPACITY_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("persons", ("CapacitePersonnes", "NombrePersonnes", "NbPersonnes", "Capacite")),
    ("rooms", ("NombreChambres", "NbChambres")),
    ("pitches", ("NombreEmplacements", "NbEmplacements")),
)

_INSEE_FIELDS = ("CodeInsee", "CodeINSEE", "INSEE", "Insee", "CodeInseeCommune")

_T = TypeVar("_T")

# bordereau (3 letters), base (3), department (3 digits), code: HOTNOR014V500001
_TOURINSOFT_ID = re.compile(r"([A-Z]{3})([A-Z]{3})([0-9]{3})([A-Z0-9]+)")


class _Skip(Exception):
    """The record cannot become an offer: which field, and why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


class _Record:
    """One export record being mapped; collects the problems of the values it reads."""

    def __init__(self, raw: Mapping[str, object], record_id: str) -> None:
        self.raw = raw
        self.record_id = record_id
        self.problems: list[RecordProblem] = []

    def warn(self, field: str, reason: str) -> None:
        self.problems.append(RecordProblem(self.record_id, field, reason, skipped=False))

    def text(self, key: str) -> str | None:
        """The field as a stripped text, None if absent or blank; odd shapes are reported."""
        value = self.raw.get(key)
        if value is None or isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            return str(value)
        if isinstance(value, str):
            return value.strip() or None
        self.warn(key, f"expected a text, found {type(value).__name__} {_shown(value)}")
        return None

    def items(self, key: str) -> list[tuple[int, list[str]]]:
        """A packed field's items (1-based position, stripped sub-fields), blank items dropped."""
        value = self.raw.get(key)
        if value is None:
            return []
        if isinstance(value, str):
            pieces: list[object] = list(value.split("#"))
        elif isinstance(value, list):
            pieces = list(value)
        else:
            self.warn(key, f"expected '#'-separated items, found {_shown(value)}")
            return []
        found: list[tuple[int, list[str]]] = []
        for position, piece in enumerate(pieces, start=1):
            if isinstance(piece, str):
                parts = piece.split("|")
            elif isinstance(piece, list) and all(isinstance(p, str | int | float) for p in piece):
                parts = [str(p) for p in piece]
            else:
                self.warn(
                    f"{key}[{position}]", f"expected 'a|b|c' sub-fields, found {_shown(piece)}"
                )
                continue
            parts = [part.strip() for part in parts]
            if any(parts):
                found.append((position, parts))
        return found


def read_export(path: Path, territory: Territory, *, taken_at: datetime) -> ParsedSnapshot:
    """Parse the export file at `path` (see `parse_export`)."""
    try:
        document = bounded_json.loads(path.read_bytes())
    except OSError as error:
        raise SnapshotError(f"cannot read the Tourinsoft export {path}: {error}") from error
    except bounded_json.TooDeep as error:
        raise SnapshotError(f"the Tourinsoft export {path} is refused: {error}") from error
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError
        raise SnapshotError(
            f"{path} is not JSON ({error}); expected a Tourinsoft syndication export "
            '{"value": [...]}'
        ) from error
    return parse_export(document, territory, taken_at=taken_at, origin=str(path))


def parse_export(
    document: object, territory: Territory, *, taken_at: datetime, origin: str = "the export"
) -> ParsedSnapshot:
    """Every offer of a decoded export, and every problem, in the export's order.

    `taken_at` (timezone-aware) stands in for a record without `Updated`.
    """
    if isinstance(document, dict) and isinstance(document.get("value"), list):
        records: list[object] = document["value"]
    elif isinstance(document, list):
        records = document
    else:
        raise SnapshotError(
            f"{origin} is not a Tourinsoft syndication export: expected an object with a "
            '"value" list of records, {"value": [...]}'
        )
    communes = CommuneNames(territory)
    collected = SnapshotCollector("SyndicObjectID")
    for position, raw in enumerate(records, start=1):
        offer, record_problems = parse_record(raw, position, communes, taken_at=taken_at)
        collected.add(offer, record_problems, f"record {position}", file=origin)
    return collected.parsed()


def parse_record(
    raw: object, position: int, communes: CommuneNames, *, taken_at: datetime
) -> tuple[SnapshotOffer | None, list[RecordProblem]]:
    """One export record as an offer (or None) with the problems found in it."""
    if not isinstance(raw, dict):
        return None, [
            RecordProblem(f"record {position}", "", f"is {_shown(raw)}, not a JSON object")
        ]
    offer_id = raw.get("SyndicObjectID")
    if not isinstance(offer_id, str) or not offer_id.strip():
        return None, [
            RecordProblem(
                f"record {position}",
                "SyndicObjectID",
                "missing or not a text: every record needs its Tourinsoft offer id",
            )
        ]
    record = _Record(raw, offer_id.strip())
    try:
        offer = _offer(record, communes, taken_at)
    except _Skip as skip:
        return None, [*record.problems, RecordProblem(record.record_id, skip.field, skip.reason)]
    return offer, record.problems


def _offer(record: _Record, communes: CommuneNames, taken_at: datetime) -> SnapshotOffer:
    offer_type = _offer_type(record)
    names = _texts(record, "NomOffre")
    if not any(name.lang == "fr" for name in names):
        raise _Skip("NomOffre", "missing: every offer needs its name in French")
    is_event = offer_type is OfferType.FMA
    periods = _periods(record)
    offer_fields = OfferFields(
        names=names,
        descriptions=_or_none(_texts(record, "DescriptionCommerciale")),
        location=_location(record, communes),
        contacts=_or_none(_contacts(record)),
        opening=None
        if is_event
        else _or_none(tuple(OpeningPeriod(p[0], p[1], note=p[2]) for p in periods)),
        event_dates=_or_none(tuple(EventDate(p[0], p[1]) for p in periods)) if is_event else None,
        prices=_prices(record),
        classifications=_or_none(_classifications(record)),
        capacity=_capacity(record),
        media=_or_none(_media(record)),
        diffusion=DiffusionStatus.PUBLISHED,
        external_ids=(ExternalId(SOURCE_SYSTEM, record.record_id),),
    )
    return SnapshotOffer(
        offer_id=record.record_id,
        offer_type=offer_type,
        fields=offer_fields,
        occurred_at=_updated(record, taken_at),
        source_id=record.record_id,
    )


def _offer_type(record: _Record) -> OfferType:
    """From `ObjectTypeName`, else from the bordereau that starts the offer id."""
    named = record.text("ObjectTypeName")
    from_name: OfferType | None = None
    if named is not None:
        from_name = _TYPE_NAMES.get(fold(named))
        if from_name is None and named.upper() in OfferType.__members__:
            from_name = OfferType[named.upper()]
    shape = _TOURINSOFT_ID.fullmatch(record.record_id.upper())
    from_id = None
    if shape is not None and shape.group(1) in OfferType.__members__:
        from_id = OfferType[shape.group(1)]
    if from_name is not None and from_id is not None and from_name is not from_id:
        raise _Skip(
            "ObjectTypeName",
            f"{named!r} ({from_name.value}) contradicts the bordereau {from_id.value} of the "
            "offer id; correct the type in Tourinsoft",
        )
    offer_type = from_name or from_id
    if offer_type is None:
        known = ", ".join(sorted({name for name in _TYPE_NAMES if " " in name}))
        raise _Skip(
            "ObjectTypeName",
            f"{named!r} is not a bordereau the hub knows and the id does not start with one "
            f"(HOT, HPA, ...); expected one of: {known}",
        )
    return offer_type


def _updated(record: _Record, taken_at: datetime) -> datetime:
    updated = record.text("Updated")
    if updated is None:
        record.warn("Updated", "missing; the snapshot's time is used as the time of the change")
        return taken_at
    try:
        return parse_instant(updated)
    except ValueError as error:
        record.warn("Updated", f"{error}; the snapshot's time is used instead")
        return taken_at


def _texts(record: _Record, base: str) -> tuple[LocalizedText, ...]:
    """One text per language from `base` and its language-suffixed variants, in LANGUAGES order."""
    by_language: dict[str, str] = {}
    for suffix, language in _LANGUAGE_SUFFIXES:
        text = record.text(base + suffix)
        if text is not None and language not in by_language:
            by_language[language] = text
    return tuple(
        LocalizedText(lang, by_language[lang]) for lang in LANGUAGES if lang in by_language
    )


def _location(record: _Record, communes: CommuneNames) -> Location:
    """`CodeInsee` if given, else the commune found by `Commune` and the department of `CP`."""
    postal_code = record.text("CP")
    commune_name = record.text("Commune")
    insee = next((code for key in _INSEE_FIELDS if (code := record.text(key))), None)
    if insee is None:
        if commune_name is None:
            raise _Skip("Commune", "missing, and no CodeInsee either: the offer has no commune")
        insee, why = communes.resolve(commune_name, postal_code)
        if insee is None:
            raise _Skip("Commune", why or "not found")
    street_parts = [
        part for key in ("Adresse1", "Adresse2", "Adresse3") if (part := record.text(key))
    ]
    known = communes.territory.get(insee)
    address = Address(
        commune_insee=insee,
        street=", ".join(street_parts) or None,
        postal_code=postal_code,
        # The official spelling, not the export's ("HONFLEUR", "ST LO").
        commune_name=known.name if known is not None else commune_name,
    )
    return Location(address, _geo(record))


def _geo(record: _Record) -> GeoPoint | None:
    latitude, longitude = record.raw.get("GmapLatitude"), record.raw.get("GmapLongitude")
    if _blank(latitude) and _blank(longitude):
        return None
    if _blank(latitude) or _blank(longitude):
        missing = "GmapLatitude" if _blank(latitude) else "GmapLongitude"
        record.warn(missing, "missing while the other coordinate is given; no point is kept")
        return None
    try:
        return GeoPoint(parse_coordinate(latitude), parse_coordinate(longitude))
    except ValueError as error:
        record.warn("GmapLatitude/GmapLongitude", f"{error}; no point is kept")
        return None


def _contacts(record: _Record) -> tuple[Contact, ...]:
    """`MoyenDeCom`: kind|value[|label] items; social networks are labelled with their name."""
    contacts: list[Contact] = []
    for position, parts in record.items("MoyenDeCom"):
        at = f"MoyenDeCom[{position}]"
        kind_text, value = parts[0], _part(parts, 1)
        label = _part(parts, 2)
        kind = _CONTACT_KINDS.get(fold(kind_text))
        if kind is None and fold(kind_text) in _SOCIAL_NETWORKS:
            kind, label = ContactKind.SOCIAL, kind_text
        if kind is None:
            record.warn(
                at,
                f"contact kind {kind_text!r} is unknown; expected Téléphone, Portable, Fax, Mél, "
                "Site web or a social network",
            )
        elif value is None:
            record.warn(at, f"the {kind_text} has no value")
        else:
            contacts.append(Contact(kind, value, label))
    return tuple(contacts)


def _periods(record: _Record) -> list[tuple[date, date, str | None]]:
    """`PeriodeOuverture`: start|end[|note] items; a missing end means a single day.

    They are opening periods, or the event's dates for an FMA (which has no note).
    """
    periods: list[tuple[date, date, str | None]] = []
    for position, parts in record.items("PeriodeOuverture"):
        try:
            start = parse_day(parts[0])
            end_text = _part(parts, 1)
            end = parse_day(end_text) if end_text else start
        except ValueError as error:
            record.warn(f"PeriodeOuverture[{position}]", str(error))
            continue
        periods.append((start, end, _part(parts, 2)))
    return periods


def _prices(record: _Record) -> Prices | None:
    """`Tarifs`: label|min|max items; a 'Gratuit' line without amounts makes the offer free."""
    lines: list[PriceLine] = []
    free = False
    for position, parts in record.items("Tarifs"):
        at = f"Tarifs[{position}]"
        label = parts[0]
        try:
            minimum, maximum = (
                parse_decimal(text) if (text := _part(parts, index)) else None for index in (1, 2)
            )
        except ValueError as error:
            record.warn(at, f"{error}; the price line is left out")
            continue
        if not label:
            record.warn(at, "the price line has no label; it is left out")
        elif minimum is None and maximum is None and fold(label) in ("gratuit", "entree libre"):
            free = True
        else:
            lines.append(PriceLine(label, minimum, maximum))
    if not lines and not free:
        return None
    return Prices(free=free, lines=tuple(lines))


def _classifications(record: _Record) -> tuple[Classification, ...]:
    """`ClassementPrefectoral` ("3 étoiles") and the recognised `Labels`."""
    found: list[Classification] = []
    stars = record.text("ClassementPrefectoral")
    if stars is not None:
        folded = fold(stars)
        level = re.match(r"([1-5])\b", folded)
        if level is not None:
            found.append(Classification(ClassificationScheme.PREFECTORAL_STARS, level.group(1)))
        elif folded == "palace":
            found.append(Classification(ClassificationScheme.PREFECTORAL_STARS, "palace"))
        elif folded not in ("non classe", "sans classement", "en cours de classement"):
            record.warn(
                "ClassementPrefectoral",
                f"{stars!r} is not a classification; expected 1 to 5 étoiles, Palace or Non classé",
            )
    for position, parts in record.items("Labels"):
        label = parts[0]
        folded = fold(label)
        scheme = next((s for fragment, s in _LABEL_SCHEMES if fragment in folded), None)
        if scheme is None:
            record.warn(f"Labels[{position}]", f"label {label!r} is not one the hub records")
            continue
        level = re.search(r"\b([1-5])\b", folded)
        found.append(Classification(scheme, level.group(1) if level else label))
    return tuple(found)


def _capacity(record: _Record) -> Capacity | None:
    counts: dict[str, int] = {}
    for name, keys in _CAPACITY_FIELDS:
        for key in keys:
            text = record.text(key)
            if text is None:
                continue
            try:
                counts[name] = parse_count(text)
            except ValueError as error:
                record.warn(key, str(error))
            break
    return Capacity(**counts) if counts else None


def _media(record: _Record) -> tuple[Media, ...]:
    """`Photos`: url|title|credit items; a photo without url or credit is left out."""
    media: list[Media] = []
    for position, parts in record.items("Photos"):
        at = f"Photos[{position}]"
        url, title, credit = parts[0], _part(parts, 1), _part(parts, 2)
        if url.startswith("//"):
            url = "https:" + url  # Tourinsoft's media server gives scheme-relative addresses
        if not url:
            record.warn(at, "the photo has no address; it is left out")
        elif credit is None:
            record.warn(at, "the photo has no credit; it is left out (photos are diffused with it)")
        else:
            media.append(Media(url=url, credit=credit, licence=MEDIA_LICENCE, title=title))
    return tuple(media)


def _or_none(items: tuple[_T, ...]) -> tuple[_T, ...] | None:
    return items or None


def _part(parts: list[str], index: int) -> str | None:
    return (parts[index] or None) if index < len(parts) else None


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _shown(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."
