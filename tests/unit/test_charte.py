"""The charte de saisie: each rule accepts a good offer and refuses a bad one, naming the field.

The territory is the packaged communes file (Caen 14118, Rouen 76540, Cherbourg-en-Cotentin
50129); bad input is tried on purpose: Paris, Brittany, unicode, huge strings, negative prices.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.core.charte import (
    DESCRIPTION_MAX,
    NAME_MAX,
    NOTE_MAX,
    REQUIRED_FOR_EVERY_TYPE,
    REQUIRED_GROUPS,
    Violation,
    check_change,
    check_new_offer,
)
from hub.core.offer import (
    LANGUAGES,
    Accessibility,
    Address,
    Capacity,
    Classification,
    ClassificationScheme,
    Contact,
    ContactKind,
    DiffusionStatus,
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
)
from hub.core.territory import Territory
from hub.reference import load_normandy_territory

OFFER_ID = "HOTNOR014V500001"
CAEN = Location(Address("14118", "1 place Saint-Pierre", "14000", "Caen"), GeoPoint(49.18, -0.37))


@pytest.fixture
def territory() -> Territory:
    return load_normandy_territory()


def complete_offer() -> OfferFields:
    """An offer that satisfies every rule, whatever its type."""
    return OfferFields(
        names=(LocalizedText("fr", "Hôtel du Château"), LocalizedText("en", "Castle Hotel")),
        descriptions=(LocalizedText("fr", "Face au château.\nVue sur l'Abbaye-aux-Hommes."),),
        location=CAEN,
        contacts=(
            Contact(ContactKind.PHONE, "02 31 27 14 14"),
            Contact(ContactKind.EMAIL, "contact@hotel-du-chateau.fr"),
            Contact(ContactKind.WEBSITE, "https://www.hotel-du-chateau.fr/"),
        ),
        opening=(OpeningPeriod(date(2025, 4, 1), date(2025, 10, 31)),),
        event_dates=(EventDate(date(2025, 7, 14), date(2025, 7, 14)),),
        prices=Prices(lines=(PriceLine("Chambre double", Decimal("89"), Decimal("140")),)),
        classifications=(Classification(ClassificationScheme.PREFECTORAL_STARS, "3"),),
        accessibility=Accessibility(wheelchair_access=True, note="Rampe côté parking."),
        capacity=Capacity(persons=40, rooms=20),
        media=(Media("https://photos.example.fr/facade.jpg", "J. Dupont", "CC-BY-4.0"),),
        diffusion=DiffusionStatus.PUBLISHED,
        external_ids=(ExternalId("tourinsoft", "HOTNOR014V500001"),),
        private=PrivateBlock(
            owner_contacts=(Contact(ContactKind.MOBILE, "06 12 34 56 78"),),
            contract_refs=("CC-2025-014",),
            internal_notes="Propriétaire joignable le matin.",
        ),
    )


def new_offer(
    territory: Territory, offer_type: OfferType = OfferType.HOT, **groups: Any
) -> tuple[Violation, ...]:
    fields = replace(complete_offer(), **groups)
    return check_new_offer(OFFER_ID, offer_type, fields, territory)


def change(
    territory: Territory, offer_type: OfferType | None = OfferType.HOT, **groups: Any
) -> tuple[Violation, ...]:
    return check_change(OFFER_ID, offer_type, OfferFields(**groups), territory)


def found(violations: tuple[Violation, ...]) -> list[tuple[str, str]]:
    return [(v.rule, v.field) for v in violations]


def with_contact(kind: ContactKind, value: str) -> dict[str, Any]:
    return {"contacts": (Contact(kind, value),)}


# ---------------------------------------------------------------- a complete offer


@pytest.mark.parametrize("offer_type", list(OfferType))
def test_a_complete_offer_of_every_type_is_accepted(
    territory: Territory, offer_type: OfferType
) -> None:
    assert new_offer(territory, offer_type) == ()


def test_violations_come_in_the_order_of_the_groups_and_the_same_every_time(
    territory: Territory,
) -> None:
    groups: dict[str, Any] = {
        "names": (LocalizedText("en", "Hotel"),),
        "location": replace(CAEN, address=Address("75056")),
        "prices": Prices(lines=(PriceLine("Adulte", Decimal("-1")),)),
        "private": PrivateBlock(owner_contacts=(Contact(ContactKind.EMAIL, "nobody"),)),
    }
    first = new_offer(territory, OfferType.LOI, **groups)
    assert first == new_offer(territory, OfferType.LOI, **groups)
    assert [v.field for v in first] == [
        "names",
        "location.address.commune_insee",
        "prices.lines[0].minimum",
        "private.owner_contacts[0].value",
    ]


# ---------------------------------------------------------------- offer id


@pytest.mark.parametrize(
    "offer_id",
    [
        "HOTNOR014V500001",
        "FMANOR0760123456",
        "https://data.datatourisme.fr/23/0c4a3e1d-6b18-3f1a-9f8d-d7a4f1c72b6e",
        "0c4a3e1d-6b18-3f1a-9f8d-d7a4f1c72b6e",
    ],
)
def test_tourinsoft_and_datatourisme_offer_ids_are_accepted(
    territory: Territory, offer_id: str
) -> None:
    assert check_new_offer(offer_id, OfferType.HOT, complete_offer(), territory) == ()


@pytest.mark.parametrize(
    "offer_id", ["", "HO", "HOT NOR 014", "hôtel-14", "-HOTNOR014", "HOTNOR014\n", "H" * 201]
)
def test_an_offer_id_that_cannot_be_a_kafka_key_is_refused(
    territory: Territory, offer_id: str
) -> None:
    violations = check_new_offer(offer_id, OfferType.HOT, complete_offer(), territory)
    assert found(violations) == [("charte.offer_id", "offer_id")]
    assert "HOTNOR014V500001" in violations[0].message


# ---------------------------------------------------------------- required groups


def test_every_type_requires_names_location_and_diffusion() -> None:
    assert all(
        set(REQUIRED_FOR_EVERY_TYPE) <= set(REQUIRED_GROUPS[offer_type]) for offer_type in OfferType
    )


def test_an_event_without_dates_is_refused(territory: Territory) -> None:
    violations = new_offer(territory, OfferType.FMA, event_dates=None)
    assert found(violations) == [("charte.required", "event_dates")]
    assert "FMA" in violations[0].message


def test_a_leisure_offer_without_dates_or_capacity_is_accepted(territory: Territory) -> None:
    assert new_offer(territory, OfferType.LOI, event_dates=None, capacity=None) == ()


@pytest.mark.parametrize("offer_type", [OfferType.HOT, OfferType.HPA, OfferType.HLO])
def test_accommodation_without_capacity_is_refused(
    territory: Territory, offer_type: OfferType
) -> None:
    assert found(new_offer(territory, offer_type, capacity=None)) == [
        ("charte.required", "capacity")
    ]
    assert found(new_offer(territory, offer_type, capacity=Capacity())) == [
        ("charte.required", "capacity")
    ]


def test_an_offer_without_name_place_or_diffusion_is_refused(territory: Territory) -> None:
    violations = new_offer(territory, OfferType.PCU, names=None, location=None, diffusion=None)
    assert found(violations) == [
        ("charte.required", "names"),
        ("charte.required", "location"),
        ("charte.required", "diffusion"),
    ]


def test_a_change_is_judged_on_the_groups_it_sets_only(territory: Territory) -> None:
    assert change(territory, OfferType.FMA, diffusion=DiffusionStatus.UNPUBLISHED) == ()


def test_a_change_that_empties_the_names_is_refused(territory: Territory) -> None:
    assert found(change(territory, None, names=())) == [("charte.required", "names")]


def test_a_change_that_empties_an_events_dates_is_refused(territory: Territory) -> None:
    assert found(change(territory, OfferType.FMA, event_dates=())) == [
        ("charte.required", "event_dates")
    ]
    assert change(territory, OfferType.LOI, event_dates=()) == ()


# ---------------------------------------------------------------- names and languages


def test_a_name_in_french_is_accepted_alone(territory: Territory) -> None:
    assert new_offer(territory, names=(LocalizedText("fr", "Le Mémorial de Caen"),)) == ()


def test_an_offer_named_only_in_english_is_refused(territory: Territory) -> None:
    violations = new_offer(territory, names=(LocalizedText("en", "Caen Memorial"),))
    assert found(violations) == [("charte.name_fr", "names")]
    assert "'en'" in violations[0].message


def test_a_change_of_names_without_french_is_refused(territory: Territory) -> None:
    names = (LocalizedText("de", "Gedenkstätte"), LocalizedText("nl", "Gedenkteken"))
    assert found(change(territory, None, names=names)) == [("charte.name_fr", "names")]


def test_descriptions_in_the_six_languages_are_accepted(territory: Territory) -> None:
    descriptions = tuple(LocalizedText(lang, f"Texte ({lang})") for lang in LANGUAGES)
    assert new_offer(territory, descriptions=descriptions) == ()


@pytest.mark.parametrize("lang", ["pt", "FR", "fr-FR", "", "français"])
def test_a_language_outside_the_six_is_refused(territory: Territory, lang: str) -> None:
    descriptions = (LocalizedText("fr", "Texte"), LocalizedText(lang, "Texto"))
    violations = new_offer(territory, descriptions=descriptions)
    assert found(violations) == [("charte.language", "descriptions[1].lang")]
    assert repr(lang) in violations[0].message


def test_a_second_name_in_the_same_language_is_refused(territory: Territory) -> None:
    names = (
        LocalizedText("fr", "Hôtel du Château"),
        LocalizedText("en", "Castle Hotel"),
        LocalizedText("en", "The Castle"),
    )
    violations = new_offer(territory, names=names)
    assert found(violations) == [("charte.language", "names[2].lang")]
    assert "names[1]" in violations[0].message


# ---------------------------------------------------------------- commune and postal code


@pytest.mark.parametrize(
    ("insee", "postal_code"), [("14118", "14000"), ("76540", "76000"), ("50129", "50100")]
)
def test_a_norman_commune_with_its_postal_code_is_accepted(
    territory: Territory, insee: str, postal_code: str
) -> None:
    location = replace(CAEN, address=Address(insee, postal_code=postal_code), geo=None)
    assert new_offer(territory, location=location) == ()


def test_an_offer_in_paris_is_refused(territory: Territory) -> None:
    location = Location(Address("75056", postal_code="75001"))
    violations = new_offer(territory, location=location)
    assert found(violations) == [("charte.commune", "location.address.commune_insee")]
    assert "'75056' is not a commune of Normandy" in violations[0].message


@pytest.mark.parametrize("insee", ["Caen", "14 118", "1411", "", "１４１１８"])
def test_a_commune_that_is_not_an_insee_code_is_refused(territory: Territory, insee: str) -> None:
    violations = new_offer(territory, location=Location(Address(insee)))
    assert found(violations) == [("charte.commune", "location.address.commune_insee")]
    assert "is not an INSEE commune code" in violations[0].message


def test_a_postal_code_of_another_department_is_refused(territory: Territory) -> None:
    location = Location(Address("14118", postal_code="76000"))
    violations = new_offer(territory, location=location)
    assert found(violations) == [("charte.postal_code", "location.address.postal_code")]
    assert "starting with 14" in violations[0].message


@pytest.mark.parametrize("postal_code", ["1400", "14 000", "F-14000", "140000", "１４０００"])
def test_a_postal_code_that_is_not_five_digits_is_refused(
    territory: Territory, postal_code: str
) -> None:
    violations = new_offer(territory, location=Location(Address("14118", postal_code=postal_code)))
    assert found(violations) == [("charte.postal_code", "location.address.postal_code")]


# ---------------------------------------------------------------- coordinates


@pytest.mark.parametrize(
    ("latitude", "longitude"), [(49.18, -0.37), (49.44, 1.10), (49.64, -1.62), (48.87, -1.82)]
)
def test_coordinates_in_normandy_are_accepted(
    territory: Territory, latitude: float, longitude: float
) -> None:
    assert new_offer(territory, location=replace(CAEN, geo=GeoPoint(latitude, longitude))) == ()


@pytest.mark.parametrize(
    ("latitude", "longitude", "fields"),
    [
        (48.39, -4.49, ["location.geo.longitude"]),  # Brest
        (48.11, -1.68, ["location.geo.latitude"]),  # Rennes
        (48.65, -2.03, ["location.geo.longitude"]),  # Saint-Malo
        (float("nan"), float("inf"), ["location.geo.latitude", "location.geo.longitude"]),
        (0.0, 0.0, ["location.geo.latitude"]),
    ],
)
def test_coordinates_in_brittany_or_nowhere_are_refused(
    territory: Territory, latitude: float, longitude: float, fields: list[str]
) -> None:
    violations = new_offer(territory, location=replace(CAEN, geo=GeoPoint(latitude, longitude)))
    assert found(violations) == [("charte.coordinates", field) for field in fields]


def test_swapped_coordinates_are_refused_with_a_hint(territory: Territory) -> None:
    violations = new_offer(territory, location=replace(CAEN, geo=GeoPoint(-0.37, 49.18)))
    assert [v.rule for v in violations] == ["charte.coordinates", "charte.coordinates"]
    assert all("swapped" in v.message for v in violations)


# ---------------------------------------------------------------- dates


def test_an_event_on_a_single_day_is_accepted(territory: Territory) -> None:
    dates = (EventDate(date(2025, 6, 6), date(2025, 6, 6)),)
    assert new_offer(territory, OfferType.FMA, event_dates=dates) == ()


def test_an_event_ending_before_it_starts_is_refused(territory: Territory) -> None:
    dates = (
        EventDate(date(2025, 6, 6), date(2025, 6, 8)),
        EventDate(date(2025, 6, 8), date(2025, 6, 6)),
    )
    violations = new_offer(territory, OfferType.FMA, event_dates=dates)
    assert found(violations) == [("charte.event_dates", "event_dates[1].end")]
    assert "2025-06-06 comes before the start 2025-06-08" in violations[0].message


def test_an_opening_period_ending_before_it_starts_is_refused(territory: Territory) -> None:
    opening = (OpeningPeriod(date(2025, 10, 31), date(2025, 4, 1)),)
    assert found(new_offer(territory, opening=opening)) == [("charte.opening", "opening[0].end")]


# ---------------------------------------------------------------- prices


@pytest.mark.parametrize(
    "line",
    [
        PriceLine("Gratuit enfants", Decimal("0"), Decimal("0")),
        PriceLine("Adulte", Decimal("12.50"), Decimal("12.50")),
        PriceLine("Visite guidée", maximum=Decimal("8")),
        PriceLine("Nuitée", Decimal("60"), currency="GBP"),
    ],
)
def test_prices_of_zero_or_more_in_order_are_accepted(
    territory: Territory, line: PriceLine
) -> None:
    assert new_offer(territory, prices=Prices(lines=(line,))) == ()


@pytest.mark.parametrize(
    ("line", "refused"),
    [
        (PriceLine("Adulte", Decimal("-5")), [("charte.prices", "prices.lines[1].minimum")]),
        (
            PriceLine("Adulte", maximum=Decimal("-0.01")),
            [("charte.prices", "prices.lines[1].maximum")],
        ),
        (
            PriceLine("Adulte", Decimal("20"), Decimal("10")),
            [("charte.prices", "prices.lines[1].minimum")],
        ),
        (PriceLine("Adulte", Decimal("NaN")), [("charte.prices", "prices.lines[1].minimum")]),
        (PriceLine("Adulte", Decimal("sNaN")), [("charte.prices", "prices.lines[1].minimum")]),
        (PriceLine("Adulte", Decimal("Infinity")), [("charte.prices", "prices.lines[1].minimum")]),
        (
            PriceLine("Adulte", Decimal("5"), currency="euro"),
            [("charte.currency", "prices.lines[1].currency")],
        ),
        (
            PriceLine("Adulte", Decimal("5"), currency="€"),
            [("charte.currency", "prices.lines[1].currency")],
        ),
    ],
)
def test_negative_unordered_or_unreadable_prices_are_refused(
    territory: Territory, line: PriceLine, refused: list[tuple[str, str]]
) -> None:
    prices = Prices(lines=(PriceLine("Enfant", Decimal("5")), line))
    assert found(new_offer(territory, prices=prices)) == refused


# ---------------------------------------------------------------- e-mail, phone, URL


@pytest.mark.parametrize(
    "email",
    ["contact@hotel-du-chateau.fr", "o'brien+resa@gites.example.co.uk", "accueil@hôtel-caen.fr"],
)
def test_well_formed_emails_are_accepted(territory: Territory, email: str) -> None:
    assert new_offer(territory, **with_contact(ContactKind.EMAIL, email)) == ()


@pytest.mark.parametrize(
    "email",
    [
        "contact",
        "contact@",
        "@caen.fr",
        "contact@localhost",
        "contact@@caen.fr",
        "con tact@caen.fr",
        "contact@caen..fr",
        "contact.@caen.fr",
        "contact@caen.fr ",
        "contact@-caen.fr",
        "contact@caen.123",
        "élodie@caen.fr",
        "x" * 300 + "@caen.fr",
    ],
)
def test_malformed_emails_are_refused(territory: Territory, email: str) -> None:
    violations = new_offer(territory, **with_contact(ContactKind.EMAIL, email))
    assert found(violations) == [("charte.email", "contacts[0].value")]
    assert len(violations[0].message) < 300


@pytest.mark.parametrize(
    "phone",
    [
        "02 31 27 14 14",
        "02.31.27.14.14",
        "0231271414",
        "02-31-27-14-14",
        "+33 2 31 27 14 14",
        "+33 (0)2 31 27 14 14",
        "+33231271414",
        "0033 2 31 27 14 14",
        "+44 20 7946 0958",
    ],
)
def test_french_and_international_phone_numbers_are_accepted(
    territory: Territory, phone: str
) -> None:
    assert new_offer(territory, **with_contact(ContactKind.PHONE, phone)) == ()


@pytest.mark.parametrize(
    "phone",
    [
        "12",
        "02 31 27 14",
        "02 31 27 14 14 14",
        "00 31 27 14 14",
        "+33 0 2 31 27 14 14",
        "+33 2 31 27 14",
        "tél. 02 31 27 14 14",
        "02  31 27 14 14",
        "02 31 27 14 14 (standard)",
        "+1",
        "０２ ３１ ２７ １４ １４",
    ],
)
def test_malformed_phone_numbers_are_refused(territory: Territory, phone: str) -> None:
    assert found(new_offer(territory, **with_contact(ContactKind.FAX, phone))) == [
        ("charte.phone", "contacts[0].value")
    ]


@pytest.mark.parametrize(
    "url",
    [
        "https://www.calvados-tourisme.com/",
        "http://caen.fr/événements?mois=07#programme",
        "https://www.hôtel-caen.fr",
        "https://www.facebook.com/memorialdecaen:8080/",
        "https://www.caen.fr:8443/agenda",
        "HTTPS://WWW.CAEN.FR",
    ],
)
def test_web_addresses_with_a_host_are_accepted(territory: Territory, url: str) -> None:
    assert new_offer(territory, **with_contact(ContactKind.WEBSITE, url)) == ()


@pytest.mark.parametrize(
    "url",
    [
        "www.caen.fr",
        "ftp://caen.fr/",
        "https://",
        "https:///chemin",
        "https://localhost/",
        "https://caen/",
        "https://caen.fr/mon programme",
        "https://caen.fr/\tprogramme",
        "https://user:secret@caen.fr/",
        "http://[::1",
        "https://caen.fr:99999/",
        "javascript:alert(1)",
        "https://" + "a" * 64 + ".fr/",
        "https://caen.fr/" + "x" * 2_000,
    ],
)
def test_malformed_web_addresses_are_refused(territory: Territory, url: str) -> None:
    assert found(new_offer(territory, **with_contact(ContactKind.SOCIAL, url))) == [
        ("charte.url", "contacts[0].value")
    ]


def test_the_owners_private_contacts_are_checked_too(territory: Territory) -> None:
    private = PrivateBlock(
        owner_contacts=(
            Contact(ContactKind.MOBILE, "06 12 34 56 78"),
            Contact(ContactKind.EMAIL, "proprietaire@gmail"),
        )
    )
    assert found(new_offer(territory, private=private)) == [
        ("charte.email", "private.owner_contacts[1].value")
    ]
    assert (
        change(territory, private=replace(private, owner_contacts=private.owner_contacts[:1])) == ()
    )


# ---------------------------------------------------------------- media


def test_a_media_with_credit_licence_and_ordered_rights_is_accepted(territory: Territory) -> None:
    media = Media(
        "https://photos.example.fr/plage.jpg",
        "Office de tourisme de Caen",
        "tous droits réservés",
        rights_start=date(2025, 1, 1),
        rights_end=date(2025, 12, 31),
    )
    assert new_offer(territory, media=(media,)) == ()


@pytest.mark.parametrize(
    ("media", "refused"),
    [
        (
            Media("photos/plage.jpg", "J. Dupont", "CC-BY-4.0"),
            [("charte.url", "media[0].url")],
        ),
        (
            Media("https://photos.example.fr/plage.jpg", "  ", "CC-BY-4.0"),
            [("charte.media", "media[0].credit")],
        ),
        (
            Media("https://photos.example.fr/plage.jpg", "J. Dupont", ""),
            [("charte.media", "media[0].licence")],
        ),
        (
            Media(
                "https://photos.example.fr/plage.jpg",
                "J. Dupont",
                "CC-BY-4.0",
                rights_start=date(2025, 12, 31),
                rights_end=date(2025, 1, 1),
            ),
            [("charte.media", "media[0].rights_end")],
        ),
    ],
)
def test_a_media_without_address_credit_licence_or_ordered_rights_is_refused(
    territory: Territory, media: Media, refused: list[tuple[str, str]]
) -> None:
    assert found(new_offer(territory, media=(media,))) == refused


# ---------------------------------------------------------------- text sizes and characters


def test_texts_at_their_limits_are_accepted(territory: Territory) -> None:
    assert (
        new_offer(
            territory,
            names=(LocalizedText("fr", "N" * NAME_MAX),),
            descriptions=(LocalizedText("fr", "D" * DESCRIPTION_MAX),),
            private=PrivateBlock(internal_notes="n" * NOTE_MAX),
        )
        == ()
    )


def test_texts_over_their_limits_are_refused(territory: Territory) -> None:
    violations = new_offer(
        territory,
        names=(LocalizedText("fr", "N" * (NAME_MAX + 1)),),
        descriptions=(LocalizedText("fr", "D" * (DESCRIPTION_MAX + 1)),),
        private=PrivateBlock(internal_notes="n" * (NOTE_MAX + 1)),
    )
    assert found(violations) == [
        ("charte.text_size", "names[0].text"),
        ("charte.text_size", "descriptions[0].text"),
        ("charte.text_size", "private.internal_notes"),
    ]
    assert f"expected at most {NAME_MAX}" in violations[0].message


def test_a_huge_text_is_refused_with_a_short_message(territory: Territory) -> None:
    huge = "Caen " * 1_000_000
    violations = new_offer(territory, descriptions=(LocalizedText("fr", huge),))
    assert found(violations) == [("charte.text_size", "descriptions[0].text")]
    assert f"{len(huge):,} characters" in violations[0].message
    assert len(violations[0].message) < 300


def test_a_blank_french_name_is_refused(territory: Territory) -> None:
    names = (LocalizedText("fr", " \u00a0 "), LocalizedText("en", "Castle Hotel"))
    assert found(new_offer(territory, names=names)) == [("charte.text_size", "names[0].text")]


def test_accents_emoji_and_line_breaks_in_descriptions_are_accepted(territory: Territory) -> None:
    names = (LocalizedText("fr", "Crêperie « Ô Bréhal » 🥞"), LocalizedText("nl", "Crêperie"))
    descriptions = (LocalizedText("fr", "Ouvert l'été.\r\n\tFermé le lundi."),)
    assert new_offer(territory, names=names, descriptions=descriptions) == ()


@pytest.mark.parametrize(
    ("names", "field"),
    [
        ((LocalizedText("fr", "Hôtel\x00du Château"),), "names[0].text"),
        ((LocalizedText("fr", "Hôtel\ndu Château"),), "names[0].text"),
        ((LocalizedText("fr", "Hôtel"), LocalizedText("en", "Hotel\ud800")), "names[1].text"),
        ((LocalizedText("fr", "Hôtel\x85"),), "names[0].text"),
    ],
)
def test_control_characters_and_broken_unicode_are_refused(
    territory: Territory, names: tuple[LocalizedText, ...], field: str
) -> None:
    violations = new_offer(territory, names=names)
    assert found(violations) == [("charte.text_characters", field)]
    assert "U+" in violations[0].message


# ---------------------------------------------------------------- capacity


def test_a_capacity_of_zero_is_accepted(territory: Territory) -> None:
    assert new_offer(territory, OfferType.HPA, capacity=Capacity(pitches=0)) == ()


def test_a_negative_capacity_is_refused(territory: Territory) -> None:
    violations = new_offer(territory, OfferType.HPA, capacity=Capacity(persons=120, pitches=-40))
    assert found(violations) == [("charte.capacity", "capacity.pitches")]
    assert "-40" in violations[0].message


# ---------------------------------------------------------------- arbitrary input


@settings(deadline=None, max_examples=300)
@given(
    offer_id=st.text(),
    offer_type=st.sampled_from(OfferType),
    fields=st.from_type(OfferFields),
)
def test_check_new_offer_never_raises_on_arbitrary_fields(
    offer_id: str, offer_type: OfferType, fields: OfferFields
) -> None:
    territory = load_normandy_territory()
    violations = check_new_offer(offer_id, offer_type, fields, territory)
    assert all(isinstance(v, Violation) and v.rule.startswith("charte.") for v in violations)
    assert violations == check_new_offer(offer_id, offer_type, fields, territory)


@settings(deadline=None)
@given(
    offer_type=st.none() | st.sampled_from(OfferType),
    contacts=st.lists(
        st.builds(
            Contact,
            kind=st.sampled_from(ContactKind),
            value=st.text()
            | st.emails()
            | st.from_regex(r"\+?[0-9 .()-]{1,20}", fullmatch=True)
            | st.builds(lambda h, p: f"https://{h}/{p}", st.text(), st.text()),
        ),
        max_size=4,
    ).map(tuple),
)
def test_check_change_never_raises_on_arbitrary_contacts(
    offer_type: OfferType | None, contacts: tuple[Contact, ...]
) -> None:
    violations = check_change(
        OFFER_ID, offer_type, OfferFields(contacts=contacts), load_normandy_territory()
    )
    assert {v.rule for v in violations} <= {
        "charte.email",
        "charte.phone",
        "charte.url",
        "charte.text_size",
        "charte.text_characters",
    }
    assert all(v.field.startswith("contacts[") for v in violations)


@pytest.mark.parametrize("group", list(FieldGroup))
def test_a_change_of_any_single_complete_group_is_accepted(
    territory: Territory, group: FieldGroup
) -> None:
    value = getattr(complete_offer(), group.value)
    assert (
        check_change(OFFER_ID, OfferType.HOT, OfferFields(**{group.value: value}), territory) == ()
    )
