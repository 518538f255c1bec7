"""An offer's public fields as lines of text an operator reads, one block per field group.

`public_lines(fields)` renders every set group of `OfferFields` except the private ones
(`PRIVATE_GROUPS`): it drops them itself, whatever it is given, so a page cannot show a private
field even if a caller passed the full state by mistake. Values are plain strings; the templates
escape them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from hub.core.offer import (
    PRIVATE_GROUPS,
    Accessibility,
    Capacity,
    Classification,
    Contact,
    EventDate,
    ExternalId,
    FieldGroup,
    LocalizedText,
    Location,
    Media,
    OfferFields,
    OpeningPeriod,
    Prices,
)


@dataclass(frozen=True)
class GroupLines:
    group: FieldGroup
    lines: tuple[str, ...]


def _texts(values: tuple[LocalizedText, ...]) -> list[str]:
    return [
        f"[{t.lang}{', machine' if t.source.value == 'machine' else ''}] {t.text}" for t in values
    ]


def _location(location: Location) -> list[str]:
    address = location.address
    parts = [address.street, address.postal_code, address.commune_name]
    lines = [", ".join(p for p in parts if p) or "(no street address)"]
    lines.append(f"commune INSEE {address.commune_insee}")
    if location.geo is not None:
        lines.append(f"lat {location.geo.latitude:.5f}, lon {location.geo.longitude:.5f}")
    return lines


def _contacts(contacts: tuple[Contact, ...]) -> list[str]:
    return [f"{c.kind.value}: {c.value}" + (f" ({c.label})" if c.label else "") for c in contacts]


def _opening(periods: tuple[OpeningPeriod, ...]) -> list[str]:
    return [
        f"{p.start.isoformat()} to {p.end.isoformat()}"
        + (f", {' '.join(d.value for d in p.weekdays)}" if p.weekdays else ", every day")
        + (f" ({p.note})" if p.note else "")
        for p in periods
    ]


def _event_dates(dates: tuple[EventDate, ...]) -> list[str]:
    return [f"{d.start.isoformat()} to {d.end.isoformat()}" for d in dates]


def _amount(value: Decimal | None) -> str:
    return "?" if value is None else f"{value}"


def _prices(prices: Prices) -> list[str]:
    lines = ["free"] if prices.free else []
    lines += [
        f"{line.label}: {_amount(line.minimum)} to {_amount(line.maximum)} {line.currency}"
        for line in prices.lines
    ]
    return lines


def _classifications(values: tuple[Classification, ...]) -> list[str]:
    return [
        f"{c.scheme.value}: {c.value}"
        + (f" (until {c.valid_until.isoformat()})" if c.valid_until else "")
        for c in values
    ]


def _accessibility(value: Accessibility) -> list[str]:
    lines = []
    if value.disabilities:
        lines.append("welcomes: " + ", ".join(d.value for d in value.disabilities))
    if value.wheelchair_access is not None:
        lines.append(f"wheelchair access: {'yes' if value.wheelchair_access else 'no'}")
    if value.note:
        lines.append(value.note)
    return lines


def _capacity(value: Capacity) -> list[str]:
    pairs = (("persons", value.persons), ("rooms", value.rooms), ("pitches", value.pitches))
    return [f"{name}: {count}" for name, count in pairs if count is not None]


def _media(values: tuple[Media, ...]) -> list[str]:
    lines = []
    for m in values:
        rights = f"{m.rights_start or 'open'} to {m.rights_end or 'open'}"
        classes = ", ".join(c.value for c in m.allowed_classes)
        title = f"{m.title} — " if m.title else ""
        lines.append(f"{title}{m.url} ({m.credit}; {m.licence}; rights {rights}; for {classes})")
    return lines


def _external_ids(values: tuple[ExternalId, ...]) -> list[str]:
    return [f"{e.system}: {e.value}" for e in values]


_RENDERERS: dict[FieldGroup, Callable[[Any], list[str]]] = {
    FieldGroup.NAMES: _texts,
    FieldGroup.DESCRIPTIONS: _texts,
    FieldGroup.LOCATION: _location,
    FieldGroup.CONTACTS: _contacts,
    FieldGroup.OPENING: _opening,
    FieldGroup.EVENT_DATES: _event_dates,
    FieldGroup.PRICES: _prices,
    FieldGroup.CLASSIFICATIONS: _classifications,
    FieldGroup.ACCESSIBILITY: _accessibility,
    FieldGroup.CAPACITY: _capacity,
    FieldGroup.MEDIA: _media,
    FieldGroup.DIFFUSION: lambda status: [status.value],
    FieldGroup.EXTERNAL_IDS: _external_ids,
}


def public_lines(fields: OfferFields) -> tuple[GroupLines, ...]:
    """Each set public group of `fields`, in `FieldGroup` order, as lines of text."""
    blocks = []
    for group in fields.groups():
        if group in PRIVATE_GROUPS:
            continue
        render = _RENDERERS[group]
        blocks.append(
            GroupLines(group, tuple(render(getattr(fields, group.value))) or ("(empty)",))
        )
    return tuple(blocks)


def display_name(fields: OfferFields) -> str:
    """The offer's French name, else its first name, else an empty string."""
    names = fields.names or ()
    french = next((t.text for t in names if t.lang == "fr"), None)
    return french or (names[0].text if names else "")
