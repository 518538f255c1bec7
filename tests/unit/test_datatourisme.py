"""The DATAtourisme adapter reads JSON-LD however it is shaped and survives bad objects."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from hub.core.offer import (
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
    TranslationSource,
)
from hub.core.territory import Territory
from hub.reference import load_normandy_territory
from producers import datatourisme, zip_archive
from producers.snapshot import CommuneNames, ParsedSnapshot, SnapshotError, SnapshotOffer

FLUX = Path(__file__).parents[1] / "fixtures" / "datatourisme" / "flux"
HOTEL_FILE = FLUX / "objects" / "a" / "hotel-des-falaises.json"
TAKEN_AT = datetime(2024, 5, 2, 6, 0, tzinfo=UTC)
HUMAN, MACHINE = TranslationSource.HUMAN, TranslationSource.MACHINE


@pytest.fixture(scope="module")
def territory() -> Territory:
    return load_normandy_territory()


@pytest.fixture(scope="module")
def flux(territory: Territory) -> ParsedSnapshot:
    return datatourisme.read_flux(FLUX, territory, taken_at=TAKEN_AT)


def offer(snapshot: ParsedSnapshot, offer_id: str) -> SnapshotOffer:
    (found,) = [o for o in snapshot.offers if o.offer_id == offer_id]
    return found


def hotel_object() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(HOTEL_FILE.read_text(encoding="utf-8"))
    return loaded


def parse_one(raw: object, territory: Territory) -> ParsedSnapshot:
    found, problems = datatourisme.parse_object(
        raw, "test.json", CommuneNames(territory), taken_at=TAKEN_AT
    )
    return ParsedSnapshot(() if found is None else (found,), tuple(problems))


# ---------------------------------------------------------------- the mapping


def test_every_object_of_the_folder_is_read_in_path_order_and_the_index_skipped(
    flux: ParsedSnapshot,
) -> None:
    assert [(o.offer_id, o.offer_type) for o in flux.offers] == [
        ("HOTNOR076V510001", OfferType.HOT),
        ("RESNOR076V510002", OfferType.RES),
        ("PCUNOR014V510004", OfferType.PCU),
        ("FMANOR014V510003", OfferType.FMA),
    ]
    assert all(p.record_id != "index.json" for p in flux.problems)


def test_the_source_id_is_the_objects_uri_and_is_kept_as_external_id(
    flux: ParsedSnapshot,
) -> None:
    hotel = offer(flux, "HOTNOR076V510001")
    uri = "https://data.datatourisme.fr/23/0a1b2c3d-0001-4000-8000-000000000001"
    assert hotel.source_id == uri
    assert hotel.fields.external_ids == (ExternalId("datatourisme", uri),)
    assert hotel.fields.diffusion is DiffusionStatus.PUBLISHED


def test_the_last_update_is_the_changes_time_in_french_local_time(flux: ParsedSnapshot) -> None:
    assert offer(flux, "HOTNOR076V510001").occurred_at == datetime(2024, 4, 29, 22, tzinfo=UTC)
    assert offer(flux, "RESNOR076V510002").occurred_at == datetime(2024, 4, 12, 8, tzinfo=UTC)


def test_labels_and_descriptions_keep_one_text_per_known_language(flux: ParsedSnapshot) -> None:
    hotel = offer(flux, "HOTNOR076V510001")
    assert hotel.fields.names == (
        LocalizedText("fr", "Hôtel des Falaises"),
        LocalizedText("en", "Cliffs Hotel"),
    )
    # The long description wins over the comment; Chinese is not one of the base's languages.
    assert [(t.lang, t.text) for t in hotel.fields.descriptions or ()] == [
        ("fr", "Un hôtel face aux falaises d'Étretat."),
        ("en", "A hotel facing the cliffs of Étretat."),
        ("de", "Gegenüber dem Meer."),
    ]


def test_translated_properties_mark_their_texts_as_machine_translated(
    flux: ParsedSnapshot,
) -> None:
    hotel = offer(flux, "HOTNOR076V510001")
    assert [t.source for t in hotel.fields.names or ()] == [HUMAN, HUMAN]
    assert [t.source for t in hotel.fields.descriptions or ()] == [HUMAN, MACHINE, MACHINE]
    abbey = offer(flux, "PCUNOR014V510004")  # a translation entry without property: every text
    assert [(t.lang, t.source) for t in abbey.fields.names or ()] == [
        ("fr", HUMAN),
        ("es", MACHINE),
    ]


def test_language_tagged_literals_and_plain_strings_are_texts(flux: ParsedSnapshot) -> None:
    event = offer(flux, "FMANOR014V510003")
    assert event.fields.names == (
        LocalizedText("fr", "Fêtes médiévales"),
        LocalizedText("en", "Medieval festival"),
    )
    assert event.fields.descriptions == (LocalizedText("fr", "Trois jours au Moyen Âge."),)


def test_the_address_comes_with_its_insee_code_and_comma_decimal_coordinates(
    flux: ParsedSnapshot,
) -> None:
    location = offer(flux, "HOTNOR076V510001").fields.location
    assert location is not None
    assert location.address.commune_insee == "76254"
    assert location.address.commune_name == "Étretat"
    assert location.address.street == "1 rue de la Mer, BP 12"
    assert location.address.postal_code == "76790"
    assert location.geo == GeoPoint(49.7071, 0.2043)


def test_single_values_stand_for_lists_and_a_city_without_insee_is_found_by_name(
    flux: ParsedSnapshot,
) -> None:
    restaurant = offer(flux, "RESNOR076V510002")
    location = restaurant.fields.location
    assert location is not None
    assert (location.address.commune_insee, location.address.street) == (
        "76540",
        "10 rue du Gros-Horloge",
    )
    assert location.geo == GeoPoint(49.4406, 1.0914)
    assert restaurant.fields.contacts == (Contact(ContactKind.PHONE, "02 35 00 00 00"),)
    assert restaurant.fields.prices is not None
    assert restaurant.fields.prices.lines == (PriceLine("Tarif", Decimal("12.5"), Decimal("25")),)


def test_contacts_keep_phones_emails_and_home_pages(flux: ParsedSnapshot) -> None:
    assert offer(flux, "HOTNOR076V510001").fields.contacts == (
        Contact(ContactKind.PHONE, "+33 2 35 27 00 00"),
        Contact(ContactKind.EMAIL, "contact@hotel-falaises.example.fr"),
        Contact(ContactKind.WEBSITE, "https://www.hotel-falaises.example.fr"),
    )


def test_price_specifications_are_labelled_by_their_pricing_offer(flux: ParsedSnapshot) -> None:
    prices = offer(flux, "HOTNOR076V510001").fields.prices
    assert prices is not None
    assert prices.lines == (
        PriceLine("Chambre double", Decimal("95.00"), Decimal("180.00"), "EUR"),
    )


def test_opening_and_event_periods(flux: ParsedSnapshot) -> None:
    assert offer(flux, "HOTNOR076V510001").fields.opening == (
        OpeningPeriod(date(2024, 1, 1), date(2024, 12, 31)),
    )
    assert offer(flux, "FMANOR014V510003").fields.event_dates == (
        EventDate(date(2024, 7, 5), date(2024, 7, 7)),
        EventDate(date(2025, 7, 4), date(2025, 7, 6)),
    )


def test_media_keep_locator_title_credits_and_rights_once_each(flux: ParsedSnapshot) -> None:
    media = offer(flux, "HOTNOR076V510001").fields.media or ()
    assert [(m.url, m.title, m.credit, m.rights_start, m.rights_end) for m in media] == [
        (
            "https://medias.example.fr/falaises.jpg",
            "La façade",
            "OT Étretat",
            date(2024, 1, 1),
            date(2026, 12, 31),
        ),
        ("https://medias.example.fr/falaises-nuit.jpg", "De nuit", "P. Durand", None, None),
    ]
    assert {m.licence for m in media} == {datatourisme.MEDIA_LICENCE}


def test_capacity_comes_from_the_number_of_rooms(flux: ParsedSnapshot) -> None:
    capacity = offer(flux, "HOTNOR076V510001").fields.capacity
    assert capacity is not None
    assert capacity.rooms == 20


@pytest.mark.parametrize(
    ("types", "expected"),
    [
        (["Hotel", "HotelRestaurant", "Restaurant", "Accommodation"], OfferType.HOT),
        (["Camping", "Accommodation"], OfferType.HPA),
        (["SelfCateringAccommodation", "Accommodation"], OfferType.HLO),
        ("https://www.datatourisme.fr/ontology/core#Museum", OfferType.PCU),
        (["CityHeritage", "CulturalSite"], OfferType.VIL),
        (["schema:Event", "SportsEvent"], OfferType.FMA),
        (["WalkingTour"], OfferType.ITI),
        (["NaturalHeritage"], OfferType.PNA),
        (["TastingProvider"], OfferType.DEG),
        (["ActivityProvider"], OfferType.ASC),
        (["SportsAndLeisurePlace"], OfferType.LOI),
        (["TouristInformationCenter"], OfferType.ORG),
        (["Store"], OfferType.COM),
    ],
)
def test_the_most_specific_class_gives_the_bordereau(
    territory: Territory, types: object, expected: OfferType
) -> None:
    parsed = parse_one(hotel_object() | {"@type": types}, territory)
    assert [o.offer_type for o in parsed.offers] == [expected]


# ---------------------------------------------------------------- tolerance


def test_a_malformed_object_is_reported_with_its_id_and_the_rest_is_imported(
    flux: ParsedSnapshot,
) -> None:
    skipped = [p for p in flux.problems if p.skipped]
    assert [(p.record_id, p.field) for p in skipped] == [("XXXNOR014V519999", "@type")]
    assert "Spaceship" in skipped[0].reason
    assert len(flux.offers) == 4


def test_a_medium_without_credits_is_left_out_and_reported(flux: ParsedSnapshot) -> None:
    ignored = [(p.record_id, p.field) for p in flux.problems if not p.skipped]
    assert ignored == [("FMANOR014V510003", "hasMainRepresentation[1]")]
    assert offer(flux, "FMANOR014V510003").fields.media is None


@pytest.mark.parametrize(
    ("change", "record_id", "field"),
    [
        ({"dc:identifier": None}, "https://data.datatourisme.fr/23/0a1b2c3d-0001-", "dc:ident"),
        ({"dc:identifier": [], "@id": None}, "test.json", "dc:identifier"),
        ({"rdfs:label": {"en": ["Cliffs Hotel"]}}, "HOTNOR076V510001", "rdfs:label"),
        ({"isLocatedAt": []}, "HOTNOR076V510001", "isLocatedAt.schema:address"),
        (
            {"isLocatedAt": {"schema:address": {"schema:postalCode": "76790"}}},
            "HOTNOR076V510001",
            "isLocatedAt[1].schema:address.hasAddressCity",
        ),
        (
            {
                "isLocatedAt": {
                    "schema:address": {"hasAddressCity": {"rdfs:label": {"fr": "Nulle-Part"}}}
                }
            },
            "HOTNOR076V510001",
            "isLocatedAt[1].schema:address.hasAddressCity",
        ),
        ({"@type": "Thing"}, "HOTNOR076V510001", "@type"),
    ],
)
def test_an_object_that_cannot_be_an_offer_is_skipped_and_says_why(
    territory: Territory, change: dict[str, object], record_id: str, field: str
) -> None:
    parsed = parse_one(hotel_object() | change, territory)
    assert parsed.offers == ()
    (problem,) = [p for p in parsed.problems if p.skipped]
    assert problem.record_id.startswith(record_id)
    assert problem.field.startswith(field)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"isLocatedAt": [{**hotel_object()["isLocatedAt"][0], "schema:geo": {"x": 1}}]},
            "isLocatedAt[1].schema:geo",
        ),
        (
            {"offers": {"schema:priceSpecification": {"schema:minPrice": "gratuit ou presque"}}},
            "offers[1].schema:priceSpecification[1].schema:minPrice",
        ),
        ({"takesPlaceAt": {"endDate": "2024-07-07"}}, "takesPlaceAt[1]"),
        ({"lastUpdate": "avant-hier"}, "lastUpdate"),
        ({"schema:numberOfRooms": "vingt"}, "schema:numberOfRooms"),
        (
            {
                "hasRepresentation": {
                    "ebucore:hasRelatedResource": {"ebucore:title": "Sans fichier"}
                }
            },
            "hasRepresentation[1]",
        ),
    ],
)
def test_a_value_that_cannot_be_read_is_reported_and_the_object_kept(
    territory: Territory, change: dict[str, object], field: str
) -> None:
    raw = hotel_object() | change
    if "takesPlaceAt" in change:
        raw["@type"] = ["CulturalEvent"]
    parsed = parse_one(raw, territory)
    assert [o.offer_id for o in parsed.offers] == ["HOTNOR076V510001"]
    assert [p.field for p in parsed.problems if not p.skipped] == [field]


def test_huge_numbers_are_refused_naming_the_file_object_and_field(
    territory: Territory, flux: ParsedSnapshot, tmp_path: Path
) -> None:
    folder = tmp_path / "flux"
    shutil.copytree(FLUX, folder)
    raw = hotel_object() | {"schema:numberOfRooms": "1e800000"}
    raw["offers"][0]["schema:priceSpecification"][0]["schema:minPrice"] = "9" * 100_000
    (folder / "objects" / "a" / "hotel-des-falaises.json").write_text(
        json.dumps(raw), encoding="utf-8"
    )
    parsed = datatourisme.read_flux(folder, territory, taken_at=TAKEN_AT)
    described = [p.describe() for p in parsed.problems if p.record_id == "HOTNOR076V510001"]
    assert (
        "objects/a/hotel-des-falaises.json: HOTNOR076V510001, schema:numberOfRooms: '1e800000' "
        "is not a count" in " ".join(described)
    )
    assert "offers[1].schema:priceSpecification[1].schema:minPrice: '99999" in " ".join(described)
    assert "longer than 40 characters" in " ".join(described)
    # The hotel keeps the rest of its content and the other objects are read as before.
    hotel = offer(parsed, "HOTNOR076V510001")
    assert hotel.fields.capacity is None
    assert hotel.fields.names == offer(flux, "HOTNOR076V510001").fields.names
    assert len(parsed.offers) == len(flux.offers)


def test_an_object_that_is_not_an_object_is_reported(territory: Territory) -> None:
    parsed = parse_one(["not", "an", "object"], territory)
    assert [(p.record_id, p.skipped) for p in parsed.problems] == [("test.json", True)]


# ---------------------------------------------------------------- files, folders and archives


def test_a_zip_of_the_flux_reads_like_the_folder(
    territory: Territory, flux: ParsedSnapshot, tmp_path: Path
) -> None:
    archive = tmp_path / "flux.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(FLUX.rglob("*.json")):
            zipped.write(path, path.relative_to(FLUX).as_posix())
    assert datatourisme.read_flux(archive, territory, taken_at=TAKEN_AT) == flux


def test_a_single_object_file_is_a_flux_of_one(territory: Territory) -> None:
    parsed = datatourisme.read_flux(HOTEL_FILE, territory, taken_at=TAKEN_AT)
    assert [o.offer_id for o in parsed.offers] == ["HOTNOR076V510001"]


def test_a_graph_of_objects_in_one_file_is_read_whole(territory: Territory, tmp_path: Path) -> None:
    second = hotel_object() | {"dc:identifier": "HOTNOR076V510099", "@id": "urn:x"}
    path = tmp_path / "graph.json"
    path.write_text(json.dumps({"@graph": [hotel_object(), second]}), encoding="utf-8")
    parsed = datatourisme.read_flux(path, territory, taken_at=TAKEN_AT)
    assert [o.offer_id for o in parsed.offers] == ["HOTNOR076V510001", "HOTNOR076V510099"]


def test_a_broken_file_in_a_folder_is_reported_and_the_others_read(
    territory: Territory, tmp_path: Path
) -> None:
    folder = tmp_path / "flux"
    shutil.copytree(FLUX, folder)
    (folder / "objects" / "a" / "broken.json").write_text('{"dc:identifier": ', encoding="utf-8")
    parsed = datatourisme.read_flux(folder, territory, taken_at=TAKEN_AT)
    assert len(parsed.offers) == 4
    assert [(f.file, f.reason.split(" (")[0]) for f in parsed.failed_files] == [
        ("objects/a/broken.json", "not JSON")
    ]


def test_a_file_nested_100000_levels_deep_is_refused_naming_it_and_the_others_read(
    territory: Territory, flux: ParsedSnapshot, tmp_path: Path
) -> None:
    folder = tmp_path / "flux"
    shutil.copytree(FLUX, folder)
    deep = '{"dc:identifier": "HOTNOR076V519998", "rdfs:label": ' + "[" * 100_000 + "]" * 100_000
    (folder / "objects" / "a" / "deep.json").write_text(deep + "}", encoding="utf-8")
    parsed = datatourisme.read_flux(folder, territory, taken_at=TAKEN_AT)
    assert parsed.offers == flux.offers
    (refused,) = parsed.failed_files
    assert refused.describe().startswith(
        "objects/a/deep.json: refused: nested deeper than 64 levels at line 1, column"
    )


def test_the_same_id_in_two_files_keeps_the_first(territory: Territory, tmp_path: Path) -> None:
    folder = tmp_path / "flux"
    folder.mkdir()
    for name in ("a.json", "b.json"):
        shutil.copy(HOTEL_FILE, folder / name)
    parsed = datatourisme.read_flux(folder, territory, taken_at=TAKEN_AT)
    assert len(parsed.offers) == 1
    assert [(p.record_id, p.field) for p in parsed.problems if p.skipped] == [
        ("HOTNOR076V510001", "dc:identifier")
    ]


def test_an_archive_that_is_not_a_zip_is_refused_with_its_name(
    territory: Territory, tmp_path: Path
) -> None:
    path = tmp_path / "flux.zip"
    path.write_bytes(b"not a zip")
    with pytest.raises(SnapshotError, match=r"flux\.zip"):
        datatourisme.read_flux(path, territory, taken_at=TAKEN_AT)


def zipped_flux(archive: Path, *extra: tuple[str, bytes]) -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted(FLUX.rglob("*.json")):
            zipped.write(path, path.relative_to(FLUX).as_posix())
        for name, content in extra:
            zipped.writestr(name, content)
    return archive


def test_a_zip_member_larger_than_the_limit_is_refused_naming_the_member(
    territory: Territory, flux: ParsedSnapshot, tmp_path: Path
) -> None:
    archive = zipped_flux(tmp_path / "flux.zip", ("objects/c/huge.json", os.urandom(3 * 2**20)))
    limits = zip_archive.Limits(member_bytes=2**20)
    parsed = datatourisme.read_flux(archive, territory, taken_at=TAKEN_AT, limits=limits)
    (refused,) = parsed.failed_files
    assert refused.file == "objects/c/huge.json"
    assert f"the member objects/c/huge.json of the zip archive {archive} is refused" in (
        refused.reason
    )
    assert "3.0 MiB once inflated, more than the 1.0 MiB a member may hold" in refused.reason
    assert parsed.offers == flux.offers  # the other members are read as before


def test_a_zip_member_inflating_more_than_100_times_is_refused_as_a_bomb_unread(
    territory: Territory, flux: ParsedSnapshot, tmp_path: Path
) -> None:
    bomb = b"[" + b" " * (64 * 2**20) + b"]"  # 64 MiB that deflate to about 64 KiB
    archive = zipped_flux(tmp_path / "flux.zip", ("objects/c/bomb.json", bomb))
    parsed = datatourisme.read_flux(archive, territory, taken_at=TAKEN_AT)
    (refused,) = parsed.failed_files
    assert refused.file == "objects/c/bomb.json"
    assert "times its compressed size, more than the 100 times" in refused.reason
    assert "zip bomb" in refused.reason
    assert parsed.offers == flux.offers


def test_an_archive_stating_more_than_the_total_limit_is_refused_whole_naming_it(
    territory: Territory, tmp_path: Path
) -> None:
    archive = zipped_flux(tmp_path / "flux.zip")
    limits = zip_archive.Limits(total_bytes=1000)
    with pytest.raises(SnapshotError, match=r"the zip archive .*flux\.zip is refused.*split"):
        datatourisme.read_flux(archive, territory, taken_at=TAKEN_AT, limits=limits)


def test_a_damaged_zip_member_is_a_failed_file_and_the_others_are_read(
    territory: Territory, flux: ParsedSnapshot, tmp_path: Path
) -> None:
    name = b"objects/c/damaged.json"
    archive = zipped_flux(tmp_path / "flux.zip", (name.decode(), os.urandom(4096)))
    content = bytearray(archive.read_bytes())
    data = content.index(name) + len(name)  # the first mention is the member's local header
    content[data + 10 : data + 40] = b"\xff" * 30  # its deflated data, scrambled
    archive.write_bytes(bytes(content))
    parsed = datatourisme.read_flux(archive, territory, taken_at=TAKEN_AT)
    (refused,) = parsed.failed_files
    assert refused.file == "objects/c/damaged.json"
    assert f"the member objects/c/damaged.json of the zip archive {archive} cannot be read" in (
        refused.reason
    )
    assert parsed.offers == flux.offers
