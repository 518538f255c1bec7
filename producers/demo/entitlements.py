"""Who besides an offer's owner CDT may change which of its field groups, per the registry.

The demo draws its OT, federator and CRT contributions from the registry the hub judges them by
(by default the shipped `hub/registry/normandy.toml`), so a change meant to be accepted is covered
by a contribution convention or a CRT exception in force at its time, and one meant to trip the
convention rule is covered by none. Organisations are kept in id order: draws among them are
reproducible.
"""

from __future__ import annotations

from datetime import datetime

from hub.core.offer import FieldGroup
from hub.core.registry import ContributionConvention, OrgKind, Registry
from producers.demo.offers import DemoOffer


class Entitlements:
    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._crt = tuple(
            org_id
            for org_id, org in sorted(registry.organisations.items())
            if org.kind is OrgKind.CRT
        )
        conventions: dict[str, list[ContributionConvention]] = {}
        for convention in sorted(registry.contribution_conventions, key=lambda c: c.convention_id):
            conventions.setdefault(convention.contributor, []).append(convention)
        self._conventions = {org_id: tuple(items) for org_id, items in sorted(conventions.items())}
        self._ots: dict[str, tuple[str, ...]] = {}
        for org_id, org in sorted(registry.organisations.items()):
            if org.kind is OrgKind.OT and org.department is not None:
                self._ots[org.department] = (*self._ots.get(org.department, ()), org_id)

    def ots_of(self, department: str) -> tuple[str, ...]:
        """The tourist offices of a department, whatever their conventions."""
        return self._ots.get(department, ())

    def others_entitled(self, offer: DemoOffer, group: FieldGroup, at: datetime) -> tuple[str, ...]:
        """OTs, federators and the CRT allowed to change `group` of `offer` at `at`."""
        entitled = [
            org_id
            for org_id, conventions in self._conventions.items()
            if any(c.covers(offer.offer_type, offer.commune.insee, group, at) for c in conventions)
        ]
        if any(e.covers(offer.offer_type, group, at) for e in self._registry.crt_exceptions(at)):
            entitled.extend(self._crt)
        return tuple(entitled)

    def is_entitled(self, org_id: str, offer: DemoOffer, group: FieldGroup, at: datetime) -> bool:
        return org_id in self.others_entitled(offer, group, at)

    def has_partners(self, offer: DemoOffer) -> bool:
        """Whether some convention names the offer's type and commune, at any time."""
        return any(
            offer.offer_type in c.offer_types and c.covers_place(offer.commune.insee)
            for conventions in self._conventions.values()
            for c in conventions
        )
