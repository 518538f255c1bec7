"""The Tourinsoft adapter maps each field of a syndication export and survives bad records."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from hub.core.offer import (
    Classification,
    ClassificationScheme,
    Contact,
    ContactKind,
    DiffusionStatus,
    EventDate,
    ExternalId,
    GeoPoint,
    LocalizedText,
    OfferType,
    OpeningPeriod,
    PriceLine,
)
from hub.core.territory import Territory
from hub.reference import load_normandy_territory
from producers import tourinsoft
from producers.snapshot import ParsedSnapshot, RecordProblem, SnapshotError, SnapshotOffer

FIXTURE = Path(__file__).parents[1] / "fixtures" / "tourinsoft" / "export-2024-05-02.json"
TAKEN_AT = datetime(2024, 5, 2, 6, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def territory() -> Territory:
    return load_normandy_territory()


@pytest.fixture(scope="module")
def snapshot(territory: Territory) -> ParsedSnapshot:
    return tourinsoft.read_export(FIXTURE, territory, taken_at=TAKEN_AT)


def raw_records() -> list[dict[str, Any]]:
    document = json.loads(FIXTURE.read_text(encoding="utf-8"))
    records: list[dict[str, Any]] = document["value"]
    return records


def offer(snapshot: ParsedSnapshot, offer_id: str) -> SnapshotOffer:
    (found,) = [o for o in snapshot.offers if o.offer_id == offer_id]
    return found


def parse_one(record: dict[str, Any], territory: Territory) -> ParsedSnapshot:
    return tourinsoft.parse_export({"value": [record]}, territory, taken_at=TAKEN_AT)


def hotel_record() -> dict[str, Any]:
    return dict(raw_records()[0])


# ---------------------------------------------------------------- the mapping, field by field


def test_ids_types_and_update_times_come_from_each_record(snapshot: ParsedSnapshot) -> None:
    assert [(o.offer_id, o.offer_type, o.source_id) for o in snapshot.offers] == [
        ("HOTNOR014V500001", OfferType.HOT, "HOTNOR014V500001"),
        ("RESNOR014V500002", OfferType.RES, "RESNOR014V500002"),
        ("FMANOR050V500003", OfferType.FMA, "FMANOR050V500003"),
        ("PCUNOR027V500004", OfferType.PCU, "PCUNOR027V500004"),
    ]
    hotel, restaurant, event, site = snapshot.offers
    # Times without an offset are French local time (UTC+2 in summer).
    assert hotel.occurred_at == datetime(2024, 4, 28, 8, 15, tzinfo=UTC)
    assert restaurant.occurred_at == datetime(2024, 4, 12, 7, 30, tzinfo=UTC)
    assert event.occurred_at == datetime(2024, 4, 30, 16, 0, tzinfo=UTC)
    assert site.occurred_at == datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


def test_names_and_descriptions_keep_one_text_per_language(snapshot: ParsedSnapshot) -> None:
    hotel = offer(snapshot, "HOTNOR014V500001")
    assert hotel.fields.names == (
        LocalizedText("fr", "Hôtel du Port"),
        LocalizedText("en", "Harbour Hotel"),
    )
    assert [(t.lang, t.text) for t in hotel.fields.descriptions or ()] == [
        ("fr", "Face au Vieux Bassin, un hôtel de charme."),
        ("en", "Facing the Old Harbour, a charming hotel."),
        ("de", "Gegenüber dem Alten Hafen, ein charmantes Hotel."),
    ]
    site = offer(snapshot, "PCUNOR027V500004")
    assert [t.lang for t in site.fields.names or ()] == ["fr", "it"]
    assert [t.lang for t in site.fields.descriptions or ()] == ["fr", "es"]


def test_a_commune_name_is_resolved_to_its_insee_code_within_the_postal_codes_department(
    snapshot: ParsedSnapshot,
) -> None:
    location = offer(snapshot, "HOTNOR014V500001").fields.location
    assert location is not None
    assert location.address.commune_insee == "14333"
    assert location.address.commune_name == "Honfleur"  # the official spelling, not HONFLEUR
    assert (location.address.street, location.address.postal_code) == (
        "12 quai Sainte-Catherine",
        "14600",
    )


def test_a_given_insee_code_is_used_as_is(snapshot: ParsedSnapshot) -> None:
    location = offer(snapshot, "RESNOR014V500002").fields.location
    assert location is not None
    assert location.address.commune_insee == "14118"


@pytest.mark.parametrize(
    ("name", "postal_code", "insee"),
    [
        ("ST LO", "50000", "50502"),
        ("le mont saint michel", "50170", "50353"),
        ("Giverny", "", "27285"),
    ],
)
def test_commune_names_are_compared_without_case_accents_or_abbreviations(
    territory: Territory, name: str, postal_code: str, insee: str
) -> None:
    record = hotel_record() | {"Commune": name, "CP": postal_code}
    parsed = parse_one(record, territory)
    (found,) = parsed.offers
    assert found.fields.location is not None
    assert found.fields.location.address.commune_insee == insee


def test_coordinates_accept_comma_decimals_and_json_numbers(snapshot: ParsedSnapshot) -> None:
    points = {o.offer_id: o.fields.location.geo for o in snapshot.offers if o.fields.location}
    assert points == {
        "HOTNOR014V500001": GeoPoint(49.4194, 0.2339),
        "RESNOR014V500002": GeoPoint(49.1829, -0.3707),
        "FMANOR050V500003": GeoPoint(48.8335, -1.596),
        "PCUNOR027V500004": None,
    }


def test_contacts_are_typed_by_their_kind_and_social_networks_are_labelled(
    snapshot: ParsedSnapshot,
) -> None:
    assert offer(snapshot, "HOTNOR014V500001").fields.contacts == (
        Contact(ContactKind.PHONE, "02 31 89 00 00"),
        Contact(ContactKind.EMAIL, "contact@hotel-du-port.example.fr"),
        Contact(ContactKind.WEBSITE, "https://www.hotel-du-port.example.fr"),
        Contact(ContactKind.SOCIAL, "https://www.facebook.com/hotelduport", "Facebook"),
    )


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("Portable", ContactKind.MOBILE),
        ("Fax", ContactKind.FAX),
        ("E-mail", ContactKind.EMAIL),
        ("Téléphone", ContactKind.PHONE),
    ],
)
def test_each_contact_kind_maps_to_its_own(
    territory: Territory, kind: str, expected: ContactKind
) -> None:
    parsed = parse_one(hotel_record() | {"MoyenDeCom": f"{kind}|06 12 34 56 78"}, territory)
    assert parsed.offers[0].fields.contacts == (Contact(expected, "06 12 34 56 78"),)


def test_packed_fields_may_also_come_as_json_lists(snapshot: ParsedSnapshot) -> None:
    site = offer(snapshot, "PCUNOR027V500004")
    assert site.fields.contacts == (
        Contact(ContactKind.PHONE, "02 32 51 28 21"),
        Contact(ContactKind.WEBSITE, "https://www.fondation-monet.example.fr"),
    )
    assert site.fields.prices is not None
    assert site.fields.prices.lines == (PriceLine("Adulte", Decimal("11")),)


def test_opening_periods_accept_day_first_dates_and_keep_their_note(
    snapshot: ParsedSnapshot,
) -> None:
    hotel = offer(snapshot, "HOTNOR014V500001")
    assert hotel.fields.opening == (
        OpeningPeriod(date(2024, 3, 1), date(2024, 11, 15), note="Tous les jours"),
    )
    assert hotel.fields.event_dates is None


def test_an_events_periods_are_its_dates_and_a_missing_end_means_one_day(
    snapshot: ParsedSnapshot,
) -> None:
    event = offer(snapshot, "FMANOR050V500003")
    assert event.fields.event_dates == (
        EventDate(date(2024, 7, 13), date(2024, 7, 14)),
        EventDate(date(2024, 7, 20), date(2024, 7, 20)),
    )
    assert event.fields.opening is None


def test_prices_accept_comma_decimals_and_open_ranges(snapshot: ParsedSnapshot) -> None:
    prices = offer(snapshot, "HOTNOR014V500001").fields.prices
    assert prices is not None
    assert not prices.free
    assert prices.lines == (
        PriceLine("Chambre double", Decimal("85.50"), Decimal("120")),
        PriceLine("Petit-déjeuner", Decimal("12"), None),
    )


def test_a_free_line_without_amounts_makes_the_offer_free(snapshot: ParsedSnapshot) -> None:
    prices = offer(snapshot, "PCUNOR027V500004").fields.prices
    assert prices is not None
    assert prices.free


def test_prefectoral_stars_and_known_labels_become_classifications(
    snapshot: ParsedSnapshot,
) -> None:
    assert offer(snapshot, "HOTNOR014V500001").fields.classifications == (
        Classification(ClassificationScheme.PREFECTORAL_STARS, "3"),
        Classification(ClassificationScheme.LOGIS, "2"),
        Classification(ClassificationScheme.QUALITE_TOURISME, "Qualité Tourisme"),
    )


@pytest.mark.parametrize("stars", ["Non classé", "", "En cours de classement"])
def test_an_unclassified_offer_has_no_stars(territory: Territory, stars: str) -> None:
    record = hotel_record() | {"ClassementPrefectoral": stars, "Labels": ""}
    parsed = parse_one(record, territory)
    assert parsed.offers[0].fields.classifications is None
    assert [p for p in parsed.problems if p.field == "ClassementPrefectoral"] == []


def test_photos_keep_title_and_credit_and_get_a_scheme(snapshot: ParsedSnapshot) -> None:
    media = offer(snapshot, "HOTNOR014V500001").fields.media or ()
    assert [(m.url, m.title, m.credit) for m in media] == [
        ("https://medias.cdt14.example.fr/port-facade.jpg", "La façade", "Hôtel du Port"),
        ("https://medias.cdt14.example.fr/port-chambre.jpg", "Une chambre", "J. Martin"),
    ]
    assert {m.licence for m in media} == {tourinsoft.MEDIA_LICENCE}


def test_capacity_diffusion_and_external_id(snapshot: ParsedSnapshot) -> None:
    hotel = offer(snapshot, "HOTNOR014V500001")
    assert hotel.fields.capacity is not None
    assert hotel.fields.capacity.rooms == 18
    for each in snapshot.offers:
        assert each.fields.diffusion is DiffusionStatus.PUBLISHED
        assert each.fields.external_ids == (ExternalId("tourinsoft", each.offer_id),)


def test_a_group_the_record_does_not_give_is_left_unset(snapshot: ParsedSnapshot) -> None:
    restaurant = offer(snapshot, "RESNOR014V500002")
    assert restaurant.fields.media is None  # its only photo has no credit
    assert restaurant.fields.classifications is None
    assert restaurant.fields.capacity is None


# ---------------------------------------------------------------- tolerance


def test_a_malformed_record_is_reported_with_its_id_and_the_rest_is_imported(
    snapshot: ParsedSnapshot,
) -> None:
    assert len(snapshot.offers) == len(raw_records()) - 1
    skipped = [p for p in snapshot.problems if p.skipped]
    assert [(p.record_id, p.field) for p in skipped] == [("LOINOR076V500005", "Commune")]
    assert "Atlantis" in skipped[0].reason


def test_values_that_cannot_be_read_are_reported_and_their_record_imported(
    snapshot: ParsedSnapshot,
) -> None:
    ignored = [(p.record_id, p.field) for p in snapshot.problems if not p.skipped]
    assert ignored == [
        ("HOTNOR014V500001", "MoyenDeCom[5]"),
        ("HOTNOR014V500001", "Labels[3]"),
        ("RESNOR014V500002", "Photos[1]"),
    ]


@pytest.mark.parametrize(
    ("record", "record_id", "field", "reason"),
    [
        ("not a record", "record 1", "", "not a JSON object"),
        ({"SyndicObjectID": None}, "record 1", "SyndicObjectID", "missing"),
        ({"SyndicObjectID": 12}, "record 1", "SyndicObjectID", "not a text"),
        (
            {"ObjectTypeName": "Vaisseau spatial", "SyndicObjectID": "ZZZNOR014V500009"},
            "ZZZNOR014V500009",
            "ObjectTypeName",
            "is not a bordereau",
        ),
        (
            {"ObjectTypeName": "Restauration"},
            "HOTNOR014V500001",
            "ObjectTypeName",
            "contradicts the bordereau HOT",
        ),
        ({"NomOffre": None}, "HOTNOR014V500001", "NomOffre", "in French"),
        ({"NomOffre": ["Hôtel"]}, "HOTNOR014V500001", "NomOffre", "in French"),
        ({"Commune": None}, "HOTNOR014V500001", "Commune", "no CodeInsee"),
        ({"CP": "35000"}, "HOTNOR014V500001", "Commune", "not in Normandy"),
        ({"Commune": "Bénouville", "CP": ""}, "HOTNOR014V500001", "Commune", "2 communes"),
    ],
)
def test_a_record_that_cannot_be_an_offer_is_skipped_and_says_why(
    territory: Territory, record: object, record_id: str, field: str, reason: str
) -> None:
    raw = hotel_record() | record if isinstance(record, dict) else record
    parsed = tourinsoft.parse_export({"value": [raw]}, territory, taken_at=TAKEN_AT)
    assert parsed.offers == ()
    skipped = [p for p in parsed.problems if p.skipped]
    assert [(p.record_id, p.field) for p in skipped] == [(record_id, field)]
    assert reason in skipped[0].reason


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"GmapLatitude": "nord"}, "GmapLatitude/GmapLongitude"),
        ({"GmapLongitude": ""}, "GmapLongitude"),
        ({"Tarifs": "Chambre|quatre-vingts|"}, "Tarifs[1]"),
        ({"Tarifs": "|80|"}, "Tarifs[1]"),
        ({"PeriodeOuverture": "31/02/2024|01/03/2024"}, "PeriodeOuverture[1]"),
        ({"Photos": "|Sans adresse|Moi"}, "Photos[1]"),
        ({"ClassementPrefectoral": "Très bien"}, "ClassementPrefectoral"),
        ({"MoyenDeCom": "Téléphone|"}, "MoyenDeCom[1]"),
        ({"MoyenDeCom": {"Téléphone": "02 31 00 00 00"}}, "MoyenDeCom"),
        ({"MoyenDeCom": [{"kind": "Téléphone"}]}, "MoyenDeCom[1]"),
        ({"DescriptionCommerciale_DE": {"text": "Hallo"}}, "DescriptionCommerciale_DE"),
        ({"NombreChambres": "beaucoup"}, "NombreChambres"),
        ({"Updated": "hier"}, "Updated"),
    ],
)
def test_a_value_in_an_unexpected_shape_is_reported_and_the_record_kept(
    territory: Territory, change: dict[str, object], field: str
) -> None:
    parsed = parse_one(hotel_record() | change, territory)
    assert [o.offer_id for o in parsed.offers] == ["HOTNOR014V500001"]
    new = [p for p in parsed.problems if p.field == field]
    assert len(new) == 1
    assert new[0] == RecordProblem(
        "HOTNOR014V500001", field, new[0].reason, skipped=False, file="the export"
    )


def test_a_record_without_update_time_takes_the_snapshots_and_says_so(
    territory: Territory,
) -> None:
    record = hotel_record()
    del record["Updated"]
    parsed = parse_one(record, territory)
    assert parsed.offers[0].occurred_at == TAKEN_AT
    assert [p.field for p in parsed.problems if p.field == "Updated"] == ["Updated"]


def test_the_bordereau_of_the_id_stands_in_for_a_missing_type_name(territory: Territory) -> None:
    record = hotel_record()
    del record["ObjectTypeName"]
    assert parse_one(record, territory).offers[0].offer_type is OfferType.HOT


def test_a_repeated_id_keeps_the_first_record_and_reports_the_second(
    territory: Territory,
) -> None:
    first, second = hotel_record(), hotel_record() | {"NomOffre": "Doublon"}
    parsed = tourinsoft.parse_export({"value": [first, second]}, territory, taken_at=TAKEN_AT)
    assert [o.fields.names[0] for o in parsed.offers if o.fields.names] == [
        LocalizedText("fr", "Hôtel du Port")
    ]
    assert [(p.record_id, p.field, p.skipped) for p in parsed.problems if p.skipped] == [
        ("HOTNOR014V500001", "SyndicObjectID", True)
    ]


def test_a_bare_list_of_records_is_accepted(territory: Territory) -> None:
    parsed = tourinsoft.parse_export([hotel_record()], territory, taken_at=TAKEN_AT)
    assert [o.offer_id for o in parsed.offers] == ["HOTNOR014V500001"]


def test_a_file_that_is_not_json_is_refused_with_its_name(
    territory: Territory, tmp_path: Path
) -> None:
    path = tmp_path / "export.json"
    path.write_text("<html>Service indisponible</html>", encoding="utf-8")
    with pytest.raises(SnapshotError, match=r"export\.json is not JSON"):
        tourinsoft.read_export(path, territory, taken_at=TAKEN_AT)


def test_json_that_is_not_an_export_is_refused(territory: Territory) -> None:
    with pytest.raises(SnapshotError, match=r'"value" list'):
        tourinsoft.parse_export({"error": "quota"}, territory, taken_at=TAKEN_AT)


def test_a_huge_number_of_rooms_is_refused_naming_the_file_record_and_field(
    territory: Territory, tmp_path: Path
) -> None:
    records = raw_records()
    records[0]["NombreChambres"] = "1e800000"
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"value": records}), encoding="utf-8")
    parsed = tourinsoft.read_export(path, territory, taken_at=TAKEN_AT)
    (refused,) = [p for p in parsed.problems if p.field == "NombreChambres"]
    assert refused.describe().startswith(f"{path}: HOTNOR014V500001, NombreChambres: '1e800000'")
    assert "is not a count" in refused.describe()
    assert not refused.skipped
    # The rest of the record, and every other record, is imported as before.
    before = tourinsoft.read_export(FIXTURE, territory, taken_at=TAKEN_AT)
    assert [o.offer_id for o in parsed.offers] == [o.offer_id for o in before.offers]
    assert offer(parsed, "HOTNOR014V500001").fields.capacity is None
    assert (
        offer(parsed, "HOTNOR014V500001").fields.names
        == offer(before, "HOTNOR014V500001").fields.names
    )


def test_an_export_nested_100000_levels_deep_is_refused_naming_the_file(
    territory: Territory, tmp_path: Path
) -> None:
    record = json.dumps(hotel_record())[:-1] + ', "Tarifs": ' + "[" * 100_000 + "]" * 100_000 + "}"
    path = tmp_path / "export.json"
    path.write_text('{"value": [' + record + "]}", encoding="utf-8")
    with pytest.raises(
        SnapshotError, match=r"export\.json is refused: nested deeper than 64 levels"
    ):
        tourinsoft.read_export(path, territory, taken_at=TAKEN_AT)
