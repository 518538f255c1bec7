"""Turning snapshots into changes: only differences are published, and nothing twice."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from hub.core.contribution import FieldGroupsChanged, OfferCreated, OfferWithdrawn
from hub.core.offer import (
    Capacity,
    DiffusionStatus,
    FieldGroup,
    GeoPoint,
    OfferType,
    PriceLine,
    Prices,
)
from hub.core.territory import Territory
from hub.reference import load_normandy_territory
from producers import tourinsoft
from producers.snapshot import (
    FileFailure,
    KnownOffer,
    ParsedSnapshot,
    RecordProblem,
    SnapshotError,
    SnapshotOffer,
    diff_snapshot,
    group_digest,
    group_digests,
    load_state,
    parse_coordinate,
    parse_count,
    parse_day,
    parse_decimal,
    parse_instant,
    plan_import,
    save_state,
    settle_state,
    state_path,
)

FIXTURE = Path(__file__).parents[1] / "fixtures" / "tourinsoft" / "export-2024-05-02.json"
TAKEN_AT = datetime(2024, 5, 2, 6, 0, tzinfo=UTC)
LATER = datetime(2024, 5, 9, 6, 0, tzinfo=UTC)
SOURCE = "tourinsoft"


@pytest.fixture(scope="module")
def territory() -> Territory:
    return load_normandy_territory()


@pytest.fixture(scope="module")
def snapshot(territory: Territory) -> ParsedSnapshot:
    return tourinsoft.read_export(FIXTURE, territory, taken_at=TAKEN_AT)


def first_import(offers: Sequence[SnapshotOffer]) -> dict[str, KnownOffer]:
    _, state = diff_snapshot({}, offers, source_system=SOURCE, taken_at=TAKEN_AT)
    return state


def with_prices(offer: SnapshotOffer, prices: Prices) -> SnapshotOffer:
    return replace(offer, fields=replace(offer.fields, prices=prices))


# ---------------------------------------------------------------- diff_snapshot


def test_a_first_snapshot_creates_every_offer_with_its_full_content(
    snapshot: ParsedSnapshot,
) -> None:
    changes, state = diff_snapshot({}, snapshot.offers, source_system=SOURCE, taken_at=TAKEN_AT)
    assert [c.offer_id for c in changes] == [o.offer_id for o in snapshot.offers]
    for change, offer in zip(changes, snapshot.offers, strict=True):
        assert change.payload == OfferCreated(offer.offer_type, offer.fields)
        assert (change.occurred_at, change.source_system, change.source_id) == (
            offer.occurred_at,
            SOURCE,
            offer.source_id,
        )
    assert sorted(state) == sorted(o.offer_id for o in snapshot.offers)


def test_importing_the_same_snapshot_twice_plans_nothing(snapshot: ParsedSnapshot) -> None:
    state = first_import(snapshot.offers)
    changes, again = diff_snapshot(state, snapshot.offers, source_system=SOURCE, taken_at=LATER)
    assert changes == []
    assert again == state


def test_an_offer_missing_from_the_snapshot_is_withdrawn_exactly_once(
    snapshot: ParsedSnapshot,
) -> None:
    state = first_import(snapshot.offers)
    gone, *rest = snapshot.offers
    changes, after = diff_snapshot(state, rest, source_system=SOURCE, taken_at=LATER)
    assert len(changes) == 1
    (change,) = changes
    assert change.offer_id == gone.offer_id
    assert change.payload == OfferWithdrawn("absent from the tourinsoft snapshot of 2024-05-09")
    assert (change.occurred_at, change.source_id) == (LATER, gone.source_id)
    assert after[gone.offer_id].withdrawn
    changes_again, _ = diff_snapshot(after, rest, source_system=SOURCE, taken_at=LATER)
    assert changes_again == []


def test_one_changed_field_gives_one_change_with_just_that_group(
    snapshot: ParsedSnapshot,
) -> None:
    state = first_import(snapshot.offers)
    target = snapshot.offers[1]
    new_prices = Prices(lines=(PriceLine("Menu du jour", Decimal("17"), Decimal("25")),))
    current = [with_prices(o, new_prices) if o is target else o for o in snapshot.offers]
    changes, after = diff_snapshot(state, current, source_system=SOURCE, taken_at=LATER)
    assert [(c.offer_id, c.payload) for c in changes] == [
        (target.offer_id, FieldGroupsChanged(replace(target.fields.only(()), prices=new_prices)))
    ]
    assert after[target.offer_id].digest(FieldGroup.PRICES) == group_digest(
        FieldGroup.PRICES, new_prices
    )


def test_a_group_the_source_stopped_giving_is_sent_empty_then_forgotten(
    snapshot: ParsedSnapshot,
) -> None:
    state = first_import(snapshot.offers)
    hotel = snapshot.offers[0]
    assert hotel.fields.media
    without_media = replace(hotel, fields=replace(hotel.fields, media=None))
    changes, after = diff_snapshot(state, [without_media], source_system=SOURCE, taken_at=LATER)
    emptied = [c.payload for c in changes if c.offer_id == hotel.offer_id]
    assert emptied == [FieldGroupsChanged(replace(hotel.fields.only(()), media=()))]
    assert after[hotel.offer_id].digest(FieldGroup.MEDIA) is None
    again, _ = diff_snapshot(after, [without_media], source_system=SOURCE, taken_at=LATER)
    assert [c for c in again if c.offer_id == hotel.offer_id] == []


def test_a_withdrawn_offer_that_reappears_is_changed_back_to_published(
    snapshot: ParsedSnapshot,
) -> None:
    state = first_import(snapshot.offers)
    back, *rest = snapshot.offers
    _, withdrawn = diff_snapshot(state, rest, source_system=SOURCE, taken_at=LATER)
    changes, after = diff_snapshot(withdrawn, snapshot.offers, source_system=SOURCE, taken_at=LATER)
    assert [(c.offer_id, c.payload) for c in changes] == [
        (
            back.offer_id,
            FieldGroupsChanged(replace(back.fields.only(()), diffusion=DiffusionStatus.PUBLISHED)),
        )
    ]
    assert not after[back.offer_id].withdrawn


def test_a_reappearing_offer_also_carries_what_changed_while_it_was_away(
    snapshot: ParsedSnapshot,
) -> None:
    state = first_import(snapshot.offers)
    back, *rest = snapshot.offers
    _, withdrawn = diff_snapshot(state, rest, source_system=SOURCE, taken_at=LATER)
    bigger = replace(back, fields=replace(back.fields, capacity=Capacity(rooms=30)))
    changes, _ = diff_snapshot(withdrawn, [bigger, *rest], source_system=SOURCE, taken_at=LATER)
    (change,) = changes
    assert isinstance(change.payload, FieldGroupsChanged)
    assert change.payload.changed_groups == (FieldGroup.CAPACITY, FieldGroup.DIFFUSION)


def test_an_offer_kept_as_unusable_is_neither_changed_nor_withdrawn(
    snapshot: ParsedSnapshot,
) -> None:
    state = first_import(snapshot.offers)
    kept, *rest = snapshot.offers
    changes, after = diff_snapshot(
        state, rest, source_system=SOURCE, taken_at=LATER, keep={kept.offer_id}
    )
    assert changes == []
    assert after[kept.offer_id] == state[kept.offer_id]


def test_an_id_given_twice_counts_once(snapshot: ParsedSnapshot) -> None:
    offer = snapshot.offers[0]
    changes, state = diff_snapshot({}, [offer, offer], source_system=SOURCE, taken_at=TAKEN_AT)
    assert [c.offer_id for c in changes] == [offer.offer_id]
    assert list(state) == [offer.offer_id]


# ---------------------------------------------------------------- digests


def test_equal_amounts_written_differently_have_equal_digests() -> None:
    plain = Prices(lines=(PriceLine("Adulte", Decimal("10"), Decimal("12.5")),))
    padded = Prices(lines=(PriceLine("Adulte", Decimal("10.00"), Decimal("12.50")),))
    assert group_digest(FieldGroup.PRICES, plain) == group_digest(FieldGroup.PRICES, padded)


def test_different_values_have_different_digests() -> None:
    one = Prices(lines=(PriceLine("Adulte", Decimal("10")),))
    other = Prices(lines=(PriceLine("Adulte", Decimal("11")),))
    assert group_digest(FieldGroup.PRICES, one) != group_digest(FieldGroup.PRICES, other)


def test_digests_cover_the_set_groups_only_in_group_order(snapshot: ParsedSnapshot) -> None:
    offer_fields = snapshot.offers[0].fields
    assert tuple(group for group, _ in group_digests(offer_fields)) == offer_fields.groups()


# ---------------------------------------------------------------- plan_import


def test_a_record_failing_the_charte_is_reported_and_not_published(
    snapshot: ParsedSnapshot, territory: Territory
) -> None:
    marseille = snapshot.offers[1]
    location = marseille.fields.location
    assert location is not None
    moved = replace(
        marseille,
        fields=replace(marseille.fields, location=replace(location, geo=GeoPoint(43.2965, 5.3698))),
    )
    parsed = ParsedSnapshot(tuple(moved if o is marseille else o for o in snapshot.offers))
    plan = plan_import({}, parsed, source_system=SOURCE, taken_at=TAKEN_AT, territory=territory)
    assert marseille.offer_id not in {c.offer_id for c in plan.changes}
    assert marseille.offer_id not in plan.next_state
    assert plan.skipped == (marseille.offer_id,)
    fields_reported = {p.field for p in plan.bad_records if p.record_id == marseille.offer_id}
    assert fields_reported == {"location.geo.latitude", "location.geo.longitude"}
    assert all("[charte.coordinates]" in p.reason for p in plan.bad_records)


def test_a_known_offer_whose_record_turns_bad_is_not_withdrawn(
    snapshot: ParsedSnapshot, territory: Territory
) -> None:
    state = first_import(snapshot.offers)
    hotel, *rest = snapshot.offers
    parsed = ParsedSnapshot(
        tuple(rest), (RecordProblem(hotel.offer_id, "Commune", "no commune named 'X'"),)
    )
    plan = plan_import(state, parsed, source_system=SOURCE, taken_at=LATER, territory=territory)
    assert plan.changes == ()
    assert plan.next_state[hotel.offer_id] == state[hotel.offer_id]


def test_a_failed_file_plans_no_withdrawal_and_still_plans_the_offers_read(
    snapshot: ParsedSnapshot, territory: Territory
) -> None:
    hotel, restaurant, event, site = snapshot.offers
    state = first_import([hotel, restaurant, event])
    cheaper = with_prices(restaurant, Prices(lines=(PriceLine("Menu", Decimal("9")),)))
    failed = (FileFailure("objects/b/broken.json", "not JSON"),)
    parsed = ParsedSnapshot((cheaper, site), failed_files=failed)
    plan = plan_import(state, parsed, source_system=SOURCE, taken_at=LATER, territory=territory)
    assert (plan.created, plan.changed, plan.withdrawn) == (
        (site.offer_id,),
        (cheaper.offer_id,),
        (),
    )
    assert plan.withheld == tuple(sorted([hotel.offer_id, event.offer_id]))
    assert plan.failed_files == failed
    assert plan.next_state[hotel.offer_id] == state[hotel.offer_id]
    assert plan.next_state[event.offer_id] == state[event.offer_id]


def test_a_partial_snapshot_allowed_withdraws_what_it_misses_despite_a_failed_file(
    snapshot: ParsedSnapshot, territory: Territory
) -> None:
    hotel, restaurant, event, _ = snapshot.offers
    state = first_import([hotel, restaurant, event])
    parsed = ParsedSnapshot((restaurant,), failed_files=(FileFailure("b.json", "not JSON"),))
    plan = plan_import(
        state, parsed, source_system=SOURCE, taken_at=LATER, territory=territory, allow_partial=True
    )
    assert (plan.withdrawn, plan.withheld) == (tuple(sorted([hotel.offer_id, event.offer_id])), ())


def test_an_offer_cannot_change_type_through_a_snapshot(
    snapshot: ParsedSnapshot, territory: Territory
) -> None:
    state = first_import(snapshot.offers)
    restaurant = snapshot.offers[1]
    shop = replace(restaurant, offer_type=OfferType.COM)
    parsed = ParsedSnapshot(tuple(shop if o is restaurant else o for o in snapshot.offers))
    plan = plan_import(state, parsed, source_system=SOURCE, taken_at=LATER, territory=territory)
    assert plan.changes == ()
    (problem,) = plan.bad_records
    assert (problem.record_id, problem.field) == (restaurant.offer_id, "type")
    assert "RES" in problem.reason
    assert "COM" in problem.reason


def test_a_plan_counts_each_kind_of_change(snapshot: ParsedSnapshot, territory: Territory) -> None:
    hotel, restaurant, event, site = snapshot.offers
    state = first_import([hotel, restaurant, event])
    _, state = diff_snapshot(state, [restaurant, event], source_system=SOURCE, taken_at=LATER)
    cheaper = with_prices(restaurant, Prices(lines=(PriceLine("Menu", Decimal("9")),)))
    parsed = ParsedSnapshot((hotel, cheaper, site))
    plan = plan_import(state, parsed, source_system=SOURCE, taken_at=LATER, territory=territory)
    assert (plan.created, plan.changed, plan.republished, plan.withdrawn, plan.unchanged) == (
        (site.offer_id,),
        (restaurant.offer_id,),
        (hotel.offer_id,),
        (event.offer_id,),
        (),
    )


# ---------------------------------------------------------------- settling and storing the state


def test_only_published_changes_move_the_state_forward(
    snapshot: ParsedSnapshot, territory: Territory
) -> None:
    hotel, restaurant, event, site = snapshot.offers
    previous = first_import([hotel, restaurant])
    cheaper = with_prices(restaurant, Prices(lines=(PriceLine("Menu", Decimal("9")),)))
    parsed = ParsedSnapshot((hotel, cheaper, event, site))
    plan = plan_import(previous, parsed, source_system=SOURCE, taken_at=LATER, territory=territory)
    settled = settle_state(previous, plan, [event.offer_id])
    assert settled[hotel.offer_id] == previous[hotel.offer_id]  # unchanged anyway
    assert settled[restaurant.offer_id] == previous[restaurant.offer_id]  # not published
    assert settled[event.offer_id] == plan.next_state[event.offer_id]  # published
    assert site.offer_id not in settled  # new, not published: created again next time
    retried = plan_import(
        settled, parsed, source_system=SOURCE, taken_at=LATER, territory=territory
    )
    assert {c.offer_id for c in retried.changes} == {restaurant.offer_id, site.offer_id}


def test_the_state_file_round_trips(snapshot: ParsedSnapshot, tmp_path: Path) -> None:
    state = first_import(snapshot.offers)
    state[snapshot.offers[0].offer_id] = replace(state[snapshot.offers[0].offer_id], withdrawn=True)
    path = state_path(tmp_path, "cdt14", SOURCE)
    save_state(path, state)
    assert path == tmp_path / "snapshots" / "cdt14" / "tourinsoft.json"
    assert load_state(path) == state
    assert [p.name for p in path.parent.iterdir()] == ["tourinsoft.json"]  # no temporary left


def test_no_state_file_means_a_first_import(tmp_path: Path) -> None:
    assert load_state(tmp_path / "absent.json") == {}


@pytest.mark.parametrize(
    "content",
    ["{not json", json.dumps({"format": 99, "offers": {}}), json.dumps({"format": 1})],
)
def test_a_damaged_state_file_is_reported_with_its_path(tmp_path: Path, content: str) -> None:
    path = tmp_path / "tourinsoft.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SnapshotError, match=str(path)):
        load_state(path)


# ---------------------------------------------------------------- values as exports write them


@pytest.mark.parametrize(
    ("text", "expected"),
    [("85,50", Decimal("85.50")), ("1 200,00", Decimal("1200.00")), ("12 €", Decimal("12"))],
)
def test_amounts_accept_comma_decimals_spaces_and_euro_signs(text: str, expected: Decimal) -> None:
    assert parse_decimal(text) == expected


@pytest.mark.parametrize("text", ["douze", "", "NaN", "1,2,3"])
def test_an_amount_that_is_not_a_number_is_refused_with_the_text(text: str) -> None:
    with pytest.raises(ValueError, match="is not a number"):
        parse_decimal(text)


def test_a_number_with_a_huge_exponent_is_refused_before_it_is_computed() -> None:
    with pytest.raises(ValueError, match=r"'1e800000' is not a number the hub keeps.*plain digits"):
        parse_decimal("1e800000")


def test_a_number_longer_than_a_few_dozen_characters_is_refused_before_it_is_read() -> None:
    with pytest.raises(ValueError, match=r"is not a number: longer than 40 characters"):
        parse_decimal("9" * 100_000)


@pytest.mark.parametrize(("text", "expected"), [("18", 18), ("1 200", 1200), ("12,0", 12)])
def test_counts_are_whole_numbers_in_plain_digits(text: str, expected: int) -> None:
    assert parse_count(text) == expected


@pytest.mark.parametrize("text", ["1e800000", "-3", "2.5", "douze", "1234567", "9" * 100_000])
def test_a_count_that_is_not_a_plain_whole_number_of_reasonable_size_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a count; expected a whole number of 0 or more"):
        parse_count(text)


@pytest.mark.parametrize(("value", "expected"), [("49,4194", 49.4194), (-0.37, -0.37)])
def test_coordinates_accept_strings_with_commas_and_numbers(value: object, expected: float) -> None:
    assert parse_coordinate(value) == expected


@pytest.mark.parametrize("value", [True, None, [49.1], "nord", float("nan")])
def test_a_coordinate_of_another_shape_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="is not a number"):
        parse_coordinate(value)


@pytest.mark.parametrize("text", ["13/07/2024", "2024-07-13", "2024-07-13T00:00:00"])
def test_days_accept_day_first_and_iso_forms(text: str) -> None:
    assert parse_day(text) == date(2024, 7, 13)


@pytest.mark.parametrize("text", ["31/02/2024", "juillet", "2024-13-01"])
def test_an_impossible_day_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a date"):
        parse_day(text)


def test_a_time_without_offset_is_french_local_time() -> None:
    winter = parse_instant("2024-01-15T10:00:00")
    summer = parse_instant("15/07/2024 10:00")
    assert winter.astimezone(UTC).hour == 9
    assert summer.astimezone(UTC).hour == 8


def test_a_time_with_an_offset_keeps_it() -> None:
    assert parse_instant("2024-04-30T18:00:00+02:00").astimezone(UTC).hour == 16
