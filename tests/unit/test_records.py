"""The model <-> plain record mapping: JSON lines for `sitn publish`, Avro shapes for the codec."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from hub.core.contribution import OfferCreated
from hub.core.offer import (
    Capacity,
    FieldGroup,
    GeoPoint,
    LocalizedText,
    OfferFields,
    OfferType,
    OpeningPeriod,
    PriceLine,
    Prices,
    Weekday,
)
from hub.record_error import RecordError
from hub.records import (
    contribution_from_avro,
    contribution_from_json,
    contribution_to_avro,
    contribution_to_json,
    customer_record_from_json,
    customer_record_to_json,
    offer_fields_from_avro,
    offer_fields_from_json,
    offer_fields_to_avro,
)
from tests.support import examples


def _through_json_text(value: object) -> Any:
    return json.loads(json.dumps(value, ensure_ascii=False))


@pytest.mark.parametrize("case", sorted(examples.every_payload_kind()))
def test_every_payload_kind_survives_a_json_line(case: str) -> None:
    contribution = examples.every_payload_kind()[case]
    line = _through_json_text(contribution_to_json(contribution))
    assert contribution_from_json(line) == contribution


@pytest.mark.parametrize(
    "record", [examples.full_customer_record(), examples.minimal_customer_record()]
)
def test_customer_records_survive_a_json_line(record: Any) -> None:
    assert customer_record_from_json(_through_json_text(customer_record_to_json(record))) == record


def test_the_json_shape_is_the_one_people_write() -> None:
    line = contribution_to_json(examples.rich_creation())
    assert line["occurred_at"] == "2025-03-14T09:30:15.123456Z"
    payload = line["payload"]
    assert isinstance(payload, dict)
    assert (payload["type"], payload["offer_type"]) == ("created", "HOT")
    fields = payload["fields"]
    assert fields["prices"]["lines"][1] == {
        "label": "Petit-déjeuner",
        "minimum": "14.50",
        "currency": "EUR",
    }
    assert fields["opening"][1]["weekdays"] == ["fri", "sat", "sun"]
    assert fields["media"][0]["rights_end"] == "2026-12-31"


def test_unset_groups_are_left_out_of_a_json_change() -> None:
    payload = contribution_to_json(examples.price_change())["payload"]
    assert isinstance(payload, dict)
    assert sorted(payload["fields"]) == ["media", "prices"]


def test_json_times_with_an_offset_are_read_as_the_same_instant_in_utc() -> None:
    line = contribution_to_json(examples.withdrawal())
    line["occurred_at"] = "2025-03-14T11:30:15.123456+02:00"
    assert contribution_from_json(line).occurred_at == examples.OCCURRED_AT
    assert contribution_from_json(line).occurred_at.tzinfo is UTC


def test_a_json_payload_of_each_kind_is_read_by_its_type_tag() -> None:
    line = {
        "event_id": "e1",
        "contributor": "ot-bayeux",
        "offer_id": "o1",
        "source_version": 1,
        "occurred_at": "2025-01-02T03:04:05Z",
        "source_system": "manual",
        "source_id": "o1",
        "payload": {"type": "created", "offer_type": "PCU", "fields": {"diffusion": "published"}},
    }
    contribution = contribution_from_json(line)
    assert isinstance(contribution.payload, OfferCreated)
    assert contribution.payload.offer_type is OfferType.PCU
    assert contribution.payload.fields == offer_fields_from_json({"diffusion": "published"})


def test_defaults_fill_fields_a_json_line_leaves_out() -> None:
    fields = offer_fields_from_json(
        {"names": [{"lang": "fr", "text": "Abbaye"}], "prices": {"lines": [{"label": "Adulte"}]}}
    )
    assert fields.names == (LocalizedText("fr", "Abbaye"),)
    assert fields.prices == Prices(free=False, lines=(PriceLine("Adulte"),))


def test_a_json_integer_stands_for_a_coordinate() -> None:
    fields = offer_fields_from_json(
        {
            "location": {
                "address": {"commune_insee": "50353"},
                "geo": {"latitude": 49, "longitude": -1},
            }
        }
    )
    assert fields.location is not None
    assert fields.location.geo == GeoPoint(49.0, -1.0)


# ---------------------------------------------------------------- bad JSON names its field


DROP = object()  # as a value below: remove the field instead of setting it
FIELD_GROUPS = [group.value for group in FieldGroup]


def _rich_line_with(field_path: str, value: object) -> dict[str, Any]:
    """The JSON line of the rich creation with the field at `field_path` set to `value`."""
    line = contribution_to_json(examples.rich_creation())
    steps: list[str | int] = [
        int(step) if step.isdigit() else step for step in re.findall(r"[^.\[\]]+", field_path)
    ]
    target: Any = line
    for step in steps[:-1]:
        target = target[step]
    if value is DROP:
        del target[steps[-1]]
    else:
        target[steps[-1]] = value
    return line


@pytest.mark.parametrize(
    ("field_path", "value", "hint"),
    [
        ("payload.fields.prices.lines[1].minimum", 12.5, '"12.50"'),
        ("payload.fields.prices.lines[1].minimum", "12.505", "2 decimal places"),
        ("payload.fields.prices.lines[0].maximum", "douze", "not a price"),
        ("payload.fields.prices.lines[0].maximum", "NaN", "finite"),
        ("payload.fields.prices.lines[0].maximum", "1e12", "too large"),
        ("payload.type", "updated", "created, changed, withdrawn, deleted"),
        ("payload.type", ["created"], "must be one of"),
        ("payload.offer_type", "HOTEL", "HOT, HPA"),
        ("payload.offer_type", None, "required"),
        ("occurred_at", "2025-03-14T09:30:00", "UTC offset"),
        ("occurred_at", "14/03/2025", "ISO-8601"),
        ("source_version", True, "an integer"),
        ("source_version", "7", "an integer"),
        ("payload.fields.names[2].source", "robot", "human, machine"),
        ("payload.fields.location.geo.latitude", "49.3", "a number"),
        ("payload.fields.location.geo.latitude", float("inf"), "finite"),
        ("payload.fields.capacity.persons", 2**64, "64-bit"),
        ("payload.fields.opening[1].weekdays[0]", "monday", "mon, tue"),
        ("payload.fields.opening[0].start", "2025-13-01", "ISO-8601"),
        ("payload.fields.contacts", {"kind": "email"}, "a list"),
        ("payload.fields.price", {}, "not a field of OfferFields"),
        ("payload.fields.accessibility.wheelchair_access", "yes", "true or false"),
        ("contributor", DROP, "required"),
        ("payload.fields.location.address.commune_insee", DROP, "required"),
    ],
)
def test_a_bad_json_line_is_refused_with_the_path_of_the_offending_field(
    field_path: str, value: object, hint: str
) -> None:
    with pytest.raises(RecordError) as caught:
        contribution_from_json(_rich_line_with(field_path, value))
    assert caught.value.field_path == field_path
    assert hint in caught.value.message
    assert caught.value.record_id == "cdt-14:HOTNOR0140000123:7"
    assert str(caught.value).startswith(f"event cdt-14:HOTNOR0140000123:7: {field_path}: ")


@pytest.mark.parametrize("line", [None, [], "a contribution", 7])
def test_a_json_line_that_is_not_an_object_is_refused(line: object) -> None:
    with pytest.raises(RecordError, match="expected an object") as caught:
        contribution_from_json(line)
    assert caught.value.field_path == ""


def test_a_customer_record_with_an_unknown_channel_names_the_allowed_ones() -> None:
    line = customer_record_to_json(examples.minimal_customer_record())
    line["channel"] = "phone"
    with pytest.raises(RecordError, match="web_form, reception") as caught:
        customer_record_from_json(line)
    assert caught.value.field_path == "channel"


# ---------------------------------------------------------------- the Avro shape


def test_the_avro_shape_carries_typed_values_and_the_payload_union_branch() -> None:
    record = contribution_to_avro(examples.rich_creation())
    assert record["occurred_at"] == examples.OCCURRED_AT
    union = record["payload"]
    assert isinstance(union, tuple)
    branch, payload = union
    assert branch == "org.sitn.hub.OfferCreated"
    opening = payload["fields"]["opening"][0]
    assert (opening["start"], opening["weekdays"]) == (date(2025, 4, 1), [])
    assert payload["fields"]["prices"]["lines"][1]["minimum"] == Decimal("14.50")
    assert payload["fields"]["private"] is not None
    assert contribution_from_avro(record) == examples.rich_creation()


def test_the_avro_shape_has_every_field_even_when_unset() -> None:
    assert offer_fields_to_avro(OfferFields()) == dict.fromkeys(FIELD_GROUPS)


@pytest.mark.parametrize(
    ("fields", "field_path"),
    [
        (OfferFields(prices=Prices(lines=(PriceLine("x", 12.5),))), "prices.lines[0].minimum"),  # type: ignore[arg-type]
        (OfferFields(capacity=Capacity(persons="12")), "capacity.persons"),  # type: ignore[arg-type]
        (OfferFields(opening=("2025-01-01",)), "opening[0]"),  # type: ignore[arg-type]
        (OfferFields(diffusion="hidden"), "diffusion"),  # type: ignore[arg-type]
    ],
)
def test_a_model_value_the_wire_cannot_carry_is_refused_with_its_path(
    fields: OfferFields, field_path: str
) -> None:
    with pytest.raises(RecordError) as caught:
        offer_fields_to_avro(fields)
    assert caught.value.field_path == field_path


def test_plain_strings_with_enum_values_are_accepted_when_writing() -> None:
    period = OpeningPeriod(date(2025, 10, 1), date(2026, 3, 31), weekdays=("fri",))  # type: ignore[arg-type]
    written = offer_fields_to_avro(OfferFields(opening=(period,)))["opening"]
    assert written == [
        {"start": date(2025, 10, 1), "end": date(2026, 3, 31), "weekdays": ["fri"], "note": None}
    ]
    assert offer_fields_from_avro({**dict.fromkeys(FIELD_GROUPS), "opening": written}).opening == (
        OpeningPeriod(date(2025, 10, 1), date(2026, 3, 31), weekdays=(Weekday.FRI,)),
    )


def test_a_time_with_any_offset_keeps_its_instant_and_is_written_in_utc() -> None:
    moment = datetime(2025, 7, 2, 16, 4, tzinfo=examples.PARIS_SUMMER)
    contribution = dataclasses.replace(examples.withdrawal(), occurred_at=moment)
    line = contribution_to_json(contribution)
    assert line["occurred_at"] == "2025-07-02T14:04:00Z"
    assert contribution_from_json(line).occurred_at == moment
