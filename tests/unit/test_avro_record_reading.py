"""Reading Avro-shaped records into the model: every value checked, every refusal named by path."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from hub.core.contribution import Contribution
from hub.core.regional import RegionalChange
from hub.msgspec_records import read
from hub.record_error import RecordError
from hub.records import to_avro_record
from tests.support import examples


def _creation_shape() -> dict[str, Any]:
    return copy.deepcopy(to_avro_record(examples.rich_creation()))


def _fields(shape: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = shape["payload"][1]["fields"]
    return fields


def _refusal(shape: object, cls: type[Any] = Contribution) -> RecordError:
    with pytest.raises(RecordError) as refused:
        read(cls, shape)
    return refused.value


@pytest.mark.parametrize("case", sorted(examples.every_payload_kind()))
def test_every_payload_kind_reads_back_to_the_contribution_it_was_written_from(case: str) -> None:
    contribution = examples.every_payload_kind()[case]
    assert read(Contribution, to_avro_record(contribution)) == contribution


def test_a_regional_change_reads_back_to_itself() -> None:
    change = examples.regional_change()
    assert read(RegionalChange, to_avro_record(change)) == change


def test_a_string_where_a_version_belongs_is_refused_at_that_field_with_the_event_id() -> None:
    shape = _creation_shape()
    shape["source_version"] = "3"
    error = _refusal(shape)
    assert (error.field_path, error.record_id) == ("source_version", shape["event_id"])
    assert "int" in error.message


def test_a_missing_field_is_named_and_said_to_be_required() -> None:
    shape = _creation_shape()
    del shape["offer_id"]
    error = _refusal(shape)
    assert (error.field_path, error.message) == ("offer_id", "is required")


def test_an_unknown_payload_record_is_refused_naming_the_kinds_it_may_be() -> None:
    shape = _creation_shape()
    shape["payload"] = ("org.sitn.hub.OfferMoved", shape["payload"][1])
    error = _refusal(shape)
    assert error.field_path == "payload"
    assert "org.sitn.hub.OfferCreated" in error.message


def test_a_wrong_type_inside_the_payload_names_the_path_through_it() -> None:
    shape = _creation_shape()
    _fields(shape)["prices"]["lines"][1]["label"] = 7
    assert _refusal(shape).field_path == "payload.fields.prices.lines[1].label"


def test_a_price_with_three_decimal_places_is_refused_at_its_line() -> None:
    shape = _creation_shape()
    _fields(shape)["prices"]["lines"][1]["minimum"] = Decimal("14.505")
    error = _refusal(shape)
    assert error.field_path == "payload.fields.prices.lines[1].minimum"
    assert "decimal places" in error.message


def test_a_price_beyond_the_wire_decimal_is_refused() -> None:
    shape = _creation_shape()
    _fields(shape)["prices"]["lines"][0]["minimum"] = Decimal("10000000000")
    assert "too large" in _refusal(shape).message


def test_a_latitude_that_is_not_a_number_is_refused_at_its_path() -> None:
    shape = _creation_shape()
    _fields(shape)["location"]["geo"]["latitude"] = float("nan")
    error = _refusal(shape)
    assert error.field_path == "payload.fields.location.geo.latitude"
    assert "finite" in error.message


def test_a_datetime_without_offset_is_refused() -> None:
    shape = _creation_shape()
    shape["occurred_at"] = shape["occurred_at"].replace(tzinfo=None)
    error = _refusal(shape)
    assert error.field_path == "occurred_at"
    assert "UTC offset" in error.message


def test_an_enum_value_outside_the_model_is_refused_at_its_path() -> None:
    shape = _creation_shape()
    _fields(shape)["opening"][1]["weekdays"][0] = "funday"
    assert _refusal(shape).field_path == "payload.fields.opening[1].weekdays[0]"


def test_a_record_that_is_not_an_object_is_refused_without_a_path() -> None:
    error = _refusal(["not", "a", "record"])
    assert (error.field_path, error.record_id) == ("", None)
