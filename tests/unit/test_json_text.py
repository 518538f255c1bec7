"""The model as canonical JSON text by msgspec: the same shape as `hub.records`, checked alike."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings

from hub.core.offer import Address, GeoPoint, Location, OfferFields, PriceLine, Prices
from hub.msgspec_records import json_text, read_json
from hub.record_error import RecordError
from hub.records import offer_fields_to_json
from hub.store.projection import canonical_json
from tests.support import examples
from tests.unit.test_codec_properties import offer_fields


@settings(max_examples=200, deadline=None)
@given(fields=offer_fields)
def test_the_text_says_what_the_hand_written_json_record_says_and_reads_back(
    fields: OfferFields,
) -> None:
    text = json_text(fields)
    assert json.loads(text) == json.loads(canonical_json(offer_fields_to_json(fields)))
    assert read_json(OfferFields, text) == fields


def test_the_text_is_the_canonical_json_of_the_hand_written_record() -> None:
    fields = examples.rich_offer_fields()
    assert json_text(fields) == canonical_json(offer_fields_to_json(fields))


def test_unset_groups_are_left_out_and_empty_ones_kept() -> None:
    assert json_text(OfferFields(names=())) == '{"names":[]}'


def test_a_price_is_written_with_two_places_whatever_its_exponent() -> None:
    prices = Prices(lines=(PriceLine(label="Nuit", minimum=Decimal("12")),))
    text = json_text(OfferFields(prices=prices))
    assert '"minimum":"12.00"' in text


def test_a_price_with_three_places_is_refused_at_its_path() -> None:
    prices = Prices(lines=(PriceLine(label="Nuit", minimum=Decimal("12.005")),))
    with pytest.raises(RecordError) as refused:
        json_text(OfferFields(prices=prices))
    assert refused.value.field_path == "prices.lines[0].minimum"
    assert "decimal places" in refused.value.message


def test_a_latitude_that_is_not_a_number_is_refused_at_its_path() -> None:
    fields = examples.rich_offer_fields()
    assert fields.location is not None
    broken = replace(fields, location=replace(fields.location, geo=GeoPoint(math.nan, 0.07)))
    with pytest.raises(RecordError) as refused:
        json_text(broken)
    assert refused.value.field_path == "location.geo.latitude"


def test_a_text_that_is_not_json_is_refused() -> None:
    with pytest.raises(RecordError, match="not JSON"):
        read_json(OfferFields, '{"names": [')


def test_a_value_of_the_wrong_type_is_refused_at_its_path() -> None:
    with pytest.raises(RecordError) as refused:
        read_json(OfferFields, '{"capacity": {"rooms": "28"}}')
    assert refused.value.field_path == "capacity.rooms"


def test_a_record_union_has_no_canonical_text_here() -> None:
    with pytest.raises(TypeError, match="union"):
        json_text(examples.rich_creation())  # hub.records writes it, with its type tags


@pytest.mark.parametrize(
    ("fields", "path", "expected"),
    [
        (
            OfferFields(prices=Prices(lines=(PriceLine("Nuit", minimum=12.5),))),  # type: ignore[arg-type]
            "prices.lines[0].minimum",
            "expected a Decimal price, got float",
        ),
        (
            OfferFields(location=Location(Address("14220"), GeoPoint("49.36", 0.07))),  # type: ignore[arg-type]
            "location.geo.latitude",
            "expected a number, got str",
        ),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_at_its_path_when_written(
    fields: OfferFields, path: str, expected: str
) -> None:
    with pytest.raises(RecordError) as refused:
        json_text(fields)
    assert refused.value.field_path == path
    assert expected in refused.value.message
