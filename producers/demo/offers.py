"""`generate_offers`: realistic, reproducible Normandy offers for the demo, tests and benchmarks.

Guarantees:
- Determinism: the output depends only on `(count, seed)` and the set of communes given (they are
  sorted by INSEE code first, so their order does not matter). All draws come from one
  `random.Random(seed)`; times run from a fixed epoch, never the wall clock.
- Realism: every offer lies in a real commune given, is owned by the CDT of that commune's
  department, has a Tourinsoft-like id (`HOTNOR014V500123`), and carries every field group that
  suits its type, each valid under the *charte de saisie* (names in French, well-formed
  contacts, ordered dates, prices with minimum <= maximum, points inside Normandy). The type
  mix follows the regional base (many rentals, restaurants, events; few organisations and
  towns); most offers carry a private block.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType

from hub.core.offer import (
    Accessibility,
    Capacity,
    Classification,
    ClassificationScheme,
    Contact,
    ContactKind,
    DiffuserClass,
    DiffusionStatus,
    Disability,
    EventDate,
    ExternalId,
    LocalizedText,
    Media,
    OfferFields,
    OfferType,
    OpeningPeriod,
    PriceLine,
    Prices,
    PrivateBlock,
    Weekday,
)
from hub.core.territory import Commune
from producers.demo import geography, wording
from producers.demo.organisations import CDT_BY_DEPARTMENT

# Every generated time is this instant plus seeded offsets.
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
SEASON = EPOCH.year  # opening periods and events are for this year

# Share of each type in the regional base (percent).
TYPE_MIX: Mapping[OfferType, int] = MappingProxyType(
    {
        OfferType.HLO: 22,
        OfferType.RES: 14,
        OfferType.FMA: 14,
        OfferType.LOI: 10,
        OfferType.PCU: 10,
        OfferType.HOT: 8,
        OfferType.ASC: 5,
        OfferType.HPA: 4,
        OfferType.PNA: 4,
        OfferType.DEG: 3,
        OfferType.ITI: 3,
        OfferType.ORG: 1,
        OfferType.VIL: 1,
        OfferType.COM: 1,
    }
)

# Share of offers per department (percent): the coastal departments hold most of them.
DEPARTMENT_MIX: Mapping[str, int] = MappingProxyType(
    {"14": 26, "50": 24, "76": 24, "27": 14, "61": 12}
)

TOURIST_TOWN_ODDS = 0.2  # an offer lands in one of its department's tourist towns
PRIVATE_BLOCK_ODDS = 0.85
PUBLISHED_ODDS = 0.93
MAX_MEDIA = 4

_TYPES_WITH_OPENING = frozenset(
    {
        OfferType.HOT,
        OfferType.HPA,
        OfferType.HLO,
        OfferType.RES,
        OfferType.LOI,
        OfferType.ASC,
        OfferType.DEG,
        OfferType.PCU,
        OfferType.PNA,
        OfferType.ORG,
        OfferType.COM,
    }
)
_TYPES_WITHOUT_PRICES = frozenset({OfferType.ORG, OfferType.VIL, OfferType.COM})
PRICED_TYPES: tuple[OfferType, ...] = tuple(t for t in OfferType if t not in _TYPES_WITHOUT_PRICES)
_TYPES_WITH_CLASSIFICATIONS = frozenset(
    {
        OfferType.HOT,
        OfferType.HPA,
        OfferType.HLO,
        OfferType.RES,
        OfferType.LOI,
        OfferType.ASC,
        OfferType.DEG,
        OfferType.PCU,
        OfferType.ORG,
        OfferType.COM,
    }
)
_TYPES_WITH_CAPACITY: Mapping[OfferType, tuple[int, int]] = MappingProxyType(
    {
        # persons: (fewest, most)
        OfferType.HOT: (10, 160),
        OfferType.HPA: (60, 750),
        OfferType.HLO: (2, 15),
        OfferType.RES: (20, 150),
        OfferType.LOI: (20, 500),
        OfferType.ASC: (6, 40),
        OfferType.PCU: (19, 300),
        OfferType.FMA: (50, 5000),
    }
)


@dataclass(frozen=True)
class DemoOffer:
    """A generated offer as its owner creates it."""

    offer_id: str
    owner: str  # the CDT of the commune's department
    offer_type: OfferType
    commune: Commune
    fields: OfferFields
    occurred_at: datetime  # when the owner creates it (timezone-aware)

    @property
    def department(self) -> str:
        return self.commune.department


def generate_offers(
    count: int,
    seed: int,
    communes: Iterable[Commune],
    *,
    progress: Callable[[int], None] | None = None,
) -> list[DemoOffer]:
    """`count` offers in the given communes, in creation order (non-decreasing `occurred_at`).

    `progress`, if given, is called with the number of offers made since its last call.
    """
    if count < 0:
        raise ValueError(f"count={count}: the number of offers cannot be negative")
    by_department = _communes_by_department(communes)
    departments = tuple(d for d in DEPARTMENT_MIX if by_department.get(d))
    if count and not departments:
        raise ValueError(
            "no commune of departments 14, 27, 50, 61 or 76 was given; pass the communes of "
            "Normandy (load_normandy_territory().values())"
        )
    towns = {
        d: tuple(c for c in by_department[d] if geography.is_tourist_town(c)) for d in departments
    }
    rng = random.Random(seed)  # noqa: S311 - seeded synthetic data, not secrets
    types = tuple(TYPE_MIX)
    type_weights = tuple(TYPE_MIX.values())
    department_weights = tuple(DEPARTMENT_MIX[d] for d in departments)
    numbering = _Numbering(rng)
    at = EPOCH
    offers: list[DemoOffer] = []
    for made in range(1, count + 1):
        offer_type = rng.choices(types, type_weights)[0]
        department = rng.choices(departments, department_weights)[0]
        pool = towns[department] if towns[department] and rng.random() < TOURIST_TOWN_ODDS else ()
        pool = pool or by_department[department]
        commune = pool[rng.randrange(len(pool))]
        at += timedelta(seconds=rng.randint(0, 90))
        offer_id = numbering.next_id(offer_type, department)
        offers.append(
            DemoOffer(
                offer_id=offer_id,
                owner=CDT_BY_DEPARTMENT[department],
                offer_type=offer_type,
                commune=commune,
                fields=offer_fields(offer_id, offer_type, commune, at, rng),
                occurred_at=at,
            )
        )
        if progress is not None and (made % 1000 == 0 or made == count):
            progress(made % 1000 or 1000)
    return offers


def offer_fields(
    offer_id: str, offer_type: OfferType, commune: Commune, at: datetime, rng: random.Random
) -> OfferFields:
    """Every field group that suits `offer_type`, for an offer created at `at`."""
    name = wording.offer_name(offer_type, commune.name, rng)
    accessibility = accessibility_for(rng)
    return OfferFields(
        names=(LocalizedText("fr", name),),
        descriptions=wording.descriptions(offer_type, name, commune.name, commune.department, rng),
        location=geography.offer_location(commune, rng),
        contacts=contacts_for(offer_type, name, commune, rng),
        opening=opening_for(offer_type, SEASON, rng) if offer_type in _TYPES_WITH_OPENING else None,
        event_dates=event_dates_for(SEASON, rng) if offer_type is OfferType.FMA else None,
        prices=prices_for(offer_type, rng) if offer_type not in _TYPES_WITHOUT_PRICES else None,
        classifications=(
            classifications_for(offer_type, accessibility, rng)
            if offer_type in _TYPES_WITH_CLASSIFICATIONS
            else None
        ),
        accessibility=accessibility,
        capacity=capacity_for(offer_type, rng) if offer_type in _TYPES_WITH_CAPACITY else None,
        media=media_for(offer_id, name, commune.department, at.date(), rng),
        diffusion=(
            DiffusionStatus.PUBLISHED
            if rng.random() < PUBLISHED_ODDS
            else DiffusionStatus.UNPUBLISHED
        ),
        external_ids=external_ids_for(offer_id, offer_type, commune.department, rng),
        private=private_block_for(commune.department, at.date(), rng)
        if rng.random() < PRIVATE_BLOCK_ODDS
        else None,
    )


# ---------------------------------------------------------------- ids


class _Numbering:
    """Tourinsoft-like ids, increasing per (type, department) with small gaps (deleted offers)."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._last: dict[tuple[OfferType, str], int] = {}

    def next_id(self, offer_type: OfferType, department: str) -> str:
        key = (offer_type, department)
        last = self._last.get(key)
        number = self._rng.randint(1, 40) if last is None else last + self._rng.randint(1, 3)
        if number > 99_999 and last is not None:
            number = last + 1
        if number > 99_999:
            raise ValueError(
                f"more than 99,999 {offer_type.value} offers in department {department}: the "
                "Tourinsoft-like id has 5 digits; generate fewer offers"
            )
        self._last[key] = number
        return offer_id_for(offer_type, department, number)


def offer_id_for(offer_type: OfferType, department: str, number: int) -> str:
    """`<TYPE>NOR0<department>V5<5 digits>`, e.g. HOTNOR014V500123."""
    return f"{offer_type.value}NOR0{department}V5{number:05d}"


def _communes_by_department(communes: Iterable[Commune]) -> dict[str, tuple[Commune, ...]]:
    grouped: dict[str, list[Commune]] = {}
    for commune in sorted(communes, key=lambda c: c.insee):
        if commune.department in CDT_BY_DEPARTMENT:
            grouped.setdefault(commune.department, []).append(commune)
    return {department: tuple(items) for department, items in grouped.items()}


# ---------------------------------------------------------------- contacts

_LANDLINE_PREFIX: Mapping[str, str] = MappingProxyType(
    {"14": "02 31", "27": "02 32", "50": "02 33", "61": "02 33", "76": "02 35"}
)
_PUBLIC_MAILBOXES: tuple[str, ...] = ("contact", "info", "accueil", "reservation")
_PERSONAL_PROVIDERS: tuple[str, ...] = ("orange.fr", "wanadoo.fr", "free.fr", "gmail.com", "sfr.fr")


def _pairs(rng: random.Random, count: int) -> str:
    return " ".join(f"{rng.randint(0, 99):02d}" for _ in range(count))


def landline(department: str, rng: random.Random) -> str:
    """A French landline of the department's area, written as in France: 02 31 12 34 56."""
    return f"{_LANDLINE_PREFIX[department]} {_pairs(rng, 3)}"


def mobile(rng: random.Random) -> str:
    return f"0{rng.choice('67')} {_pairs(rng, 4)}"


def contacts_for(
    offer_type: OfferType, name: str, commune: Commune, rng: random.Random
) -> tuple[Contact, ...]:
    """Public contacts, at least one; websites on a domain made from the name."""
    if offer_type is OfferType.ORG:
        domain = f"{wording.slug(commune.name, 30)}-tourisme.fr"
    elif offer_type is OfferType.VIL:
        domain = f"{wording.slug(commune.name, 40)}.fr"
    else:
        domain = f"{wording.slug(name)}.fr"
    contacts: list[Contact] = []
    if rng.random() < 0.9:
        contacts.append(Contact(ContactKind.PHONE, landline(commune.department, rng)))
    if rng.random() < 0.15:
        contacts.append(Contact(ContactKind.MOBILE, mobile(rng)))
    if rng.random() < 0.05:
        contacts.append(Contact(ContactKind.FAX, landline(commune.department, rng), "Fax"))
    if rng.random() < 0.85 or not contacts:
        mailbox = _PUBLIC_MAILBOXES[rng.randrange(len(_PUBLIC_MAILBOXES))]
        contacts.append(Contact(ContactKind.EMAIL, f"{mailbox}@{domain}"))
    if rng.random() < 0.6:
        contacts.append(Contact(ContactKind.WEBSITE, f"https://www.{domain}/"))
    if rng.random() < 0.25:
        page = domain.removesuffix(".fr")
        contacts.append(Contact(ContactKind.SOCIAL, f"https://www.facebook.com/{page}", "Facebook"))
    return tuple(contacts)


# ---------------------------------------------------------------- dates


def _day(year: int, month: int, day: int, rng: random.Random, spread: int = 0) -> date:
    return date(year, month, day) + timedelta(days=rng.randint(-spread, spread))


_EVERY_DAY: tuple[Weekday, ...] = ()
_TUESDAY_TO_SUNDAY = (
    Weekday.TUE,
    Weekday.WED,
    Weekday.THU,
    Weekday.FRI,
    Weekday.SAT,
    Weekday.SUN,
)
_MONDAY_TO_SATURDAY = (
    Weekday.MON,
    Weekday.TUE,
    Weekday.WED,
    Weekday.THU,
    Weekday.FRI,
    Weekday.SAT,
)
_WEDNESDAY_TO_SUNDAY = (Weekday.WED, Weekday.THU, Weekday.FRI, Weekday.SAT, Weekday.SUN)
_WEEKENDS = (Weekday.SAT, Weekday.SUN)


def opening_for(offer_type: OfferType, year: int, rng: random.Random) -> tuple[OpeningPeriod, ...]:
    """The year's opening periods, in order and without overlap, shaped by the type's season."""
    if offer_type is OfferType.HOT:
        if rng.random() < 0.8:
            return (OpeningPeriod(date(year, 1, 1), date(year, 12, 31)),)
        return (
            OpeningPeriod(
                _day(year, 2, 1, rng, 5), date(year, 12, 31), note="Fermeture annuelle en janvier"
            ),
        )
    if offer_type is OfferType.HPA:
        return (OpeningPeriod(_day(year, 4, 1, rng, 14), _day(year, 10, 1, rng, 20)),)
    if offer_type is OfferType.HLO:
        if rng.random() < 0.6:
            return (OpeningPeriod(date(year, 1, 1), date(year, 12, 31)),)
        return (OpeningPeriod(_day(year, 4, 1, rng, 14), _day(year, 10, 31, rng, 14)),)
    if offer_type is OfferType.RES:
        return (
            OpeningPeriod(
                date(year, 1, 1), date(year, 12, 31), _TUESDAY_TO_SUNDAY, "Fermé le lundi"
            ),
        )
    if offer_type in (OfferType.LOI, OfferType.ASC):
        season = OpeningPeriod(_day(year, 4, 1, rng, 10), _day(year, 9, 30, rng, 10))
        if rng.random() < 0.5:
            return (season,)
        return (season, OpeningPeriod(date(year, 10, 15), date(year, 12, 20), _WEEKENDS))
    if offer_type is OfferType.PCU:
        return (
            OpeningPeriod(_day(year, 4, 1, rng, 7), date(year, 9, 30)),
            OpeningPeriod(
                date(year, 10, 1),
                _day(year, 12, 15, rng, 10),
                _WEDNESDAY_TO_SUNDAY,
                "Visites guidées sur réservation",
            ),
        )
    if offer_type is OfferType.ORG:
        return (
            OpeningPeriod(date(year, 1, 1), date(year, 6, 30), _MONDAY_TO_SATURDAY),
            OpeningPeriod(date(year, 7, 1), date(year, 8, 31), _EVERY_DAY),
            OpeningPeriod(date(year, 9, 1), date(year, 12, 31), _MONDAY_TO_SATURDAY),
        )
    if offer_type in (OfferType.DEG, OfferType.COM):
        return (OpeningPeriod(date(year, 1, 1), date(year, 12, 31), _MONDAY_TO_SATURDAY),)
    return (OpeningPeriod(date(year, 1, 1), date(year, 12, 31)),)


def event_dates_for(year: int, rng: random.Random) -> tuple[EventDate, ...]:
    """One to three occurrences, each 1–4 days, in order, the first within `year`."""
    occurrences = rng.choices((1, 2, 3), (70, 20, 10))[0]
    start = date(year, 1, 10) + timedelta(days=rng.randint(0, 330))
    result: list[EventDate] = []
    for _ in range(occurrences):
        end = start + timedelta(days=rng.randint(0, 3))
        result.append(EventDate(start, end))
        start = end + timedelta(days=rng.randint(7, 60))
    return tuple(result)


# ---------------------------------------------------------------- prices

# (label, lowest minimum, highest minimum, widest spread up to the maximum), amounts in euros;
# a spread of 0 is a single price (minimum == maximum).
_PRICE_LINES: Mapping[OfferType, tuple[tuple[str, int, int, int], ...]] = MappingProxyType(
    {
        OfferType.HOT: (("Chambre double", 60, 110, 120), ("Petit-déjeuner", 8, 18, 0)),
        OfferType.HPA: (
            ("Emplacement 2 personnes", 12, 25, 15),
            ("Mobil-home, semaine", 300, 500, 500),
        ),
        OfferType.HLO: (("Semaine haute saison", 450, 900, 600), ("Week-end", 150, 300, 100)),
        OfferType.RES: (("Menu", 18, 32, 40), ("Menu enfant", 9, 14, 0)),
        OfferType.LOI: (("Adulte", 6, 25, 0), ("Enfant", 4, 15, 0)),
        OfferType.ASC: (("Séance", 15, 40, 30), ("Stage d'une semaine", 120, 250, 100)),
        OfferType.DEG: (("Visite et dégustation", 3, 8, 0),),
        OfferType.PCU: (("Plein tarif", 5, 15, 0), ("Tarif réduit", 3, 8, 0)),
        OfferType.PNA: (("Visite guidée", 5, 10, 0),),
        OfferType.FMA: (("Entrée", 3, 25, 10),),
        OfferType.ITI: (("Topoguide", 2, 6, 0),),
    }
)
_FREE_ODDS: Mapping[OfferType, float] = MappingProxyType(
    {
        OfferType.PNA: 0.85,
        OfferType.ITI: 0.9,
        OfferType.FMA: 0.35,
        OfferType.PCU: 0.2,
        OfferType.DEG: 0.3,
        OfferType.LOI: 0.05,
    }
)


def euros(half_euros: int) -> Decimal:
    """Euros with two decimals from a count of half-euros: prices end in .00 or .50."""
    return Decimal(half_euros * 50).scaleb(-2)


def prices_for(offer_type: OfferType, rng: random.Random, *, rise: int = 0) -> Prices:
    """The type's price lines with minimum <= maximum in EUR, or free; `rise` adds euros."""
    if rng.random() < _FREE_ODDS.get(offer_type, 0.0):
        return Prices(free=True)
    lines = []
    for label, lowest, highest, spread in _PRICE_LINES[offer_type]:
        minimum = rng.randint(2 * lowest, 2 * highest) + 2 * rise
        maximum = minimum + rng.randint(0, 2 * spread) if spread else minimum
        lines.append(PriceLine(label, euros(minimum), euros(maximum)))
    return Prices(lines=tuple(lines))


# ---------------------------------------------------------------- labels, access, capacity

_LOGIS_ODDS = 0.15


def accessibility_for(rng: random.Random) -> Accessibility:
    odds = {
        Disability.MOTOR: 0.35,
        Disability.VISUAL: 0.15,
        Disability.HEARING: 0.2,
        Disability.MENTAL: 0.25,
    }
    disabilities = tuple(d for d in Disability if rng.random() < odds[d])
    if Disability.MOTOR in disabilities:
        wheelchair: bool | None = True
        note: str | None = "Place de stationnement réservée et rampe d'accès"
    else:
        wheelchair = rng.choice((False, None))
        note = "Boucle magnétique à l'accueil" if Disability.HEARING in disabilities else None
    return Accessibility(disabilities, wheelchair, note)


def _until(rng: random.Random) -> date:
    # Prefectoral classifications last five years: some end soon, some in 2030.
    return date(SEASON, 1, 1) + timedelta(days=rng.randint(30, 5 * 365))


def classifications_for(
    offer_type: OfferType, accessibility: Accessibility, rng: random.Random
) -> tuple[Classification, ...]:
    """Prefectoral stars for hotels and campsites, Gîtes de France or Clévacances for rentals,
    Logis, Qualité Tourisme, Tourisme & Handicap (for the families actually welcomed) and Accueil
    Vélo, in `ClassificationScheme` order; possibly none."""
    found: dict[ClassificationScheme, Classification] = {}
    stars = ("1", "2", "3", "4", "5")
    if offer_type in (OfferType.HOT, OfferType.HPA) and rng.random() < 0.85:
        value = rng.choices(stars, (5, 20, 45, 22, 8))[0]
        found[ClassificationScheme.PREFECTORAL_STARS] = Classification(
            ClassificationScheme.PREFECTORAL_STARS, value, _until(rng)
        )
    if offer_type is OfferType.HLO:
        if rng.random() < 0.4:  # meublés de tourisme are classified too
            found[ClassificationScheme.PREFECTORAL_STARS] = Classification(
                ClassificationScheme.PREFECTORAL_STARS,
                rng.choices(stars, (5, 25, 45, 20, 5))[0],
                _until(rng),
            )
        network = rng.random()
        if network < 0.45:
            found[ClassificationScheme.GITES_DE_FRANCE] = Classification(
                ClassificationScheme.GITES_DE_FRANCE, rng.choices(stars, (5, 30, 45, 15, 5))[0]
            )
        elif network < 0.65:
            found[ClassificationScheme.CLEVACANCES] = Classification(
                ClassificationScheme.CLEVACANCES, rng.choices(stars, (5, 30, 45, 15, 5))[0]
            )
    if offer_type in (OfferType.HOT, OfferType.RES) and rng.random() < _LOGIS_ODDS:
        found[ClassificationScheme.LOGIS] = Classification(
            ClassificationScheme.LOGIS, rng.choice(("1", "2", "3"))
        )
    if rng.random() < (0.5 if offer_type is OfferType.ORG else 0.15):
        found[ClassificationScheme.QUALITE_TOURISME] = Classification(
            ClassificationScheme.QUALITE_TOURISME, "labellisé", _until(rng)
        )
    if accessibility.disabilities and rng.random() < 0.4:
        found[ClassificationScheme.TOURISME_HANDICAP] = Classification(
            ClassificationScheme.TOURISME_HANDICAP,
            ",".join(d.value for d in accessibility.disabilities),
            _until(rng),
        )
    if offer_type in (OfferType.HOT, OfferType.HPA, OfferType.HLO, OfferType.ASC) and (
        rng.random() < 0.12
    ):
        found[ClassificationScheme.ACCUEIL_VELO] = Classification(
            ClassificationScheme.ACCUEIL_VELO, "labellisé"
        )
    return tuple(found[s] for s in ClassificationScheme if s in found)


def capacity_for(offer_type: OfferType, rng: random.Random) -> Capacity:
    fewest, most = _TYPES_WITH_CAPACITY.get(offer_type, (10, 100))
    persons = rng.randint(fewest, most)
    if offer_type is OfferType.HOT:
        return Capacity(persons=persons, rooms=max(3, persons // 2))
    if offer_type is OfferType.HPA:
        return Capacity(persons=persons, pitches=max(10, persons // 3))
    if offer_type is OfferType.HLO:
        return Capacity(persons=persons, rooms=max(1, (persons + 1) // 2))
    return Capacity(persons=persons)


# ---------------------------------------------------------------- media

_CDT_CREDITS: Mapping[str, str] = MappingProxyType(
    {
        "14": "Calvados Attractivité",
        "27": "Eure Tourisme",
        "50": "Latitude Manche",
        "61": "Orne Tourisme",
        "76": "Seine-Maritime Attractivité",
    }
)
_MEDIA_TITLES: tuple[str, ...] = (
    "Vue d'ensemble",
    "Façade",
    "Intérieur",
    "Le jardin",
    "Vue sur la mer",
    "Détail",
    "En été",
    "Le soir",
)
_ALL_CLASSES = tuple(DiffuserClass)
_NO_OPEN_DATA = (DiffuserClass.INSTITUTIONAL, DiffuserClass.PARTNER, DiffuserClass.OTHER)
_NETWORK_ONLY = (DiffuserClass.INSTITUTIONAL, DiffuserClass.PARTNER)
_INSTITUTIONAL_ONLY = (DiffuserClass.INSTITUTIONAL,)

# (licence, share in percent, the diffuser classes it allows)
_LICENCES: tuple[tuple[str, int, tuple[DiffuserClass, ...]], ...] = (
    ("CC BY 4.0", 30, _ALL_CLASSES),
    ("CC BY-SA 4.0", 10, _ALL_CLASSES),
    ("CC BY-NC 4.0", 20, _NO_OPEN_DATA),
    ("Tous droits réservés", 40, _NETWORK_ONLY),
)


def media_for(
    offer_id: str, name: str, department: str, today: date, rng: random.Random, *, first: int = 1
) -> tuple[Media, ...]:
    """0 to 4 photos with credits, licences and rights windows relative to `today`: some already
    expired, some ending within weeks, some later, many open-ended. `first` numbers the files."""
    count = rng.choices(range(MAX_MEDIA + 1), (10, 25, 30, 20, 15))[0]
    result = []
    for number in range(first, first + count):
        licence, _, allowed = rng.choices(_LICENCES, tuple(item[1] for item in _LICENCES))[0]
        if allowed == _NETWORK_ONLY and rng.random() < 0.3:
            allowed = _INSTITUTIONAL_ONLY
        credit_kind = rng.random()
        if credit_kind < 0.5:
            first_name, surname = wording.person(rng)
            credit = f"© {first_name} {surname}"
        elif credit_kind < 0.8:
            credit = f"© {_CDT_CREDITS[department]}"
        else:
            credit = f"© {name}"
        start = date(2021, 1, 1) + timedelta(days=rng.randint(0, 4 * 365))
        window = rng.random()
        if window < 0.12:  # already expired
            end: date | None = max(start, today - timedelta(days=rng.randint(1, 300)))
        elif window < 0.3:  # ends soon
            end = today + timedelta(days=rng.randint(7, 60))
        elif window < 0.6:
            end = today + timedelta(days=rng.randint(365, 4 * 365))
        else:
            end = None
        result.append(
            Media(
                url=f"https://medias.sitn-normandie.example/{department}/{offer_id}/{number}.jpg",
                credit=credit,
                licence=licence,
                title=_MEDIA_TITLES[rng.randrange(len(_MEDIA_TITLES))],
                rights_start=start,
                rights_end=end,
                allowed_classes=allowed,
            )
        )
    return tuple(result)


# ---------------------------------------------------------------- ids elsewhere, private block


def external_ids_for(
    offer_id: str, offer_type: OfferType, department: str, rng: random.Random
) -> tuple[ExternalId, ...]:
    ids = [ExternalId("tourinsoft", offer_id)]
    if rng.random() < 0.6:
        ids.append(ExternalId("datatourisme", str(uuid.UUID(int=rng.getrandbits(128), version=4))))
    if offer_type is OfferType.HLO and rng.random() < 0.45:
        ids.append(ExternalId("gites-de-france", f"G{department}{rng.randint(1, 9999):04d}"))
    if offer_type is OfferType.HOT and rng.random() < 0.3:
        ids.append(ExternalId("booking", str(rng.randint(100_000, 9_999_999))))
    return tuple(ids)


_INTERNAL_NOTES: tuple[str, ...] = (
    "Propriétaire joignable après 18 h.",
    "Relancer pour la mise à jour des tarifs avant le 31 mars.",
    "Taxe de séjour : déclaration trimestrielle.",
    "Contrat de concession signé, photos fournies par le propriétaire.",
    "Visite de classement prévue au printemps.",
    "Ne pas diffuser le numéro de portable personnel.",
    "Changement de gérant en cours, vérifier les coordonnées.",
)


def private_block_for(department: str, today: date, rng: random.Random) -> PrivateBlock:
    """The professional's own phone and e-mail, contract references and internal notes."""
    first_name, surname = wording.person(rng)
    provider = _PERSONAL_PROVIDERS[rng.randrange(len(_PERSONAL_PROVIDERS))]
    contacts = (
        Contact(ContactKind.MOBILE, mobile(rng), f"{first_name} {surname}"),
        Contact(
            ContactKind.EMAIL,
            f"{wording.slug(first_name)}.{wording.slug(surname)}@{provider}".replace("-", "."),
        ),
    )
    refs = [f"CCD-{department}-{today.year - rng.randint(0, 6)}-{rng.randint(1, 99_999):05d}"]
    if rng.random() < 0.4:
        refs.append(f"ADH-{department}-{today.year}-{rng.randint(1, 9_999):04d}")
    note = _INTERNAL_NOTES[rng.randrange(len(_INTERNAL_NOTES))] if rng.random() < 0.6 else None
    return PrivateBlock(owner_contacts=contacts, contract_refs=tuple(refs), internal_notes=note)
