"""`generate_changes`: a realistic, reproducible stream of follow-up changes to demo offers.

Each item is `(contributor, DemoChange)`. Valid changes come from the offer's owner CDT or from an
organisation the registry entitles at the change's time: an OT whose contribution convention
covers the offer's type, commune and group, a federator (the CCI's and the préfecture's
classifications) or the CRT under an exception of the consortium convention (its photo library).
They update descriptions, prices, opening periods or event dates, media, contacts and labels,
withdraw offers with a reason and delete a few. With `invalid_ratio`, exactly that share of the
items is replaced by contributions the hub must reject, each flagged with the rule family it
trips (`RuleFamily`): a CDT changing another department's offer (principle), an OT changing a group
no convention of its covers there and then (convention), or an owner breaking the *charte de
saisie* (a missing French name, a minimum price above the maximum, an event ending before it
starts, a malformed e-mail, coordinates outside Normandy). Invalid items leave the offers' state
as it was.

Guarantees: the output depends only on the offers, `count`, `seed`, `invalid_ratio` and the
registry (one `random.Random(seed)`, no clock); `occurred_at` never decreases and is later than
every creation; source versions grow by one per (contributor, offer), the owner's creation being
version 1; no change targets an offer already withdrawn or deleted, and withdrawals and deletions
stop before half the offers would be gone.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from hub.core.contribution import (
    FieldGroupsChanged,
    OfferCreated,
    OfferDeleted,
    OfferWithdrawn,
    Payload,
)
from hub.core.offer import (
    Address,
    Contact,
    ContactKind,
    EventDate,
    FieldGroup,
    GeoPoint,
    LocalizedText,
    Location,
    OfferFields,
    OfferType,
    PriceLine,
    Prices,
)
from hub.core.registry import Registry
from hub.registry.format import load_normandy_registry
from producers.demo import offers as make
from producers.demo import wording
from producers.demo.entitlements import Entitlements
from producers.demo.offers import EPOCH, DemoOffer
from producers.demo.organisations import CDT_BY_DEPARTMENT, CRT

SOURCE_SYSTEM = "tourinsoft"  # every CDT and OT of the network enters offers in Tourinsoft

# How often a valid change is drawn among the offers some OT or federator may change, and how
# often an entitled organisation other than the owner then makes it.
PARTNER_DRAW = 0.25
PARTNER_SHARE = 0.6
# The CRT's exceptions cover media on every offer (its photo library): it adds a few.
CRT_SHARE = 0.05


class RuleFamily(StrEnum):
    """The collection rule (architecture §4) an invalid demo contribution is built to trip; the
    hub's rule ids are these values, or start with ``charte.`` for the charte."""

    PRINCIPLE = "principle"  # rule 2: a CDT contributes for offers of its own department
    CONVENTION = "convention"  # rule 4: an OT needs a convention covering every changed group
    CHARTE = "charte"  # rule 6: the charte de saisie


@dataclass(frozen=True)
class DemoChange:
    """One change as its contributor publishes it (the fields of `producers.publisher.Change`),
    with what the hub should do about it."""

    offer_id: str
    payload: Payload
    occurred_at: datetime  # timezone-aware
    source_system: str
    source_id: str
    source_version: int  # per (contributor, offer); the owner's creation is 1
    intent: str  # what the change does, in words, for logs and the demo's narration
    expected_rejection: RuleFamily | None = None  # None: the hub should accept it


def creations(offers: Sequence[DemoOffer]) -> list[tuple[str, DemoChange]]:
    """Each offer's creation by its owner (version 1), in the offers' order."""
    return [
        (
            offer.owner,
            DemoChange(
                offer_id=offer.offer_id,
                payload=OfferCreated(offer.offer_type, offer.fields),
                occurred_at=offer.occurred_at,
                source_system=SOURCE_SYSTEM,
                source_id=offer.offer_id,
                source_version=1,
                intent=f"creation of a {offer.offer_type.value} offer",
            ),
        )
        for offer in offers
    ]


def generate_changes(
    offers: Sequence[DemoOffer],
    count: int,
    seed: int,
    *,
    invalid_ratio: float = 0.0,
    registry: Registry | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[tuple[str, DemoChange]]:
    """`count` follow-up changes, of which `round(count * invalid_ratio)` the hub must reject.

    `registry` says who besides the owners may contribute; None means the shipped Normandy
    registry. `progress`, if given, is called with the number of changes made since its last call.
    """
    if count < 0:
        raise ValueError(f"count={count}: the number of changes cannot be negative")
    if not 0.0 <= invalid_ratio <= 1.0:
        raise ValueError(f"invalid_ratio={invalid_ratio}: expected a share between 0 and 1")
    if count and not offers:
        raise ValueError("changes need offers to change; generate offers first")
    if registry is None:
        registry = load_normandy_registry()
    rng = random.Random(seed)  # noqa: S311 - seeded synthetic data, not secrets
    invalid = [False] * count
    for position in rng.sample(range(count), round(count * invalid_ratio)):
        invalid[position] = True
    stream = _Stream(offers, Entitlements(registry), rng)
    changes: list[tuple[str, DemoChange]] = []
    for made in range(1, count + 1):
        stream.tick()
        changes.append(stream.invalid() if invalid[made - 1] else stream.valid())
        if progress is not None and (made % 1000 == 0 or made == count):
            progress(made % 1000 or 1000)
    return changes


@dataclass
class _Offer:
    offer: DemoOffer
    fields: OfferFields  # current state: creation merged with the accepted changes
    versions: dict[str, int]  # last source version per contributor
    media_made: int  # media files numbered so far


class _Pool:
    """Offer ids to draw from, with O(1) removal (the last one fills the slot)."""

    def __init__(self, offer_ids: list[str]) -> None:
        self.ids = offer_ids
        self.position = {offer_id: i for i, offer_id in enumerate(offer_ids)}

    def draw(self, rng: random.Random) -> str:
        return self.ids[rng.randrange(len(self.ids))]

    def remove(self, offer_id: str) -> None:
        i = self.position.pop(offer_id, None)
        if i is None:
            return
        last = self.ids.pop()
        if last != offer_id:
            self.ids[i] = last
            self.position[last] = i


_VALID_KINDS: tuple[tuple[str, int], ...] = (
    ("descriptions", 30),
    ("prices", 14),
    ("opening", 14),
    ("media", 14),
    ("contacts", 8),
    ("classifications", 5),
    ("withdrawal", 9),
    ("deletion", 2),
)

# The groups an update may change, in the order an invalid OT change tries them.
_UPDATABLE: tuple[FieldGroup, ...] = (
    FieldGroup.PRICES,
    FieldGroup.CLASSIFICATIONS,
    FieldGroup.CAPACITY,
    FieldGroup.DESCRIPTIONS,
    FieldGroup.MEDIA,
    FieldGroup.CONTACTS,
    FieldGroup.OPENING,
)

_WITHDRAWAL_REASONS: tuple[str, ...] = (
    "Fermeture définitive de l'établissement",
    "Cessation d'activité",
    "Changement de propriétaire : une nouvelle fiche sera créée",
    "Fermé pour travaux jusqu'à nouvel ordre",
    "Absent du dernier export Tourinsoft du département",
)


class _Stream:
    """The evolving state of the offers while changes are drawn."""

    def __init__(
        self, offers: Sequence[DemoOffer], entitlements: Entitlements, rng: random.Random
    ) -> None:
        self.rng = rng
        self.entitlements = entitlements
        self.total = len(offers)
        self.state = {
            o.offer_id: _Offer(o, o.fields, {o.owner: 1}, len(o.fields.media or ())) for o in offers
        }
        self.alive = _Pool([o.offer_id for o in offers])
        self.with_partners = _Pool([o.offer_id for o in offers if entitlements.has_partners(o)])
        self.at = max((o.occurred_at for o in offers), default=EPOCH)
        self.kinds = tuple(kind for kind, _ in _VALID_KINDS)
        self.weights = tuple(weight for _, weight in _VALID_KINDS)

    def tick(self) -> None:
        self.at += timedelta(seconds=self.rng.randint(1, 900))

    def pick(self, pool: _Pool | None = None) -> _Offer:
        return self.state[(pool or self.alive).draw(self.rng)]

    def emit(
        self,
        contributor: str,
        current: _Offer,
        payload: Payload,
        intent: str,
        rejection: RuleFamily | None = None,
    ) -> tuple[str, DemoChange]:
        version = current.versions.get(contributor, 0) + 1
        current.versions[contributor] = version
        change = DemoChange(
            offer_id=current.offer.offer_id,
            payload=payload,
            occurred_at=self.at,
            source_system=SOURCE_SYSTEM,
            source_id=current.offer.offer_id,
            source_version=version,
            intent=intent,
            expected_rejection=rejection,
        )
        return contributor, change

    # ------------------------------------------------------------ valid changes

    def valid(self) -> tuple[str, DemoChange]:
        kind = self.rng.choices(self.kinds, self.weights)[0]
        if kind in ("withdrawal", "deletion"):
            if len(self.alive.ids) - 1 >= self.total / 2:
                return self.removal(self.pick(), kind)
            kind = "descriptions"
        partner_draw = bool(self.with_partners.ids) and self.rng.random() < PARTNER_DRAW
        current = self.pick(self.with_partners if partner_draw else None)
        group = _group_for(kind, current.fields)
        fields = self.content(current, group)
        contributor = current.offer.owner
        entitled = self.entitlements.others_entitled(current.offer, group, self.at)
        others = tuple(org_id for org_id in entitled if org_id != CRT)
        if others and self.rng.random() < PARTNER_SHARE:
            contributor = others[self.rng.randrange(len(others))]
        elif CRT in entitled and self.rng.random() < CRT_SHARE:
            contributor = CRT
        current.fields = current.fields.merged_with(fields)
        return self.emit(contributor, current, FieldGroupsChanged(fields), f"{group.value} update")

    def removal(self, current: _Offer, kind: str) -> tuple[str, DemoChange]:
        offer = current.offer
        self.alive.remove(offer.offer_id)
        self.with_partners.remove(offer.offer_id)
        payload: OfferWithdrawn | OfferDeleted
        if kind == "withdrawal":
            if offer.offer_type is OfferType.FMA:
                reason = "Manifestation annulée par l'organisateur"
            else:
                reason = _WITHDRAWAL_REASONS[self.rng.randrange(len(_WITHDRAWAL_REASONS))]
            payload = OfferWithdrawn(reason)
        else:
            duplicate_of = self.alive.draw(self.rng)
            payload = OfferDeleted(f"Doublon de la fiche {duplicate_of}, saisie par erreur")
        return self.emit(offer.owner, current, payload, f"{kind}: {payload.reason}")

    def content(self, current: _Offer, group: FieldGroup) -> OfferFields:
        """New content for `group`, drawn like the original and valid under the charte."""
        offer = current.offer
        fields = current.fields
        rng = self.rng
        today = self.at.date()
        name = _french_name(fields)
        if group is FieldGroup.PRICES:
            if offer.offer_type not in make.PRICED_TYPES:
                return OfferFields(
                    prices=Prices(
                        lines=(PriceLine("Visite guidée", make.euros(10), make.euros(16)),)
                    )
                )
            return OfferFields(
                prices=make.prices_for(offer.offer_type, rng, rise=rng.randint(0, 3))
            )
        if group is FieldGroup.EVENT_DATES:
            return OfferFields(event_dates=make.event_dates_for(today.year, rng))
        if group is FieldGroup.OPENING:
            year = today.year + (1 if today.month >= 9 else 0)  # next season once autumn comes
            return OfferFields(opening=make.opening_for(offer.offer_type, year, rng))
        if group is FieldGroup.MEDIA:
            first = current.media_made + 1
            media = make.media_for(offer.offer_id, name, offer.department, today, rng, first=first)
            current.media_made += len(media)
            return OfferFields(media=media)
        if group is FieldGroup.CONTACTS:
            return OfferFields(
                contacts=make.contacts_for(offer.offer_type, name, offer.commune, rng)
            )
        if group is FieldGroup.CLASSIFICATIONS:
            accessibility = fields.accessibility or make.accessibility_for(rng)
            return OfferFields(
                classifications=make.classifications_for(offer.offer_type, accessibility, rng)
            )
        if group is FieldGroup.CAPACITY:
            return OfferFields(capacity=make.capacity_for(offer.offer_type, rng))
        texts = wording.descriptions(
            offer.offer_type, name, offer.commune.name, offer.department, rng, with_news=True
        )
        return OfferFields(descriptions=texts)

    # ------------------------------------------------------------ invalid changes

    def invalid(self) -> tuple[str, DemoChange]:
        family = self.rng.choices(tuple(RuleFamily), (30, 30, 40))[0]
        if family is RuleFamily.PRINCIPLE:
            return self.foreign_cdt(self.pick())
        if family is RuleFamily.CONVENTION:
            return self.ot_without_convention()
        return self.charte_breach(self.pick())

    def foreign_cdt(self, current: _Offer) -> tuple[str, DemoChange]:
        department = current.offer.department
        others = tuple(cdt for d, cdt in CDT_BY_DEPARTMENT.items() if d != department)
        intruder = others[self.rng.randrange(len(others))]
        fields = self.content(current, FieldGroup.DESCRIPTIONS)
        return self.emit(
            intruder,
            current,
            FieldGroupsChanged(fields),
            f"{intruder} changes descriptions of an offer of department {department}",
            RuleFamily.PRINCIPLE,
        )

    def ot_without_convention(self) -> tuple[str, DemoChange]:
        """An OT of the offer's department changes a group no convention of its covers then."""
        use_partners = bool(self.with_partners.ids) and self.rng.random() < 0.7
        current = self.pick(self.with_partners if use_partners else None)
        offer = current.offer
        ots = self.entitlements.ots_of(offer.department)
        if not ots:
            return self.foreign_cdt(current)
        ot = ots[self.rng.randrange(len(ots))]
        uncovered = [
            g for g in _UPDATABLE if not self.entitlements.is_entitled(ot, offer, g, self.at)
        ]
        if not uncovered:
            return self.foreign_cdt(current)
        # Mostly what OTs typically lack (prices, labels); otherwise whatever they lack here.
        group = uncovered[0] if self.rng.random() < 0.7 else self.rng.choice(uncovered)
        fields = self.content(current, group)
        return self.emit(
            ot,
            current,
            FieldGroupsChanged(fields),
            f"{ot} changes {group.value} of a {offer.offer_type.value} offer in "
            f"{offer.commune.name}, which no convention of its covers",
            RuleFamily.CONVENTION,
        )

    def charte_breach(self, current: _Offer) -> tuple[str, DemoChange]:
        offer = current.offer
        rng = self.rng
        breaches = ["name_fr", "prices", "email", "coordinates"]
        if current.fields.event_dates is not None:
            breaches.append("event_dates")
        breach = breaches[rng.randrange(len(breaches))]
        name = _french_name(current.fields)
        if breach == "name_fr":
            fields = OfferFields(names=(LocalizedText("en", name),))
            intent = "names without a French name"
        elif breach == "prices":
            low = make.euros(rng.randint(20, 200))
            fields = OfferFields(
                prices=Prices(lines=(PriceLine("Plein tarif", low + Decimal(10), low),))
            )
            intent = "a price line whose minimum is above its maximum"
        elif breach == "email":
            address = f"contact.{wording.slug(name)}.fr"
            fields = OfferFields(contacts=(Contact(ContactKind.EMAIL, address),))
            intent = f"a malformed e-mail address {address!r}"
        elif breach == "coordinates":
            location = current.fields.location or Location(Address(offer.commune.insee))
            # Paris: a plausible slip (the head office's address typed in).
            fields = OfferFields(location=replace(location, geo=GeoPoint(48.8566, 2.3522)))
            intent = "coordinates outside Normandy"
        else:
            start = date(self.at.year, 6, 1) + timedelta(days=rng.randint(0, 90))
            fields = OfferFields(event_dates=(EventDate(start, start - timedelta(days=2)),))
            intent = "an event that ends before it starts"
        return self.emit(
            offer.owner, current, FieldGroupsChanged(fields), intent, RuleFamily.CHARTE
        )


def _group_for(kind: str, fields: OfferFields) -> FieldGroup:
    """The group a kind of update changes on this offer (descriptions when it has no such group)."""
    if kind == "opening":
        if fields.event_dates is not None:
            return FieldGroup.EVENT_DATES
        return FieldGroup.OPENING if fields.opening is not None else FieldGroup.DESCRIPTIONS
    if kind == "prices":
        return FieldGroup.PRICES if fields.prices is not None else FieldGroup.DESCRIPTIONS
    if kind == "classifications":
        return (
            FieldGroup.CLASSIFICATIONS if fields.classifications is not None else FieldGroup.MEDIA
        )
    return FieldGroup(kind)


def _french_name(fields: OfferFields) -> str:
    names = fields.names or ()
    return next((n.text for n in names if n.lang == "fr"), names[0].text if names else "Offre")
