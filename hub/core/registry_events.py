"""Registry entries as events (`sitn.registry`), the fold that rebuilds a registry from them.

One `RegistryEntry` carries one organisation, diffuser, consortium convention, contribution
convention, concession or diffusion convention as a JSON-able body whose keys are those of the
registry file (`docs/registry.md`), dates as ISO strings; a `RegistryRemoved` withdraws one.
Events are keyed `kind:id`, so the last event of a key is the entry's current state.

Guarantees:
- `registry_to_events(r)` is deterministic: kinds in `EntryKind` order (what others refer to
  first), ids sorted within a kind; folding it with `evolve_registry` from `Registry()` gives `r`
  back (registries keep their collections sorted by id, see `hub.core.registry`).
- `decode_entry` checks a body completely and returns every problem it finds as text naming the
  key and what to write instead; it never raises. It checks what one entry can tell on its own;
  references between entries and the commune list are checked by the file parser.
- `registry_changes(current, new)` compares entries by canonical body and lists the events that
  turn `current` into `new`: upserts first (referents before referrers), then removals (referrers
  before referents), so a fold never sees a convention whose organisation was removed first.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from typing import TypeVar

from hub.core.offer import LANGUAGES, PRIVATE_GROUPS, DiffuserClass, FieldGroup, OfferType
from hub.core.registry import (
    ALWAYS,
    DIFFUSION_FORMATS,
    Concession,
    ConsortiumConvention,
    ContributionConvention,
    CrtException,
    Diffuser,
    DiffusionConvention,
    Organisation,
    OrgKind,
    Registry,
    Validity,
)
from hub.core.territory import NORMANDY_DEPARTMENTS


class EntryKind(StrEnum):
    """What a registry entry is; the declaration order is the order events are published in."""

    ORGANISATION = "organisation"
    DIFFUSER = "diffuser"
    CONSORTIUM = "consortium_convention"
    CONTRIBUTION_CONVENTION = "contribution_convention"
    CONCESSION = "concession"
    DIFFUSION_CONVENTION = "diffusion_convention"


RegistryValue = (
    Organisation
    | Diffuser
    | ConsortiumConvention
    | ContributionConvention
    | Concession
    | DiffusionConvention
)

# Ids end up in Kafka keys (`kind:id`) and, for organisations, in topic names (`sitn.contrib.<id>`).
ENTRY_ID = re.compile(r"[a-z0-9][a-z0-9-]{1,62}")


class RegistryEventError(ValueError):
    """An entry event whose body does not decode: a bug or a foreign writer, never a file typo."""


@dataclass(frozen=True)
class RegistryEntry:
    """The current state of one entry (an upsert)."""

    kind: EntryKind
    entry_id: str
    body: Mapping[str, object] = field(hash=False)  # JSON-able: str, None, lists, nested dicts

    @property
    def key(self) -> str:
        return entry_key(self.kind, self.entry_id)


@dataclass(frozen=True)
class RegistryRemoved:
    """The entry no longer exists (it disappeared from the registry file)."""

    kind: EntryKind
    entry_id: str

    @property
    def key(self) -> str:
        return entry_key(self.kind, self.entry_id)


RegistryEvent = RegistryEntry | RegistryRemoved


def entry_key(kind: EntryKind, entry_id: str) -> str:
    """The Kafka key of an entry's events: `kind:id`."""
    return f"{kind.value}:{entry_id}"


def body_json(body: Mapping[str, object]) -> str:
    """The canonical JSON text of a body: sorted keys, no spaces, UTF-8 characters kept."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_id(event: RegistryEvent) -> str:
    """A deterministic id naming the event's content: same entry state, same id."""
    if isinstance(event, RegistryRemoved):
        return f"{event.key}#removed"
    digest = hashlib.sha256(body_json(event.body).encode()).hexdigest()[:16]
    return f"{event.key}#{digest}"


def entry_validity(event: RegistryEvent) -> Validity:
    """The validity window an entry's body declares (always, for removals and timeless kinds)."""
    if isinstance(event, RegistryRemoved):
        return ALWAYS
    start, end = event.body.get("valid_from"), event.body.get("valid_until")
    return Validity(
        date.fromisoformat(start) if isinstance(start, str) else None,
        date.fromisoformat(end) if isinstance(end, str) else None,
    )


# ---------------------------------------------------------------- values -> events


def kind_of(value: RegistryValue) -> EntryKind:
    if isinstance(value, Organisation):
        return EntryKind.ORGANISATION
    if isinstance(value, Diffuser):
        return EntryKind.DIFFUSER
    if isinstance(value, ConsortiumConvention):
        return EntryKind.CONSORTIUM
    if isinstance(value, ContributionConvention):
        return EntryKind.CONTRIBUTION_CONVENTION
    if isinstance(value, Concession):
        return EntryKind.CONCESSION
    return EntryKind.DIFFUSION_CONVENTION


def id_of(value: RegistryValue) -> str:
    if isinstance(value, Organisation):
        return value.org_id
    if isinstance(value, Diffuser):
        return value.diffuser_id
    if isinstance(value, Concession):
        return value.concession_id
    return value.convention_id


def entry_for(value: RegistryValue) -> RegistryEntry:
    """The upsert event carrying `value`."""
    return RegistryEntry(kind_of(value), id_of(value), _body(value))


def registry_values(registry: Registry) -> tuple[RegistryValue, ...]:
    """Every entry of the registry in publication order (kind order, then id)."""
    values: list[RegistryValue] = [*sorted(registry.organisations.values(), key=id_of)]
    values.extend(sorted(registry.diffusers.values(), key=id_of))
    if registry.consortium is not None:
        values.append(registry.consortium)
    values.extend(sorted(registry.contribution_conventions, key=id_of))
    values.extend(sorted(registry.concessions, key=id_of))
    values.extend(sorted(registry.diffusion_conventions, key=id_of))
    return tuple(values)


def registry_to_events(registry: Registry) -> tuple[RegistryEntry, ...]:
    """One upsert per entry, in publication order."""
    return tuple(entry_for(value) for value in registry_values(registry))


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _validity_body(validity: Validity) -> dict[str, object]:
    return {"valid_from": _day(validity.valid_from), "valid_until": _day(validity.valid_until)}


def _body(value: RegistryValue) -> dict[str, object]:
    if isinstance(value, Organisation):
        return {
            "kind": value.kind.value,
            "name": value.name,
            "department": value.department,
            "communes": list(value.communes),
        }
    if isinstance(value, Diffuser):
        return {
            "name": value.name,
            "class": value.diffuser_class.value,
            "org": value.org_id,
        }
    if isinstance(value, ConsortiumConvention):
        return {
            **_validity_body(value.validity),
            "exception": [
                {
                    "id": e.exception_id,
                    "offer_types": [t.value for t in e.offer_types],
                    "field_groups": [g.value for g in e.field_groups],
                    "note": e.note,
                    **_validity_body(e.validity),
                }
                for e in value.exceptions
            ],
        }
    if isinstance(value, ContributionConvention):
        return {
            "contributor": value.contributor,
            "offer_types": [t.value for t in value.offer_types],
            "field_groups": [g.value for g in value.field_groups],
            "communes": list(value.communes),
            "departments": list(value.departments),
            **_validity_body(value.validity),
        }
    if isinstance(value, Concession):
        return {
            "professional": value.professional,
            "contributor": value.contributor,
            "offers": list(value.offers),
            "offer_types": [t.value for t in value.offer_types],
            "allowed_classes": [c.value for c in value.allowed_classes],
            **_validity_body(value.validity),
        }
    return {
        "diffuser": value.diffuser,
        "purpose": value.purpose,
        "offer_types": [t.value for t in value.offer_types],
        "departments": list(value.departments),
        "field_groups": [g.value for g in value.field_groups],
        "languages": list(value.languages),
        "formats": list(value.formats),
        **_validity_body(value.validity),
    }


# ---------------------------------------------------------------- bodies -> values

E = TypeVar("E", bound=StrEnum)

_NOUNS: Mapping[type[StrEnum], str] = {
    OfferType: "offer type",
    FieldGroup: "field group",
    DiffuserClass: "diffuser class",
    OrgKind: "organisation kind",
}
_INSEE = re.compile(r"[0-9]{5}|2[AB][0-9]{3}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_VALIDITY_KEYS = ("valid_from", "valid_until")


class _Reader:
    """Reads one body, collecting a problem for every key that is missing, unknown or wrong."""

    def __init__(self, body: Mapping[str, object], keys: Sequence[str], prefix: str = "") -> None:
        self.body = body
        self.prefix = prefix
        self.problems: list[str] = []
        for key in body:
            if key not in keys:
                self.problem(f"unknown key {key!r}; expected one of: {', '.join(keys)}")

    def problem(self, message: str) -> None:
        self.problems.append(f"{self.prefix}{message}")

    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self.body.get(key)
        if value is None:
            if required:
                self.problem(f"{key!r} is missing")
            return None
        if not isinstance(value, str) or (required and not value.strip()):
            self.problem(f"{key} must be a non-empty text; got {value!r}")
            return None
        return value

    def texts(self, key: str, *, required: bool = False) -> tuple[str, ...]:
        value = self.body.get(key)
        if value is None:
            if required:
                self.problem(f"{key!r} is missing; list at least one value")
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(f'{key} must be a list of texts such as ["a", "b"]; got {value!r}')
            return ()
        if required and not value:
            self.problem(f"{key} is empty; list at least one value")
        seen: list[str] = []
        for item in value:
            if item in seen:
                self.problem(f"{key} lists {item!r} twice; keep one")
            else:
                seen.append(item)
        return tuple(seen)

    def checked(
        self, key: str, allowed: Sequence[str], noun: str, *, required: bool = False
    ) -> tuple[str, ...]:
        kept: list[str] = []
        for item in self.texts(key, required=required):
            if item in allowed:
                kept.append(item)
            else:
                self.problem(
                    f"unknown {noun} {item!r} in {key}; expected among {', '.join(allowed)}"
                )
        return tuple(kept)

    def members(self, key: str, enum: type[E], *, required: bool = False) -> tuple[E, ...]:
        allowed = [m.value for m in enum]
        return tuple(enum(v) for v in self.checked(key, allowed, _NOUNS[enum], required=required))

    def member(self, key: str, enum: type[E]) -> E | None:
        value = self.text(key, required=True)
        if value is None:
            return None
        if value not in [m.value for m in enum]:
            allowed = ", ".join(m.value for m in enum)
            self.problem(f"unknown {_NOUNS[enum]} {value!r} in {key}; expected one of {allowed}")
            return None
        return enum(value)

    def departments(self, key: str = "departments") -> tuple[str, ...]:
        return self.checked(key, NORMANDY_DEPARTMENTS, "department")

    def department(self) -> str | None:
        value = self.text("department")
        if value is not None and value not in NORMANDY_DEPARTMENTS:
            self.problem(
                f"unknown department {value!r}; Normandy's are {', '.join(NORMANDY_DEPARTMENTS)}"
            )
            return None
        return value

    def communes(self) -> tuple[str, ...]:
        codes = self.texts("communes")
        for code in codes:
            if _INSEE.fullmatch(code) is None:
                self.problem(f"commune {code!r} in communes is not an INSEE code such as 14118")
        return codes

    def day(self, key: str) -> date | None:
        value = self.body.get(key)
        if value is None:
            return None
        if isinstance(value, str) and _ISO_DATE.fullmatch(value):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass  # well-formed but not a calendar day, such as 2024-02-30
        self.problem(f"{key} {value!r} is not a date such as 2024-01-31")
        return None

    def validity(self) -> Validity:
        start, end = self.day("valid_from"), self.day("valid_until")
        if start is not None and end is not None and end < start:
            self.problem(f"valid_until {end} is before valid_from {start}")
        return Validity(start, end)


_KEYS: Mapping[EntryKind, tuple[str, ...]] = {
    EntryKind.ORGANISATION: ("kind", "name", "department", "communes"),
    EntryKind.DIFFUSER: ("name", "class", "org"),
    EntryKind.CONSORTIUM: ("exception", *_VALIDITY_KEYS),
    EntryKind.CONTRIBUTION_CONVENTION: (
        "contributor",
        "offer_types",
        "field_groups",
        "communes",
        "departments",
        *_VALIDITY_KEYS,
    ),
    EntryKind.CONCESSION: (
        "professional",
        "contributor",
        "offers",
        "offer_types",
        "allowed_classes",
        *_VALIDITY_KEYS,
    ),
    EntryKind.DIFFUSION_CONVENTION: (
        "diffuser",
        "purpose",
        "offer_types",
        "departments",
        "field_groups",
        "languages",
        "formats",
        *_VALIDITY_KEYS,
    ),
}
_EXCEPTION_KEYS = ("id", "offer_types", "field_groups", "note", *_VALIDITY_KEYS)


def entry_keys(kind: EntryKind) -> tuple[str, ...]:
    """The keys a body (and a registry file's table, besides `id`) of this kind may hold."""
    return _KEYS[kind]


def decode_entry(
    kind: EntryKind, entry_id: str, body: Mapping[str, object]
) -> RegistryValue | tuple[str, ...]:
    """The value a body describes, or every problem found in it (as text, never raised)."""
    problems: list[str] = []
    if not isinstance(entry_id, str) or ENTRY_ID.fullmatch(entry_id) is None:
        problems.append(
            f"id {entry_id!r} is not valid: use 2-63 lowercase letters, digits or '-', "
            "starting with a letter or digit (e.g. cc-ot-bayeux-2024)"
        )
    reader = _Reader(body, _KEYS[kind])
    value = _DECODERS[kind](entry_id, reader)
    problems.extend(reader.problems)
    if problems or value is None:
        return tuple(problems) or (f"the {kind.value} cannot be read",)
    return value


def _organisation(entry_id: str, r: _Reader) -> Organisation | None:
    kind = r.member("kind", OrgKind)
    name = r.text("name", required=True)
    department = r.department()
    communes = r.communes()
    raw_department = r.body.get("department")
    if kind is OrgKind.CRT and (raw_department is not None or communes):
        r.problem("the CRT covers the whole region: remove department and communes")
    if kind is OrgKind.CDT:
        if raw_department is None:
            r.problem(f"a CDT needs its department, one of {', '.join(NORMANDY_DEPARTMENTS)}")
        if communes:
            r.problem("a CDT covers its whole department: remove communes")
    if kind is OrgKind.OT:
        if raw_department is None:
            r.problem(f"an OT needs its department, one of {', '.join(NORMANDY_DEPARTMENTS)}")
        if not communes:
            r.problem("an OT needs its territory: list its communes' INSEE codes in communes")
    if department is not None:
        for code in communes:
            if not code.startswith(department):
                r.problem(f"commune {code} is not in department {department}")
    if kind is None or name is None:
        return None
    return Organisation(entry_id, kind, name, department, communes)


def _diffuser(entry_id: str, r: _Reader) -> Diffuser | None:
    name = r.text("name", required=True)
    diffuser_class = r.member("class", DiffuserClass)
    org = r.text("org")
    if diffuser_class is DiffuserClass.INSTITUTIONAL and org is None:
        r.problem(
            "an institutional diffuser is the CRT, a CDT or an OT itself: set org to the id "
            "of that organisation"
        )
    if name is None or diffuser_class is None:
        return None
    return Diffuser(entry_id, name, diffuser_class, org)


def _consortium(entry_id: str, r: _Reader) -> ConsortiumConvention | None:
    validity = r.validity()
    raw = r.body.get("exception", [])
    items = [item for item in raw if isinstance(item, Mapping)] if isinstance(raw, list) else []
    if not isinstance(raw, list) or len(items) != len(raw):
        r.problem("exception must be a list of tables ([[consortium.exception]])")
        return None
    exceptions: list[CrtException] = []
    for index, item in enumerate(items, start=1):
        label = item.get("id")
        sub = _Reader(item, _EXCEPTION_KEYS, prefix=f"exception #{index} ({label}): ")
        exception_id = sub.text("id", required=True)
        if exception_id is not None and ENTRY_ID.fullmatch(exception_id) is None:
            sub.problem(f"id {exception_id!r} is not valid: use lowercase letters, digits or '-'")
        if exception_id in [e.exception_id for e in exceptions]:
            sub.problem(f"id {exception_id!r} is used by an earlier exception; make it unique")
        offer_types = sub.members("offer_types", OfferType)
        field_groups = sub.members("field_groups", FieldGroup)
        note = sub.text("note") or ""
        exception_validity = sub.validity()
        r.problems.extend(sub.problems)
        if exception_id is not None:
            exceptions.append(
                CrtException(exception_id, offer_types, field_groups, exception_validity, note)
            )
    return ConsortiumConvention(entry_id, validity, tuple(exceptions))


def _contribution_convention(entry_id: str, r: _Reader) -> ContributionConvention | None:
    contributor = r.text("contributor", required=True)
    offer_types = r.members("offer_types", OfferType, required=True)
    field_groups = r.members("field_groups", FieldGroup, required=True)
    communes = r.communes()
    departments = r.departments()
    validity = r.validity()
    if not r.body.get("communes") and not r.body.get("departments"):
        r.problem("a contribution convention needs a territory: list communes and/or departments")
    if contributor is None:
        return None
    return ContributionConvention(
        entry_id, contributor, offer_types, field_groups, communes, departments, validity
    )


def _concession(entry_id: str, r: _Reader) -> Concession | None:
    professional = r.text("professional", required=True)
    contributor = r.text("contributor", required=True)
    offers = r.texts("offers")
    offer_types = r.members("offer_types", OfferType)
    allowed = r.members("allowed_classes", DiffuserClass, required=True)
    validity = r.validity()
    if professional is None or contributor is None:
        return None
    return Concession(entry_id, professional, contributor, offers, allowed, validity, offer_types)


def _diffusion_convention(entry_id: str, r: _Reader) -> DiffusionConvention | None:
    diffuser = r.text("diffuser", required=True)
    purpose = r.text("purpose", required=True)
    offer_types = r.members("offer_types", OfferType)
    departments = r.departments()
    field_groups = r.members("field_groups", FieldGroup, required=True)
    for group in field_groups:
        if group in PRIVATE_GROUPS:
            r.problem(
                f"field group {group.value!r} is never diffused (private data stays in the "
                "base); remove it from field_groups"
            )
    languages = r.checked("languages", LANGUAGES, "language", required=True)
    formats = r.checked("formats", DIFFUSION_FORMATS, "format") if "formats" in r.body else None
    if formats == ():
        r.problem(f"formats is empty; list at least one of {', '.join(DIFFUSION_FORMATS)}")
    validity = r.validity()
    if diffuser is None or purpose is None:
        return None
    return DiffusionConvention(
        entry_id,
        diffuser,
        purpose,
        offer_types,
        departments,
        field_groups,
        languages,
        formats or ("json",),
        validity,
    )


_DECODERS: Mapping[EntryKind, Callable[[str, _Reader], RegistryValue | None]] = {
    EntryKind.ORGANISATION: _organisation,
    EntryKind.DIFFUSER: _diffuser,
    EntryKind.CONSORTIUM: _consortium,
    EntryKind.CONTRIBUTION_CONVENTION: _contribution_convention,
    EntryKind.CONCESSION: _concession,
    EntryKind.DIFFUSION_CONVENTION: _diffusion_convention,
}


# ---------------------------------------------------------------- the fold


def registry_of(values: Sequence[RegistryValue]) -> Registry:
    """A registry holding these values (ids unique per kind), collections sorted by id."""
    registry = Registry()
    for value in values:
        registry = _with(registry, value)
    return registry


def evolve_registry(registry: Registry, event: RegistryEvent) -> Registry:
    """The registry after one event: an upsert replaces or adds, a removal drops.

    A body that does not decode raises `RegistryEventError`: check entries read from the wire with
    `decode_entry` first (an undecodable record belongs in the dead-letter topic).
    """
    if isinstance(event, RegistryRemoved):
        return _without(registry, event.kind, event.entry_id)
    value = decode_entry(event.kind, event.entry_id, event.body)
    if isinstance(value, tuple):
        raise RegistryEventError(f"registry event {event.key}: " + "; ".join(value))
    return _with(registry, value)


def fold_registry(events: Sequence[RegistryEvent], start: Registry | None = None) -> Registry:
    """`evolve_registry` over `events`, from `start` (an empty registry by default)."""
    registry = Registry() if start is None else start
    for event in events:
        registry = evolve_registry(registry, event)
    return registry


_V = TypeVar("_V", ContributionConvention, Concession, DiffusionConvention)


def _upsert(items: tuple[_V, ...], value: _V) -> tuple[_V, ...]:
    kept: list[_V] = [item for item in items if id_of(item) != id_of(value)]
    kept.append(value)
    return tuple(sorted(kept, key=id_of))


def _drop(items: tuple[_V, ...], entry_id: str) -> tuple[_V, ...]:
    return tuple(item for item in items if id_of(item) != entry_id)


def _with(registry: Registry, value: RegistryValue) -> Registry:
    if isinstance(value, Organisation):
        organisations = {**registry.organisations, value.org_id: value}
        return replace(registry, organisations=dict(sorted(organisations.items())))
    if isinstance(value, Diffuser):
        diffusers = {**registry.diffusers, value.diffuser_id: value}
        return replace(registry, diffusers=dict(sorted(diffusers.items())))
    if isinstance(value, ConsortiumConvention):
        return replace(registry, consortium=value)
    if isinstance(value, ContributionConvention):
        return replace(
            registry,
            contribution_conventions=_upsert(registry.contribution_conventions, value),
        )
    if isinstance(value, Concession):
        return replace(registry, concessions=_upsert(registry.concessions, value))
    return replace(registry, diffusion_conventions=_upsert(registry.diffusion_conventions, value))


def _without(registry: Registry, kind: EntryKind, entry_id: str) -> Registry:
    if kind is EntryKind.ORGANISATION:
        return replace(
            registry,
            organisations={k: v for k, v in registry.organisations.items() if k != entry_id},
        )
    if kind is EntryKind.DIFFUSER:
        return replace(
            registry, diffusers={k: v for k, v in registry.diffusers.items() if k != entry_id}
        )
    if kind is EntryKind.CONSORTIUM:
        current = registry.consortium
        keep = current is not None and current.convention_id != entry_id
        return replace(registry, consortium=current if keep else None)
    if kind is EntryKind.CONTRIBUTION_CONVENTION:
        return replace(
            registry,
            contribution_conventions=_drop(registry.contribution_conventions, entry_id),
        )
    if kind is EntryKind.CONCESSION:
        return replace(registry, concessions=_drop(registry.concessions, entry_id))
    return replace(registry, diffusion_conventions=_drop(registry.diffusion_conventions, entry_id))


# ---------------------------------------------------------------- comparing two registries


@dataclass(frozen=True)
class RegistryChanges:
    """How `new` differs from `current`, entry keys (`kind:id`) in publication order."""

    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: tuple[str, ...]
    events: tuple[RegistryEvent, ...]  # what to publish to turn `current` into `new`


def registry_changes(current: Registry, new: Registry) -> RegistryChanges:
    before = {entry.key: entry for entry in registry_to_events(current)}
    after = registry_to_events(new)
    after_keys = {entry.key for entry in after}
    added: list[str] = []
    changed: list[str] = []
    unchanged: list[str] = []
    upserts: list[RegistryEvent] = []
    for entry in after:
        old = before.get(entry.key)
        if old is None:
            added.append(entry.key)
            upserts.append(entry)
        elif body_json(old.body) != body_json(entry.body):
            changed.append(entry.key)
            upserts.append(entry)
        else:
            unchanged.append(entry.key)
    gone = [entry for entry in reversed(before.values()) if entry.key not in after_keys]
    removals = [RegistryRemoved(entry.kind, entry.entry_id) for entry in gone]
    return RegistryChanges(
        added=tuple(added),
        changed=tuple(changed),
        removed=tuple(event.key for event in removals),
        unchanged=tuple(unchanged),
        events=(*upserts, *removals),
    )
