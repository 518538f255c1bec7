"""The tourist offer (*offre*) as the consortium's SIT describes it, split into field groups.

An offer is typed by its *bordereau* and its content is divided into `FieldGroup`s: conventions
grant rights per group, contributions change whole groups, provenance is kept per group. All values
are immutable; collections are tuples in a meaningful order (never sets), so equal content always
serialises to equal bytes. `OfferFields` holds one optional value per group: in a creation every
group the offer has is set, in a change only the changed groups are (``None`` = untouched).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from enum import StrEnum

LANGUAGES: tuple[str, ...] = ("fr", "en", "de", "nl", "it", "es")


class OfferType(StrEnum):
    """The bordereau: the offer's type, as in the shared data-entry charter."""

    HOT = "HOT"  # hôtellerie
    HPA = "HPA"  # hôtellerie de plein air (campsites)
    HLO = "HLO"  # hébergements locatifs (rentals, gîtes)
    RES = "RES"  # restauration
    LOI = "LOI"  # loisirs
    ASC = "ASC"  # activités sportives et culturelles
    DEG = "DEG"  # dégustation
    PCU = "PCU"  # patrimoine culturel
    PNA = "PNA"  # patrimoine naturel
    FMA = "FMA"  # fêtes et manifestations (events)
    ITI = "ITI"  # itinéraires
    ORG = "ORG"  # organismes
    VIL = "VIL"  # villes et villages
    COM = "COM"  # commerces


class FieldGroup(StrEnum):
    """A unit of rights and provenance: conventions cover groups, changes replace groups."""

    NAMES = "names"
    DESCRIPTIONS = "descriptions"
    LOCATION = "location"
    CONTACTS = "contacts"
    OPENING = "opening"
    EVENT_DATES = "event_dates"
    PRICES = "prices"
    CLASSIFICATIONS = "classifications"
    ACCESSIBILITY = "accessibility"
    CAPACITY = "capacity"
    MEDIA = "media"
    DIFFUSION = "diffusion"
    EXTERNAL_IDS = "external_ids"
    PRIVATE = "private"


# The only group that is never diffused, whatever a convention says (architecture §4 rule 7).
PRIVATE_GROUPS: tuple[FieldGroup, ...] = (FieldGroup.PRIVATE,)


class TranslationSource(StrEnum):
    HUMAN = "human"
    MACHINE = "machine"


class ContactKind(StrEnum):
    PHONE = "phone"
    MOBILE = "mobile"
    FAX = "fax"
    EMAIL = "email"
    WEBSITE = "website"
    SOCIAL = "social"


class DiffuserClass(StrEnum):
    """Classes of diffuser a concession of rights (or a media licence) may allow."""

    INSTITUTIONAL = "institutional"  # the CRT, the CDTs and the OTs themselves
    PARTNER = "partner"  # partner diffusers with preferential terms
    OTHER = "other"  # every other diffuser under a convention
    OPEN_DATA = "open_data"  # open-data publication


class DiffusionStatus(StrEnum):
    PUBLISHED = "published"
    UNPUBLISHED = "unpublished"  # kept in the base, diffused to no one


class ClassificationScheme(StrEnum):
    PREFECTORAL_STARS = "prefectoral_stars"
    GITES_DE_FRANCE = "gites_de_france"
    CLEVACANCES = "clevacances"
    LOGIS = "logis"
    QUALITE_TOURISME = "qualite_tourisme"
    TOURISME_HANDICAP = "tourisme_handicap"
    ACCUEIL_VELO = "accueil_velo"


class Disability(StrEnum):
    """The four families of the Tourisme & Handicap label."""

    MOTOR = "motor"
    VISUAL = "visual"
    HEARING = "hearing"
    MENTAL = "mental"


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


@dataclass(frozen=True)
class LocalizedText:
    """A text in one language, with how it was produced (per-language provenance)."""

    lang: str
    text: str
    source: TranslationSource = TranslationSource.HUMAN


@dataclass(frozen=True)
class Address:
    commune_insee: str
    street: str | None = None
    postal_code: str | None = None
    commune_name: str | None = None


@dataclass(frozen=True)
class GeoPoint:
    latitude: float
    longitude: float


@dataclass(frozen=True)
class Location:
    address: Address
    geo: GeoPoint | None = None


@dataclass(frozen=True)
class Contact:
    kind: ContactKind
    value: str
    label: str | None = None


@dataclass(frozen=True)
class OpeningPeriod:
    start: date
    end: date
    weekdays: tuple[Weekday, ...] = ()  # empty: every day
    note: str | None = None


@dataclass(frozen=True)
class EventDate:
    """One occurrence of an event (FMA): from `start` to `end` inclusive."""

    start: date
    end: date


@dataclass(frozen=True)
class PriceLine:
    label: str
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    currency: str = "EUR"


@dataclass(frozen=True)
class Prices:
    free: bool = False
    lines: tuple[PriceLine, ...] = ()


@dataclass(frozen=True)
class Classification:
    """A classification or label: prefectoral stars ("3"), Gîtes de France ears, Logis, ..."""

    scheme: ClassificationScheme
    value: str
    valid_until: date | None = None


@dataclass(frozen=True)
class Accessibility:
    disabilities: tuple[Disability, ...] = ()  # families the place welcomes
    wheelchair_access: bool | None = None
    note: str | None = None


@dataclass(frozen=True)
class Capacity:
    persons: int | None = None
    rooms: int | None = None
    pitches: int | None = None


@dataclass(frozen=True)
class Media:
    """A photo or video, with the rights the professional granted for it."""

    url: str
    credit: str
    licence: str
    title: str | None = None
    rights_start: date | None = None
    rights_end: date | None = None  # None: no end
    allowed_classes: tuple[DiffuserClass, ...] = tuple(DiffuserClass)


@dataclass(frozen=True)
class ExternalId:
    system: str
    value: str


@dataclass(frozen=True)
class PrivateBlock:
    """Never diffusable: the professional's personal contacts, contract refs, internal notes."""

    owner_contacts: tuple[Contact, ...] = ()
    contract_refs: tuple[str, ...] = ()
    internal_notes: str | None = None


@dataclass(frozen=True)
class OfferFields:
    """One optional value per `FieldGroup` (the attribute names are the groups' values)."""

    names: tuple[LocalizedText, ...] | None = None
    descriptions: tuple[LocalizedText, ...] | None = None
    location: Location | None = None
    contacts: tuple[Contact, ...] | None = None
    opening: tuple[OpeningPeriod, ...] | None = None
    event_dates: tuple[EventDate, ...] | None = None
    prices: Prices | None = None
    classifications: tuple[Classification, ...] | None = None
    accessibility: Accessibility | None = None
    capacity: Capacity | None = None
    media: tuple[Media, ...] | None = None
    diffusion: DiffusionStatus | None = None
    external_ids: tuple[ExternalId, ...] | None = None
    private: PrivateBlock | None = None

    def groups(self) -> tuple[FieldGroup, ...]:
        """The groups that are set, in `FieldGroup` order."""
        return tuple(group for group in FieldGroup if getattr(self, group.value) is not None)

    def only(self, groups: tuple[FieldGroup, ...]) -> OfferFields:
        """The same fields with every group outside `groups` unset."""
        return OfferFields(**{g.value: getattr(self, g.value) for g in groups})

    def merged_with(self, change: OfferFields) -> OfferFields:
        """These fields with every group set in `change` replaced by its value there."""
        values = {
            item.name: getattr(change, item.name)
            if getattr(change, item.name) is not None
            else getattr(self, item.name)
            for item in fields(self)
        }
        return OfferFields(**values)

    def public(self) -> OfferFields:
        """These fields without the private groups (what may ever leave the store)."""
        return self.only(tuple(g for g in self.groups() if g not in PRIVATE_GROUPS))
