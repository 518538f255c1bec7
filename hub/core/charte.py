"""The *charte de saisie* (architecture §4 rule 6): the shared data-entry rules, as pure validation.

`check_new_offer` judges the full content of an offer being created; `check_change` judges the
groups a change sets (a change may leave a group untouched, never empty a required one). Both
return every `Violation` found, as values, in a fixed order: the offer id first, then required
groups, then each group in `FieldGroup` order, items in their order within a group. They never
raise, whatever the content (a property test feeds them arbitrary fields). Messages quote the
offending value (shortened when long) and say what is expected, for the contributor to act on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from types import MappingProxyType
from urllib.parse import urlsplit

from hub.core.offer import (
    LANGUAGES,
    Accessibility,
    Capacity,
    Classification,
    Contact,
    ContactKind,
    EventDate,
    ExternalId,
    FieldGroup,
    LocalizedText,
    Location,
    Media,
    OfferFields,
    OfferType,
    OpeningPeriod,
    PriceLine,
    PrivateBlock,
)
from hub.core.territory import Territory


@dataclass(frozen=True)
class Violation:
    """One breach of the charte: which rule, where (a path into the offer), what to fix."""

    rule: str  # e.g. "charte.commune"
    field: str  # e.g. "location.address.commune_insee", "prices.lines[1].minimum"
    message: str


# ---------------------------------------------------------------- the tables of the charte

# What every offer needs: a name to show, a place, and whether it is published.
REQUIRED_FOR_EVERY_TYPE: tuple[FieldGroup, ...] = (
    FieldGroup.NAMES,
    FieldGroup.LOCATION,
    FieldGroup.DIFFUSION,
)

# Groups each bordereau requires on creation. Events need their dates (an FMA without dates
# cannot be diffused to any calendar); accommodation needs its capacity (rooms, pitches or
# beds are what booking sites and the regional statistics ask first). Everything else stays
# optional: the charte asks much more of a good offer, but refusing it would lose the offer.
_REQUIRED_BY_TYPE: Mapping[OfferType, tuple[FieldGroup, ...]] = {
    OfferType.FMA: (FieldGroup.EVENT_DATES,),
    OfferType.HOT: (FieldGroup.CAPACITY,),
    OfferType.HPA: (FieldGroup.CAPACITY,),
    OfferType.HLO: (FieldGroup.CAPACITY,),
}
REQUIRED_GROUPS: Mapping[OfferType, tuple[FieldGroup, ...]] = MappingProxyType(
    {t: REQUIRED_FOR_EVERY_TYPE + _REQUIRED_BY_TYPE.get(t, ()) for t in OfferType}
)

# Longest accepted texts, in characters (Unicode code points).
NAME_MAX = 200  # names: what fits a title on every diffuser's site
DESCRIPTION_MAX = 10_000  # descriptions: a long page, well beyond any brochure text
NOTE_MAX = 2_000  # opening, accessibility and internal notes
LABEL_MAX = 200  # short texts: street, labels, credits, licences, titles, identifiers
URL_MAX = 2_000  # what browsers and diffusers' databases reliably keep
EMAIL_MAX = 254  # RFC 5321's limit on a forward path

# The regional offer id is the Kafka key of every offer-bearing topic, so it must be stable
# ASCII without spaces. The shape is wide on purpose: Tourinsoft ids (HOTNOR014V500001),
# DATAtourisme URIs (https://data.datatourisme.fr/23/<uuid>) and bare UUIDs all pass.
OFFER_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{2,199}")

_POSTAL_CODE = re.compile(r"[0-9]{5}")
_INSEE_CODE = re.compile(r"[0-9]{5}|2[AB][0-9]{3}")
_CURRENCY = re.compile(r"[A-Z]{3}")  # the shape of an ISO 4217 code; the list itself is not kept

# Characters that break XML exports or UTF-8 encoding: C0 and C1 controls, DEL, lone
# surrogates. Multi-line texts may keep tabs and line breaks; one-line texts may not.
_FORBIDDEN_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_FORBIDDEN_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_TOP_LEVEL_DOMAIN = re.compile(r"[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59}")

# Phones: French numbers as written in France (02 31 27 14 14, 02.31.27.14.14) or
# internationally (+33 2 31 27 14 14, +33 (0)2 31 27 14 14, 0033 2 ...); foreign numbers in
# international form (+44 ...), which Norman offers near the Channel do list.
_PHONE_SHAPE = re.compile(r"\+?[0-9](?:[ .-]?[0-9])*")
_FRENCH_NATIONAL = re.compile(r"0[1-9][0-9]{8}")
_FRENCH_SUBSCRIBER = re.compile(r"[1-9][0-9]{8}")  # what follows +33
_INTERNATIONAL = re.compile(r"[1-9][0-9]{6,14}")  # E.164: at most 15 digits with the country

_SHOWN_MAX = 60  # characters of an offending value quoted in a message


# ---------------------------------------------------------------- entry points


def check_new_offer(
    offer_id: str, offer_type: OfferType, fields: OfferFields, territory: Territory
) -> tuple[Violation, ...]:
    """Every breach of the charte in an offer being created (its full content)."""
    return (
        *_check_offer_id(offer_id),
        *_check_required(offer_type, fields, only_set=False),
        *_check_groups(fields, territory),
    )


def check_change(
    offer_id: str, offer_type: OfferType | None, fields: OfferFields, territory: Territory
) -> tuple[Violation, ...]:
    """Every breach of the charte in the groups a change sets; unset groups are not judged.

    `offer_type` is the offer's type if the hub knows it; without it only the groups every type
    requires are protected from being emptied.
    """
    return (
        *_check_offer_id(offer_id),
        *_check_required(offer_type, fields, only_set=True),
        *_check_groups(fields, territory),
    )


# ---------------------------------------------------------------- offer id and required groups


def _check_offer_id(offer_id: str) -> Iterator[Violation]:
    if OFFER_ID_PATTERN.fullmatch(offer_id) is None:
        yield Violation(
            "charte.offer_id",
            "offer_id",
            f"{_shown(offer_id)} is not an offer id; expected 3 to 200 ASCII letters, digits "
            "or . _ : / - starting with a letter or digit (e.g. HOTNOR014V500001 or a "
            "DATAtourisme URI)",
        )


def _check_required(
    offer_type: OfferType | None, fields: OfferFields, *, only_set: bool
) -> Iterator[Violation]:
    required = REQUIRED_GROUPS[offer_type] if offer_type is not None else REQUIRED_FOR_EVERY_TYPE
    whose = f"an offer of type {offer_type.value}" if offer_type is not None else "every offer"
    for group in required:
        value: object = getattr(fields, group.value)
        if value is None:
            if not only_set:
                yield Violation(
                    "charte.required", group.value, f"{group.value} is missing; {whose} needs it"
                )
        elif _is_empty(value):
            yield Violation(
                "charte.required",
                group.value,
                f"{group.value} is empty; {whose} needs at least one "
                + (
                    "figure (persons, rooms or pitches)"
                    if group is FieldGroup.CAPACITY
                    else "entry"
                ),
            )


def _is_empty(value: object) -> bool:
    if isinstance(value, tuple):
        return len(value) == 0
    if isinstance(value, Capacity):
        return value.persons is None and value.rooms is None and value.pitches is None
    return False


# ---------------------------------------------------------------- groups


def _check_groups(fields: OfferFields, territory: Territory) -> Iterator[Violation]:
    # One checker per group, called in `FieldGroup` order (which fixes the violations' order).
    if fields.names is not None:
        yield from _check_names(fields.names)
    if fields.descriptions is not None:
        yield from _check_descriptions(fields.descriptions)
    if fields.location is not None:
        yield from _check_location(fields.location, territory)
    if fields.contacts is not None:
        yield from _check_contacts("contacts", fields.contacts)
    if fields.opening is not None:
        yield from _check_opening(fields.opening)
    if fields.event_dates is not None:
        yield from _check_event_dates(fields.event_dates)
    if fields.prices is not None:
        yield from _check_prices(fields.prices.lines)
    if fields.classifications is not None:
        yield from _check_classifications(fields.classifications)
    if fields.accessibility is not None:
        yield from _check_accessibility(fields.accessibility)
    if fields.capacity is not None:
        yield from _check_capacity(fields.capacity)
    if fields.media is not None:
        yield from _check_media(fields.media)
    # diffusion: an enum, nothing to check beyond its type
    if fields.external_ids is not None:
        yield from _check_external_ids(fields.external_ids)
    if fields.private is not None:
        yield from _check_private(fields.private)


def _check_names(names: tuple[LocalizedText, ...]) -> Iterator[Violation]:
    yield from _check_texts("names", names, NAME_MAX, one_line=True)
    if names and not any(name.lang == "fr" for name in names):
        present = ", ".join(name.lang for name in names)
        yield Violation(
            "charte.name_fr",
            "names",
            f"no French name (languages given: {_shown(present)}); every offer needs its name "
            "in French ('fr')",
        )


def _check_descriptions(descriptions: tuple[LocalizedText, ...]) -> Iterator[Violation]:
    yield from _check_texts("descriptions", descriptions, DESCRIPTION_MAX, one_line=False)


def _check_texts(
    group: str, texts: tuple[LocalizedText, ...], limit: int, *, one_line: bool
) -> Iterator[Violation]:
    seen: list[str] = []
    for i, text in enumerate(texts):
        if text.lang not in LANGUAGES:
            hint = " (codes are lower-case)" if text.lang.lower() in LANGUAGES else ""
            yield Violation(
                "charte.language",
                f"{group}[{i}].lang",
                f"{_shown(text.lang)} is not one of the six languages of the base "
                f"({', '.join(LANGUAGES)}){hint}",
            )
        elif text.lang in seen:
            yield Violation(
                "charte.language",
                f"{group}[{i}].lang",
                f"a second {group} text in {text.lang!r} (first at {group}"
                f"[{seen.index(text.lang)}]); keep one text per language",
            )
        seen.append(text.lang)
        yield from _check_text(
            f"{group}[{i}].text", text.text, limit, one_line=one_line, required=True
        )


def _check_location(location: Location, territory: Territory) -> Iterator[Violation]:
    address = location.address
    at = "location.address"
    department = territory.department_of(address.commune_insee)
    if department is None:
        if _INSEE_CODE.fullmatch(address.commune_insee) is None:
            problem = "is not an INSEE commune code (5 characters, e.g. 14118 for Caen)"
        else:
            problem = "is not a commune of Normandy"
        yield Violation(
            "charte.commune",
            f"{at}.commune_insee",
            f"{_shown(address.commune_insee)} {problem}; expected the INSEE code of a commune "
            f"of departments {', '.join(territory.departments)} (not its postal code)",
        )
    if address.postal_code is not None:
        yield from _check_postal_code(f"{at}.postal_code", address.postal_code, department)
    if address.street is not None:
        yield from _check_text(f"{at}.street", address.street, LABEL_MAX)
    if address.commune_name is not None:
        yield from _check_text(f"{at}.commune_name", address.commune_name, LABEL_MAX)
    if location.geo is not None:
        yield from _check_coordinates(location.geo.latitude, location.geo.longitude, territory)


def _check_postal_code(at: str, postal_code: str, department: str | None) -> Iterator[Violation]:
    if _POSTAL_CODE.fullmatch(postal_code) is None:
        yield Violation(
            "charte.postal_code",
            at,
            f"{_shown(postal_code)} is not a postal code; expected 5 digits",
        )
    # La Poste serves a few communes from a neighbouring department's office; if the base ever
    # holds one, this rule needs an exception table rather than a relaxed check.
    elif department is not None and not postal_code.startswith(department):
        yield Violation(
            "charte.postal_code",
            at,
            f"{postal_code!r} does not match the commune, which is in department {department}; "
            f"expected a postal code starting with {department}",
        )


def _check_coordinates(
    latitude: float, longitude: float, territory: Territory
) -> Iterator[Violation]:
    bounds = territory.bounds
    advice = "give WGS84 decimal degrees (e.g. 49.18, -0.37 for Caen)"
    if bounds.contains(longitude, latitude) and not bounds.contains(latitude, longitude):
        advice = "latitude and longitude look swapped"
    for name, value, low, high in (
        ("latitude", latitude, bounds.south, bounds.north),
        ("longitude", longitude, bounds.west, bounds.east),
    ):
        if not (low <= value <= high):  # also true for NaN
            yield Violation(
                "charte.coordinates",
                f"location.geo.{name}",
                f"{value!r} is outside Normandy (the region's {name}s run from {low} to {high}); "
                f"{advice}",
            )


def _check_period(rule: str, at: str, start: date, end: date) -> Iterator[Violation]:
    if start > end:
        yield Violation(
            rule,
            at,
            f"the end {end.isoformat()} comes before the start {start.isoformat()}; expected "
            "an end on or after the start (both days are included)",
        )


def _check_contacts(group: str, contacts: tuple[Contact, ...]) -> Iterator[Violation]:
    for i, contact in enumerate(contacts):
        at = f"{group}[{i}]"
        yield from _CONTACT_CHECKS[contact.kind](f"{at}.value", contact.value)
        if contact.label is not None:
            yield from _check_text(f"{at}.label", contact.label, LABEL_MAX)


def _check_opening(opening: tuple[OpeningPeriod, ...]) -> Iterator[Violation]:
    for i, period in enumerate(opening):
        at = f"opening[{i}]"
        yield from _check_period("charte.opening", f"{at}.end", period.start, period.end)
        if period.note is not None:
            yield from _check_text(f"{at}.note", period.note, NOTE_MAX, one_line=False)


def _check_event_dates(event_dates: tuple[EventDate, ...]) -> Iterator[Violation]:
    for i, occurrence in enumerate(event_dates):
        yield from _check_period(
            "charte.event_dates", f"event_dates[{i}].end", occurrence.start, occurrence.end
        )


def _check_prices(lines: tuple[PriceLine, ...]) -> Iterator[Violation]:
    for i, line in enumerate(lines):
        at = f"prices.lines[{i}]"
        yield from _check_text(f"{at}.label", line.label, LABEL_MAX, required=True)
        usable: dict[str, Decimal] = {}
        for name, amount in (("minimum", line.minimum), ("maximum", line.maximum)):
            if amount is None:
                continue
            if not amount.is_finite():
                yield Violation(
                    "charte.prices", f"{at}.{name}", f"{amount} is not an amount; expected a number"
                )
            elif amount < 0:
                yield Violation(
                    "charte.prices",
                    f"{at}.{name}",
                    f"{amount} is negative; expected a price of 0 or more",
                )
            else:
                usable[name] = amount
        if "minimum" in usable and "maximum" in usable and usable["minimum"] > usable["maximum"]:
            yield Violation(
                "charte.prices",
                f"{at}.minimum",
                f"minimum {usable['minimum']} is above maximum {usable['maximum']}; "
                "expected minimum <= maximum",
            )
        if _CURRENCY.fullmatch(line.currency) is None:
            yield Violation(
                "charte.currency",
                f"{at}.currency",
                f"{_shown(line.currency)} is not an ISO 4217 currency code; expected three "
                "capital letters such as EUR",
            )


def _check_classifications(classifications: tuple[Classification, ...]) -> Iterator[Violation]:
    for i, classification in enumerate(classifications):
        yield from _check_text(
            f"classifications[{i}].value", classification.value, LABEL_MAX, required=True
        )


def _check_accessibility(accessibility: Accessibility) -> Iterator[Violation]:
    if accessibility.note is not None:
        yield from _check_text("accessibility.note", accessibility.note, NOTE_MAX, one_line=False)


def _check_capacity(capacity: Capacity) -> Iterator[Violation]:
    for name, count in (
        ("persons", capacity.persons),
        ("rooms", capacity.rooms),
        ("pitches", capacity.pitches),
    ):
        if count is not None and count < 0:
            yield Violation(
                "charte.capacity",
                f"capacity.{name}",
                f"{count} is negative; expected a count of 0 or more",
            )


def _check_media(media: tuple[Media, ...]) -> Iterator[Violation]:
    for i, item in enumerate(media):
        at = f"media[{i}]"
        yield from _check_url(f"{at}.url", item.url)
        for name, value, what in (
            ("credit", item.credit, "the photographer or rights holder"),
            ("licence", item.licence, "the licence the rights holder granted"),
        ):
            if not value.strip():
                yield Violation(
                    "charte.media",
                    f"{at}.{name}",
                    f"the {name} is empty; name {what}: every photo or video is diffused "
                    f"with its {name}",
                )
            else:
                yield from _check_text(f"{at}.{name}", value, LABEL_MAX)
        if item.title is not None:
            yield from _check_text(f"{at}.title", item.title, LABEL_MAX)
        if item.rights_start is not None and item.rights_end is not None:
            yield from _check_period(
                "charte.media", f"{at}.rights_end", item.rights_start, item.rights_end
            )


def _check_external_ids(external_ids: tuple[ExternalId, ...]) -> Iterator[Violation]:
    for i, external in enumerate(external_ids):
        yield from _check_text(
            f"external_ids[{i}].system", external.system, LABEL_MAX, required=True
        )
        yield from _check_text(f"external_ids[{i}].value", external.value, LABEL_MAX, required=True)


def _check_private(private: PrivateBlock) -> Iterator[Violation]:
    yield from _check_contacts("private.owner_contacts", private.owner_contacts)
    for i, reference in enumerate(private.contract_refs):
        yield from _check_text(f"private.contract_refs[{i}]", reference, LABEL_MAX, required=True)
    if private.internal_notes is not None:
        yield from _check_text(
            "private.internal_notes", private.internal_notes, NOTE_MAX, one_line=False
        )


# ---------------------------------------------------------------- values


def _check_text(
    at: str, text: str, limit: int, *, one_line: bool = True, required: bool = False
) -> Iterator[Violation]:
    if required and not text.strip():
        yield Violation(
            "charte.text_size", at, f"is empty; expected a text of 1 to {limit:,} characters"
        )
    elif len(text) > limit:
        yield Violation(
            "charte.text_size",
            at,
            f"{_shown(text)} is {len(text):,} characters long; expected at most {limit:,}",
        )
    forbidden = (_FORBIDDEN_ONE_LINE if one_line else _FORBIDDEN_MULTILINE).search(text)
    if forbidden is not None:
        yield Violation(
            "charte.text_characters",
            at,
            f"contains the control character U+{ord(forbidden.group()):04X} at position "
            f"{forbidden.start()}; remove it"
            + (" (this text must fit on one line)" if one_line else ""),
        )


def _check_email(at: str, value: str) -> Iterator[Violation]:
    local, sep, domain = value.rpartition("@")
    problem: str | None = None
    if len(value) > EMAIL_MAX:
        problem = f"is longer than {EMAIL_MAX} characters"
    elif not sep or _EMAIL_LOCAL.fullmatch(local) is None:
        problem = "is not an e-mail address"
    else:
        problem = _host_problem(domain)
    if problem is not None:
        yield Violation(
            "charte.email",
            at,
            f"{_shown(value)} {problem}; expected an address such as contact@example.fr",
        )


def _check_phone(at: str, value: str) -> Iterator[Violation]:
    if not _is_phone(value):
        yield Violation(
            "charte.phone",
            at,
            f"{_shown(value)} is not a phone number; expected a French number such as "
            "02 31 27 14 14 or +33 2 31 27 14 14 (spaces, dots or dashes allowed), or a foreign "
            "one in international form (+44 ...)",
        )


def _is_phone(value: str) -> bool:
    written = value.strip()
    if written.startswith("+33"):
        written = written.replace("(0)", "", 1)
    if _PHONE_SHAPE.fullmatch(written) is None:
        return False
    digits = re.sub(r"[^0-9]", "", written)
    if written.startswith("+33") or digits.startswith("0033"):
        subscriber = digits[2:] if written.startswith("+") else digits[4:]
        return _FRENCH_SUBSCRIBER.fullmatch(subscriber) is not None
    if written.startswith("+"):
        return _INTERNATIONAL.fullmatch(digits) is not None
    return _FRENCH_NATIONAL.fullmatch(digits) is not None


def _check_url(at: str, value: str) -> Iterator[Violation]:
    problem = _url_problem(value)
    if problem is not None:
        yield Violation(
            "charte.url",
            at,
            f"{_shown(value)} {problem}; expected a web address such as https://www.example.fr/",
        )


def _url_problem(value: str) -> str | None:
    # Checked before parsing: urlsplit silently drops tabs and line breaks.
    if len(value) > URL_MAX:
        return f"is longer than {URL_MAX:,} characters"
    if any(char.isspace() or not char.isprintable() for char in value):
        return "contains spaces or invisible characters (write a space as %20)"
    try:
        parts = urlsplit(value)
        _ = parts.port  # reading it validates the port
    except ValueError:
        return "cannot be read as an address"
    if parts.scheme.lower() not in ("http", "https"):
        return "does not start with http:// or https://"
    if parts.username is not None or parts.password is not None:
        return "carries a user name or password"
    if not parts.hostname:
        return "has no host name"
    return _host_problem(parts.hostname)


def _host_problem(host: str) -> str | None:
    """What is wrong with a public host name (international names allowed), if anything."""
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except ValueError:  # UnicodeError: an empty, too long or forbidden label
        return f"has an invalid host name {_shown(host)}"
    labels = ascii_host.removesuffix(".").split(".")
    if (
        len(ascii_host) > 253
        or len(labels) < 2
        or not all(_HOST_LABEL.fullmatch(label) for label in labels)
        or _TOP_LEVEL_DOMAIN.fullmatch(labels[-1]) is None
    ):
        return f"has an invalid host name {_shown(host)}"
    return None


_CONTACT_CHECKS: Mapping[ContactKind, Callable[[str, str], Iterator[Violation]]] = {
    ContactKind.PHONE: _check_phone,
    ContactKind.MOBILE: _check_phone,
    ContactKind.FAX: _check_phone,
    ContactKind.EMAIL: _check_email,
    ContactKind.WEBSITE: _check_url,
    ContactKind.SOCIAL: _check_url,
}


def _shown(value: str) -> str:
    """The value quoted for a message, shortened so a huge input cannot swell a rejection."""
    if len(value) > _SHOWN_MAX:
        return repr(value[: _SHOWN_MAX - 1] + "…")
    return repr(value)
