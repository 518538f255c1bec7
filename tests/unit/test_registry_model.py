"""The registry answers at the event's time: validity windows and convention lookups."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from hub.core.offer import DiffuserClass, FieldGroup, OfferType
from hub.core.registry import Concession, Registry, Validity
from hub.registry.format import load_normandy_registry


def at(day: str, hour: int = 12) -> datetime:
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC).replace(hour=hour)


WINDOW = Validity(date(2020, 1, 1), date(2020, 12, 31))


@pytest.mark.parametrize(
    ("moment", "covered"),
    [
        (datetime(2019, 12, 31, 23, 59, tzinfo=UTC), False),
        (datetime(2020, 1, 1, 0, 0, tzinfo=UTC), True),
        (datetime(2020, 6, 15, 12, 0, tzinfo=UTC), True),
        (datetime(2020, 12, 31, 23, 59, tzinfo=UTC), True),
        (datetime(2021, 1, 1, 0, 0, tzinfo=UTC), False),
    ],
)
def test_a_window_covers_its_first_and_last_day_and_nothing_outside(
    moment: datetime, covered: bool
) -> None:
    assert WINDOW.covers(moment) is covered


def test_a_window_is_judged_on_the_utc_date_of_the_event() -> None:
    paris_new_year = datetime(2021, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    assert WINDOW.covers(paris_new_year)  # still 2020-12-31 in UTC


def test_open_bounds_cover_everything_on_their_open_side() -> None:
    assert Validity(None, date(2020, 1, 1)).covers(at("1990-01-01"))
    assert Validity(date(2020, 1, 1), None).covers(at("2099-12-31"))
    assert not Validity(date(2020, 1, 1), None).covers(at("2019-12-31"))


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("2015-12-31", ()),
        ("2016-01-01", ("cc-ot-bayeux-2016",)),
        ("2019-12-31", ("cc-ot-bayeux-2016",)),
        ("2020-01-01", ("cc-ot-bayeux-2020",)),
        ("2040-01-01", ("cc-ot-bayeux-2020",)),
    ],
)
def test_bayeux_has_its_old_convention_before_2020_and_the_new_one_after(
    day: str, expected: tuple[str, ...]
) -> None:
    conventions = load_normandy_registry().conventions_of("ot-bayeux", at(day))
    assert tuple(c.convention_id for c in conventions) == expected


def test_an_ot_whose_convention_starts_in_the_future_has_none_before_it() -> None:
    registry = load_normandy_registry()
    assert registry.conventions_of("ot-alencon", at("2030-12-31")) == ()
    assert [c.convention_id for c in registry.conventions_of("ot-alencon", at("2031-01-01"))] == [
        "cc-ot-alencon-2031"
    ]


def test_an_expired_convention_no_longer_covers_what_it_covered() -> None:
    registry = load_normandy_registry()
    (old,) = registry.conventions_of("ot-mont-saint-michel", at("2022-12-31"))
    assert old.covers(OfferType.HOT, "50353", FieldGroup.NAMES, at("2022-12-31"))
    assert not old.covers(OfferType.HOT, "50353", FieldGroup.NAMES, at("2023-01-01"))


def test_a_convention_covers_only_its_types_groups_and_communes() -> None:
    (convention,) = load_normandy_registry().conventions_of("ot-bayeux", at("2024-05-01"))
    when = at("2024-05-01")
    assert convention.covers(OfferType.FMA, "14047", FieldGroup.EVENT_DATES, when)
    assert not convention.covers(OfferType.FMA, "14047", FieldGroup.PRICES, when)
    assert not convention.covers(OfferType.HOT, "14047", FieldGroup.NAMES, when)
    assert not convention.covers(OfferType.FMA, "14118", FieldGroup.NAMES, when)  # Caen


def test_the_cci_covers_hotel_classifications_in_every_department() -> None:
    (convention,) = load_normandy_registry().conventions_of("fed-cci-normandie", at("2024-01-01"))
    for commune in ("14118", "27229", "50129", "61001", "76540"):
        assert convention.covers(
            OfferType.HOT, commune, FieldGroup.CLASSIFICATIONS, at("2024-01-01")
        )
    assert not convention.covers(
        OfferType.HPA, "14118", FieldGroup.CLASSIFICATIONS, at("2024-01-01")
    )


def test_the_armada_exception_ends_with_its_window() -> None:
    registry = load_normandy_registry()
    ids_then = [e.exception_id for e in registry.crt_exceptions(at("2019-06-30"))]
    ids_after = [e.exception_id for e in registry.crt_exceptions(at("2019-07-01"))]
    assert "crt-fma-armada-2019" in ids_then
    assert "crt-fma-armada-2019" not in ids_after
    assert "crt-iti-veloroutes" in ids_after


def test_no_crt_exception_holds_before_the_consortium_convention() -> None:
    assert load_normandy_registry().crt_exceptions(at("2013-06-30")) == ()


def test_diffusion_conventions_follow_one_another_in_time() -> None:
    registry = load_normandy_registry()
    before = registry.diffusion_conventions_of("tourisme-fr", at("2021-12-31"))
    after = registry.diffusion_conventions_of("tourisme-fr", at("2022-01-01"))
    assert [c.convention_id for c in before] == ["dc-tourisme-fr-2016"]
    assert [c.convention_id for c in after] == ["dc-tourisme-fr-2022"]


BLANKET = Concession(
    "concession-standard",
    "signataires du contrat type",
    "cdt-manche",
    (),
    (DiffuserClass.INSTITUTIONAL,),
    Validity(date(2014, 1, 1), None),
)
OPEN_HERITAGE = Concession(
    "concession-open",
    "sites patrimoniaux",
    "cdt-manche",
    (),
    (DiffuserClass.OPEN_DATA,),
    Validity(date(2020, 6, 1), None),
    offer_types=(OfferType.PCU,),
)
LISTED = Concession(
    "concession-listed",
    "Région",
    "crt-normandie",
    ("ITINOR0760000101",),
    (DiffuserClass.PARTNER,),
)
REGISTRY = Registry(concessions=(BLANKET, LISTED, OPEN_HERITAGE))


def test_a_concession_without_offers_covers_every_offer_of_its_contributor() -> None:
    found = REGISTRY.concessions_for(
        "HOTNOR0500000001", at("2024-01-01"), contributor="cdt-manche", offer_type=OfferType.HOT
    )
    assert found == (BLANKET,)


def test_a_blanket_concession_proves_nothing_without_the_offers_contributor() -> None:
    assert REGISTRY.concessions_for("HOTNOR0500000001", at("2024-01-01")) == ()
    assert REGISTRY.concessions_for("HOTNOR0500000001", at("2024-01-01"), contributor="x") == ()


def test_a_concession_restricted_by_type_covers_only_that_type() -> None:
    when = at("2024-01-01")
    heritage = REGISTRY.concessions_for(
        "PCUNOR0500000001", when, contributor="cdt-manche", offer_type=OfferType.PCU
    )
    assert heritage == (BLANKET, OPEN_HERITAGE)
    untyped = REGISTRY.concessions_for("PCUNOR0500000001", when, contributor="cdt-manche")
    assert OPEN_HERITAGE not in untyped


def test_a_concession_listing_offers_covers_those_offers_only() -> None:
    when = at("2024-01-01")
    assert REGISTRY.concessions_for("ITINOR0760000101", when) == (LISTED,)
    assert REGISTRY.concessions_for("ITINOR0760000999", when, contributor="crt-normandie") == ()


def test_a_concession_outside_its_window_covers_nothing() -> None:
    found = REGISTRY.concessions_for(
        "PCUNOR0500000001", at("2020-05-31"), contributor="cdt-manche", offer_type=OfferType.PCU
    )
    assert found == (BLANKET,)


def test_in_force_keeps_only_what_holds_that_day() -> None:
    registry = load_normandy_registry()
    live = registry.in_force(at("2019-03-01"))
    ids = {c.convention_id for c in live.contribution_conventions}
    assert "cc-ot-bayeux-2016" in ids
    assert "cc-ot-bayeux-2020" not in ids
    assert all(c.validity.covers(at("2019-03-01")) for c in live.concessions)
    assert live.organisations == registry.organisations
    assert live.consortium is not None
    assert {e.exception_id for e in live.consortium.exceptions} == {
        e.exception_id for e in registry.crt_exceptions(at("2019-03-01"))
    }
