"""Scenarios for the readjudication tests: a test office of tourism, its conventions, streams.

`ot-test` works in Bayeux (14047); its conventions are added to the shipped Normandy registry.
A `WorkerRun` is the real `CollectionProcessor` over Avro-encoded contributions with the registry
of the time; its regional changes, decoded, are the current state that `readjudicate` compares.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache

from hub.codec import decode_contribution
from hub.collection_processor import CollectionProcessor, Inbound
from hub.core.contribution import (
    Contribution,
    FieldGroupsChanged,
    OfferCreated,
    Payload,
)
from hub.core.offer import (
    Address,
    Contact,
    ContactKind,
    FieldGroup,
    GeoPoint,
    Location,
    OfferFields,
    OfferType,
    PriceLine,
    Prices,
)
from hub.core.readjudication import (
    ContributionRecord,
    Correction,
    latest_changes,
    readjudicate,
)
from hub.core.regional import RegionalChange
from hub.core.registry import ContributionConvention, Organisation, OrgKind, Registry, Validity
from hub.reference import load_normandy_territory
from hub.registry.format import load_normandy_registry
from hub.wire import decode_regional_change, encode_regional_change
from tests.support import examples
from tests.support.hub_pipeline import (
    OutputLog,
    contribution_log,
    regional_changes,
)

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=30)
OT = "ot-test"
CDT = "cdt-calvados"
BAYEUX = Location(
    Address("14047", "4 rue des Cuisiniers", "14400", "Bayeux"), GeoPoint(49.28, -0.7)
)
OFFER = "RESNOR014V900001"
ALL_GROUPS = tuple(FieldGroup)


def convention(suffix: str, *groups: FieldGroup) -> ContributionConvention:
    return ContributionConvention(
        convention_id=f"cc-{OT}-{suffix}",
        contributor=OT,
        offer_types=(OfferType.RES, OfferType.HOT),
        field_groups=groups,
        communes=("14047",),
        validity=Validity(date(2020, 1, 1)),
    )


BASE = convention("base", FieldGroup.NAMES, FieldGroup.CONTACTS, FieldGroup.ACCESSIBILITY)
NO_CONTACTS = replace(BASE, field_groups=(FieldGroup.NAMES, FieldGroup.ACCESSIBILITY))
PRICES = convention("prices", FieldGroup.PRICES)
EVERYTHING = convention("everything", *ALL_GROUPS)


@cache
def normandy() -> Registry:
    return load_normandy_registry()


def registry(*conventions: ContributionConvention) -> Registry:
    shipped = normandy()
    organisations = dict(shipped.organisations)
    organisations[OT] = Organisation(OT, OrgKind.OT, "Office de test", "14", ("14047",))
    return replace(
        shipped,
        organisations=dict(sorted(organisations.items())),
        contribution_conventions=tuple(
            sorted((*shipped.contribution_conventions, *conventions), key=lambda c: c.convention_id)
        ),
    )


def offer_fields() -> OfferFields:
    return replace(examples.rich_offer_fields(), location=BAYEUX)


class Stream:
    """Contributions in publication order, each contributor numbering its versions per offer."""

    def __init__(self) -> None:
        self.contributions: list[Contribution] = []
        self._versions: dict[tuple[str, str], int] = {}

    def add(self, contributor: str, payload: Payload, offer_id: str = OFFER) -> Contribution:
        version = self._versions.get((contributor, offer_id), 0) + 1
        self._versions[(contributor, offer_id)] = version
        contribution = Contribution(
            event_id=f"{contributor}/{offer_id}/{version}",
            contributor=contributor,
            offer_id=offer_id,
            source_version=version,
            occurred_at=NOW + timedelta(minutes=len(self.contributions)),
            source_system="tests",
            source_id=offer_id,
            payload=payload,
        )
        self.contributions.append(contribution)
        return contribution


def created(stream: Stream, by: str = CDT, offer_id: str = OFFER) -> Contribution:
    return stream.add(by, OfferCreated(OfferType.RES, offer_fields()), offer_id)


def changed(stream: Stream, by: str, offer_id: str = OFFER, **groups: object) -> Contribution:
    return stream.add(by, FieldGroupsChanged(OfferFields(**groups)), offer_id)  # type: ignore[arg-type]


OT_CONTACTS = (Contact(ContactKind.PHONE, "+33 2 31 51 28 28", "Office"),)
OT_PRICES = Prices(lines=(PriceLine("Menu du jour", Decimal("19.50")),))


def as_record(inbound: Inbound) -> ContributionRecord:
    return ContributionRecord(
        topic=inbound.topic,
        partition=inbound.partition,
        offset=inbound.offset,
        timestamp_ms=inbound.timestamp_ms,
        topic_owner=inbound.topic.removeprefix("sitn.contrib."),
        contribution=decode_contribution(inbound.value),
    )


class WorkerRun:
    """The contributions judged by a real processor with `judged_with`, as the collection stage
    would; `deadline_after`: the index of the record after which the waiting deadline passes (the
    contributions still waiting for their offer's creation are then refused `offer.unknown`)."""

    def __init__(
        self,
        contributions: Sequence[Contribution],
        judged_with: Registry,
        *,
        deadline_after: int | None = None,
    ) -> None:
        self.inbound = contribution_log(contributions)
        self.processor = CollectionProcessor(judged_with, load_normandy_territory())
        self.log = OutputLog()
        for i, record in enumerate(self.inbound):
            self.log.append(self.processor.process(record))
            if i == deadline_after:
                self.log.append(self.processor.expire(record.timestamp_ms + 1, deadline_ms=1))
        self.records = [as_record(r) for r in self.inbound]

    @property
    def current(self) -> dict[str, RegionalChange]:
        return latest_changes(regional_changes(self.log))

    def readjudicate(
        self, new: Registry, current: dict[str, RegionalChange] | None = None
    ) -> tuple[Correction, ...]:
        return readjudicate(
            self.records,
            self.current if current is None else current,
            new,
            load_normandy_territory(),
            LATER,
        ).corrections


def only(corrections: tuple[Correction, ...]) -> Correction:
    assert len(corrections) == 1, corrections
    return corrections[0]


def through_the_wire(change: RegionalChange) -> RegionalChange:
    return decode_regional_change(encode_regional_change(change))


def applied(
    current: dict[str, RegionalChange], corrections: tuple[Correction, ...]
) -> dict[str, RegionalChange]:
    """The current state once the corrections are in the history (read back as the worker does)."""
    return {**current, **{c.change.offer_id: through_the_wire(c.change) for c in corrections}}
