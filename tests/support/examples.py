"""Example values of every record that crosses Kafka, for the codec, records and golden tests.

`rich_offer_fields()` fills every field group (six languages, a private block, media with rights
windows); the `*_record()` builders give Avro-shaped examples of the records later stages emit.
Everything here is fixed data: no clock, no randomness, so golden fixtures regenerate identically.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hub import codec
from hub.core.clock import Tick
from hub.core.contribution import (
    Contribution,
    CustomerChannel,
    CustomerRecord,
    FieldGroupsChanged,
    OfferCreated,
    OfferDeleted,
    OfferWithdrawn,
    Payload,
)
from hub.core.diffusion_rules import boundary_facts
from hub.core.ledger import Judged, OfferEntry, Origin, Waiting
from hub.core.offer import (
    Accessibility,
    Address,
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
    FieldGroup,
    GeoPoint,
    LocalizedText,
    Location,
    Media,
    OfferFields,
    OfferType,
    OpeningPeriod,
    PriceLine,
    Prices,
    PrivateBlock,
    TranslationSource,
    Weekday,
)
from hub.core.regional import ContributorVersion, OfferStatus, Provenance, RegionalChange
from hub.records import offer_fields_to_avro, to_avro_record
from hub.wire import encode_offer_entry

OCCURRED_AT = datetime(2025, 3, 14, 9, 30, 15, 123456, tzinfo=UTC)
PARIS_SUMMER = timezone(timedelta(hours=2))

_NAMES = {
    "fr": "Hôtel de la Plage",
    "en": "Beach Hotel",
    "de": "Strandhotel",
    "nl": "Strandhotel",
    "it": "Albergo della Spiaggia",
    "es": "Hotel de la Playa",
}
_DESCRIPTIONS = {
    "fr": "Face à la mer, à deux pas des planches de Deauville. Petit-déjeuner normand « maison ».",
    "en": "Facing the sea, a stone's throw from the Deauville boardwalk.",
    "de": "Direkt am Meer, wenige Schritte von der Strandpromenade von Deauville.",
    "nl": "Aan zee, op een steenworp van de boulevard van Deauville.",
    "it": "Di fronte al mare, a due passi dalla passeggiata di Deauville.",
    "es": "Frente al mar, a dos pasos del paseo marítimo de Deauville.",
}


def rich_offer_fields() -> OfferFields:
    """An offer with every field group set, including the private block."""
    return OfferFields(
        names=tuple(
            LocalizedText(
                lang, text, TranslationSource.HUMAN if lang == "fr" else TranslationSource.MACHINE
            )
            for lang, text in _NAMES.items()
        ),
        descriptions=tuple(LocalizedText(lang, text) for lang, text in _DESCRIPTIONS.items()),
        location=Location(
            address=Address(
                commune_insee="14220",
                street="1 boulevard de la Mer",
                postal_code="14800",
                commune_name="Deauville",
            ),
            geo=GeoPoint(latitude=49.3601, longitude=0.0741),
        ),
        contacts=(
            Contact(ContactKind.PHONE, "+33 2 31 00 00 00", "Réception"),
            Contact(ContactKind.EMAIL, "contact@hotel-plage.example"),
            Contact(ContactKind.WEBSITE, "https://hotel-plage.example/"),
        ),
        opening=(
            OpeningPeriod(date(2025, 4, 1), date(2025, 9, 30)),
            OpeningPeriod(
                date(2025, 10, 1),
                date(2026, 3, 31),
                weekdays=(Weekday.FRI, Weekday.SAT, Weekday.SUN),
                note="Week-ends hors saison",
            ),
        ),
        event_dates=(EventDate(date(2025, 9, 5), date(2025, 9, 14)),),
        prices=Prices(
            free=False,
            lines=(
                PriceLine("Chambre double", Decimal("89.00"), Decimal("189.50")),
                PriceLine("Petit-déjeuner", Decimal("14.5")),
                PriceLine("Taxe de séjour", maximum=Decimal("2.30"), currency="EUR"),
            ),
        ),
        classifications=(
            Classification(ClassificationScheme.PREFECTORAL_STARS, "3", date(2028, 6, 30)),
            Classification(ClassificationScheme.LOGIS, "2 cheminées"),
        ),
        accessibility=Accessibility(
            disabilities=(Disability.MOTOR, Disability.HEARING),
            wheelchair_access=True,
            note="Ascenseur, deux chambres adaptées",
        ),
        capacity=Capacity(persons=64, rooms=28),
        media=(
            Media(
                url="https://media.example/hotel-plage/facade.jpg",
                credit="© A. Martin",
                licence="concession-2024-118",
                title="La façade au coucher du soleil",
                rights_start=date(2024, 1, 1),
                rights_end=date(2026, 12, 31),
                allowed_classes=(DiffuserClass.INSTITUTIONAL, DiffuserClass.PARTNER),
            ),
            Media(
                url="https://media.example/hotel-plage/chambre.jpg",
                credit="Hôtel de la Plage",
                licence="CC-BY-4.0",
                rights_start=date(2025, 1, 1),
            ),
        ),
        diffusion=DiffusionStatus.PUBLISHED,
        external_ids=(
            ExternalId("tourinsoft", "HOTNOR0140000123"),
            ExternalId("datatourisme", "https://data.datatourisme.fr/13/abc"),
        ),
        private=PrivateBlock(
            owner_contacts=(Contact(ContactKind.MOBILE, "+33 6 00 00 00 00", "Gérant"),),
            contract_refs=("CONC-2024-118", "CONV-OT-DEAUVILLE-7"),
            internal_notes="Relancer pour la photo de la terrasse.",
        ),
    )


def contribution(payload: Payload, *, source_version: int = 7) -> Contribution:
    return Contribution(
        event_id="cdt-14:HOTNOR0140000123:7",
        contributor="cdt-14",
        offer_id="HOTNOR0140000123",
        source_version=source_version,
        occurred_at=OCCURRED_AT,
        source_system="tourinsoft",
        source_id="HOTNOR0140000123",
        payload=payload,
    )


def rich_creation() -> Contribution:
    return contribution(OfferCreated(OfferType.HOT, rich_offer_fields()))


def minimal_creation() -> Contribution:
    return contribution(OfferCreated(OfferType.PNA, OfferFields()), source_version=0)


def price_change() -> Contribution:
    fields = rich_offer_fields()
    return contribution(FieldGroupsChanged(OfferFields(prices=fields.prices, media=fields.media)))


def withdrawal() -> Contribution:
    return contribution(OfferWithdrawn("Fermeture définitive"))


def deletion() -> Contribution:
    return contribution(OfferDeleted("Doublon de HOTNOR0140000124"))


def every_payload_kind() -> dict[str, Contribution]:
    return {
        "created-full": rich_creation(),
        "created-minimal": minimal_creation(),
        "changed": price_change(),
        "withdrawn": withdrawal(),
        "deleted": deletion(),
    }


def full_customer_record() -> CustomerRecord:
    return CustomerRecord(
        event_id="ot-deauville:form:88412",
        collector="ot-deauville",
        collected_at=datetime(2025, 7, 2, 16, 4, tzinfo=PARIS_SUMMER),
        channel=CustomerChannel.WEB_FORM,
        full_name="Camille Durand",
        email="camille.durand@example.org",
        phone="+33 6 12 34 56 78",
        postal_code="75011",
        message="Brochure des marchés de Noël, s'il vous plaît.",
        consent_marketing=True,
    )


def minimal_customer_record() -> CustomerRecord:
    return CustomerRecord(
        event_id="ot-bayeux:desk:12",
        collector="ot-bayeux",
        collected_at=OCCURRED_AT,
        channel=CustomerChannel.RECEPTION,
    )


def rejection_record() -> dict[str, Any]:
    return {
        "event_id": "ot-honfleur:PCUNOR0140000042:3",
        "contributor": "ot-honfleur",
        "offer_id": "PCUNOR0140000042",
        "occurred_at": OCCURRED_AT,
        "rule_ids": ["convention.field_group", "charte.email"],
        "message": "prices: no convention of ot-honfleur covers this group; ask the CDT 14.",
        "rejected_groups": ["prices", "contacts"],
    }


def dead_letter_record() -> dict[str, Any]:
    return {
        "topic": "sitn.contrib.cdt-14",
        "partition": 3,
        "offset": 1_234_567_890_123,
        "key": None,
        "value": b'{"not": "avro"}\x00\xff',
        "reason": "Contribution: starts with 7b 22, not the Avro single-object marker c3 01",
        "error_kind": "bad_magic",
        "failed_at": OCCURRED_AT,
    }


def registry_event_record() -> dict[str, Any]:
    return {
        "event_id": "registry:conv-ot-deauville-7:2",
        "kind": "contribution_convention",
        "entry_id": "conv-ot-deauville-7",
        "body": json.dumps(
            {"organisation": "ot-deauville", "offer_types": ["HOT", "RES"], "groups": ["prices"]}
        ),
        "valid_from": datetime(2025, 1, 1, tzinfo=UTC),
        "valid_until": None,
    }


def regional_change() -> RegionalChange:
    fields = rich_offer_fields()
    return RegionalChange(
        offer_id="HOTNOR0140000123",
        version=12,
        offer_type=OfferType.HOT,
        status=OfferStatus.ACTIVE,
        changed_groups=(FieldGroup.PRICES, FieldGroup.MEDIA),
        public=fields.public(),
        private=fields.private,
        provenance=tuple(
            Provenance(
                group=group,
                contributor="cdt-calvados" if group is not FieldGroup.PRICES else "ot-deauville",
                event_id="cdt-calvados/HOTNOR0140000123/7",
                source_version=7,
                occurred_at=OCCURRED_AT,
                authority="principle:cdt-calvados"
                if group is not FieldGroup.PRICES
                else "convention:conv-7",
            )
            for group in fields.groups()
        ),
        event_id="cdt-calvados/HOTNOR0140000123/7",
        contributor="cdt-calvados",
        occurred_at=OCCURRED_AT,
        source_version=7,
        contributor_versions=(
            ContributorVersion("cdt-calvados", 7, "cdt-calvados/HOTNOR0140000123/7"),
            ContributorVersion("ot-deauville", 3),  # applied before events were recorded
        ),
    )


def regional_change_record() -> dict[str, Any]:
    return to_avro_record(regional_change())


def diffusion_upsert_record() -> dict[str, Any]:
    view = rich_offer_fields().public().only(rich_offer_fields().groups()[:6])
    return {
        "diffuser_id": "partner-normandie-booking",
        "offer_id": "HOTNOR0140000123",
        "version": 12,
        "kind": "upsert",
        "reason": "changed",
        "offer_type": "HOT",
        "view": offer_fields_to_avro(view),
        "occurred_at": OCCURRED_AT,
    }


def diffusion_removal_record() -> dict[str, Any]:
    return {
        "diffuser_id": "open-data-normandie",
        "offer_id": "HOTNOR0140000123",
        "version": 13,
        "kind": "removal",
        "reason": "withdrawn",
        "offer_type": None,
        "view": None,
        "occurred_at": OCCURRED_AT,
    }


def tick() -> Tick:
    """The scheduler saw the rights of a media of `regional_change()` end (last day 2025-03-31)."""
    return Tick(
        offer_id="HOTNOR0140000123",
        version=12,
        at=datetime(2025, 4, 1, tzinfo=UTC),
        reason="rights of media https://media.example/plage.jpg ended on 2025-03-31",
    )


def waiting_offer_entry() -> OfferEntry:
    """An offer not created yet, with one contribution waiting and one rejected event."""
    waiting = replace(price_change(), offer_id="offer-1")
    return OfferEntry(
        "offer-1",
        waiting=(
            Waiting(
                waiting, Origin("sitn.contrib.ot-bayeux", 3, 41, 1_767_225_600_000), "ot-bayeux"
            ),
        ),
        rejected=(Judged("ot-bayeux/offer-1/5", "ot-bayeux", 5),),
    )


def created_offer_entry() -> OfferEntry:
    return OfferEntry(regional_change().offer_id, latest=regional_change())


def collection_state_records() -> dict[str, dict[str, Any]]:
    """The `CollectionState` examples in Avro shape, as the wire codec writes them."""
    return {
        case: codec.decode("CollectionState", encode_offer_entry(entry))
        for case, entry in {
            "waiting": waiting_offer_entry(),
            "created": created_offer_entry(),
        }.items()
    }


def generic_records() -> dict[str, dict[str, dict[str, Any]]]:
    """Avro-shaped examples of the records without a model class, by record name then case."""
    return {
        "Rejection": {"groups": rejection_record()},
        "DeadLetter": {"undecodable": dead_letter_record()},
        "RegistryEvent": {"convention": registry_event_record()},
        "RegionalChange": {"rich": regional_change_record()},
        "DiffusionChange": {
            "upsert": diffusion_upsert_record(),
            "removal": diffusion_removal_record(),
        },
        "Tick": {"media-rights-ended": to_avro_record(tick())},
        "CollectionState": collection_state_records(),
        "BoundaryFacts": {"hotel": to_avro_record(boundary_facts(regional_change()))},
    }
