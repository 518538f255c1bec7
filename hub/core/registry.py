"""The registry: who may contribute what, and who may receive what (architecture §3).

Organisations, the consortium convention and its CRT exceptions, contribution conventions,
concessions of rights and diffusers with their conventions are plain values with validity windows.
Every question the rules ask is answered *at a given time* (the event's time, never the wall
clock), so a replay reaches the same answers. Validity bounds are calendar dates compared with the
event time's UTC date: `valid_from` inclusive, `valid_until` inclusive, `None` meaning open-ended.

A `Registry` keeps every collection sorted by id (the file parser and the event fold both keep it
so), which makes two registries with the same entries equal whatever order they were written in.
A `Concession` whose `offers` is empty covers every offer its contributor publishes; a non-empty
`offer_types` narrows any concession to those types (see `Concession.covers`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from enum import StrEnum
from functools import cached_property

from hub.core.offer import DiffuserClass, FieldGroup, OfferType


class OrgKind(StrEnum):
    CRT = "crt"  # comité régional du tourisme: the regional board
    CDT = "cdt"  # comité départemental du tourisme: a departmental board
    OT = "ot"  # office de tourisme
    FEDERATOR = "federator"  # fédérateur territorial (CCI, préfecture, ...)


@dataclass(frozen=True)
class Validity:
    valid_from: date | None = None
    valid_until: date | None = None

    def covers(self, at: datetime) -> bool:
        # A naive time is taken as UTC: astimezone() would read the machine's local zone.
        day = (at if at.tzinfo is None else at.astimezone(UTC)).date()
        if self.valid_from is not None and day < self.valid_from:
            return False
        return self.valid_until is None or day <= self.valid_until


ALWAYS = Validity()

# What a diffusion convention may ask for (architecture §9): the hub's native JSON and a
# schema.org / DATAtourisme-style JSON-LD.
DIFFUSION_FORMATS: tuple[str, ...] = ("json", "jsonld")


@dataclass(frozen=True)
class Organisation:
    org_id: str
    kind: OrgKind
    name: str
    department: str | None = None  # a CDT's or an OT's department
    communes: tuple[str, ...] = ()  # an OT's or federator's territory (INSEE codes)


@dataclass(frozen=True)
class CrtException:
    """A case where the CRT collects directly instead of through the CDTs."""

    exception_id: str
    offer_types: tuple[OfferType, ...] = ()  # empty: any type
    field_groups: tuple[FieldGroup, ...] = ()  # empty: any group
    validity: Validity = ALWAYS
    note: str = ""

    def covers(self, offer_type: OfferType, group: FieldGroup, at: datetime) -> bool:
        return (
            self.validity.covers(at)
            and (not self.offer_types or offer_type in self.offer_types)
            and (not self.field_groups or group in self.field_groups)
        )


@dataclass(frozen=True)
class ConsortiumConvention:
    """CRT <-> CDTs: the CRT collects from the CDTs only, except for the listed exceptions."""

    convention_id: str
    validity: Validity = ALWAYS
    exceptions: tuple[CrtException, ...] = ()


@dataclass(frozen=True)
class ContributionConvention:
    """Contributor <-> consortium: which types, where, which field groups, when."""

    convention_id: str
    contributor: str
    offer_types: tuple[OfferType, ...]
    field_groups: tuple[FieldGroup, ...]
    communes: tuple[str, ...] = ()  # INSEE codes
    departments: tuple[str, ...] = ()  # whole departments
    validity: Validity = ALWAYS

    def covers_place(self, commune_insee: str) -> bool:
        return commune_insee in self.communes or commune_insee[:2] in self.departments

    def covers(
        self, offer_type: OfferType, commune_insee: str, group: FieldGroup, at: datetime
    ) -> bool:
        return (
            self.validity.covers(at)
            and offer_type in self.offer_types
            and group in self.field_groups
            and self.covers_place(commune_insee)
        )


@dataclass(frozen=True)
class Concession:
    """Professional -> contributor: rights to the texts and media of some offers.

    `offers` lists offer ids; empty, it means every offer `contributor` publishes (the standard
    contract each professional signs with the board or office that enters its offer).
    `offer_types`, when not empty, restricts the concession to offers of those types.
    `professional` names who granted the rights (one professional, or the signatories of a
    standard contract).
    """

    concession_id: str
    professional: str
    contributor: str
    offers: tuple[str, ...]  # offer ids; empty: every offer the contributor publishes
    allowed_classes: tuple[DiffuserClass, ...]
    validity: Validity = ALWAYS
    offer_types: tuple[OfferType, ...] = ()  # empty: any type

    def covers(
        self,
        offer_id: str,
        at: datetime,
        *,
        contributor: str | None = None,
        offer_type: OfferType | None = None,
    ) -> bool:
        """True if in force at `at` for this offer.

        A blanket concession (no `offers`) needs the offer's `contributor` to match; a
        concession restricted by type needs the `offer_type`. An unknown (None) contributor or
        type never proves a right.
        """
        if not self.validity.covers(at):
            return False
        return self.may_cover(offer_id, (contributor,), offer_type)

    def may_cover(
        self, offer_id: str, contributors: tuple[str | None, ...], offer_type: OfferType | None
    ) -> bool:
        """True if, whatever its validity, it covers the offer for one of `contributors`."""
        if self.offer_types and (offer_type is None or offer_type not in self.offer_types):
            return False
        if self.offers:
            return offer_id in self.offers
        return self.contributor in contributors


@dataclass(frozen=True)
class DiffusionConvention:
    """Consortium -> diffuser: what it receives, for which purpose, in which form."""

    convention_id: str
    diffuser: str
    purpose: str
    offer_types: tuple[OfferType, ...]  # empty: any type
    departments: tuple[str, ...]  # empty: the whole region
    field_groups: tuple[FieldGroup, ...]
    languages: tuple[str, ...]
    formats: tuple[str, ...] = ("json",)
    validity: Validity = ALWAYS


@dataclass(frozen=True)
class Diffuser:
    diffuser_id: str
    name: str
    diffuser_class: DiffuserClass
    org_id: str | None = None  # for institutional diffusers: the organisation itself


@dataclass(frozen=True)
class Registry:
    """Everything in force or scheduled, keyed by id. Lookups take the event time."""

    organisations: Mapping[str, Organisation] = field(default_factory=dict)
    consortium: ConsortiumConvention | None = None
    contribution_conventions: tuple[ContributionConvention, ...] = ()
    concessions: tuple[Concession, ...] = ()
    diffusers: Mapping[str, Diffuser] = field(default_factory=dict)
    diffusion_conventions: tuple[DiffusionConvention, ...] = ()

    def organisation(self, org_id: str) -> Organisation | None:
        return self.organisations.get(org_id)

    def crt_exceptions(self, at: datetime) -> tuple[CrtException, ...]:
        if self.consortium is None or not self.consortium.validity.covers(at):
            return ()
        return tuple(e for e in self.consortium.exceptions if e.validity.covers(at))

    def conventions_of(self, contributor: str, at: datetime) -> tuple[ContributionConvention, ...]:
        return tuple(
            c
            for c in self.contribution_conventions
            if c.contributor == contributor and c.validity.covers(at)
        )

    def concessions_for(
        self,
        offer_id: str,
        at: datetime,
        *,
        contributor: str | None = None,
        offer_type: OfferType | None = None,
    ) -> tuple[Concession, ...]:
        """The concessions in force at `at` for this offer (see `Concession.covers`)."""
        return tuple(
            c
            for c in self.concessions
            if c.covers(offer_id, at, contributor=contributor, offer_type=offer_type)
        )

    def diffuser(self, diffuser_id: str) -> Diffuser | None:
        return self.diffusers.get(diffuser_id)

    def diffusion_conventions_of(
        self, diffuser: str, at: datetime
    ) -> tuple[DiffusionConvention, ...]:
        return tuple(
            c for c in self._conventions_by_diffuser.get(diffuser, ()) if c.validity.covers(at)
        )

    @cached_property
    def _conventions_by_diffuser(self) -> Mapping[str, tuple[DiffusionConvention, ...]]:
        # The diffusion rules ask once per diffuser per change: a scan of every convention
        # each time made a fan-out quadratic in the number of diffusers. Kept in registry order.
        found: dict[str, list[DiffusionConvention]] = {}
        for convention in self.diffusion_conventions:
            found.setdefault(convention.diffuser, []).append(convention)
        return {diffuser: tuple(conventions) for diffuser, conventions in found.items()}

    def in_force(self, at: datetime) -> Registry:
        """This registry without the conventions, exceptions and concessions not in force at `at`.

        Organisations and diffusers have no validity of their own and are all kept.
        """
        consortium = self.consortium
        if consortium is not None:
            consortium = (
                replace(consortium, exceptions=self.crt_exceptions(at))
                if consortium.validity.covers(at)
                else None
            )
        return Registry(
            organisations=self.organisations,
            consortium=consortium,
            contribution_conventions=tuple(
                c for c in self.contribution_conventions if c.validity.covers(at)
            ),
            concessions=tuple(c for c in self.concessions if c.validity.covers(at)),
            diffusers=self.diffusers,
            diffusion_conventions=tuple(
                c for c in self.diffusion_conventions if c.validity.covers(at)
            ),
        )
