"""Model values go to the wire through `codec.encode_record`: same bytes and errors as `encode`."""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub import codec
from hub.codec import RecordError
from hub.core.collection import Rejection
from hub.core.offer import FieldGroup, OfferFields
from hub.records import from_json_record, to_avro_record, to_json_record
from hub.wire import encode_regional_change, encode_rejection
from tests.support import examples


def _rejection() -> Rejection:
    return Rejection(
        event_id="ot-honfleur:PCUNOR0140000042:3",
        contributor="ot-honfleur",
        offer_id="PCUNOR0140000042",
        occurred_at=examples.OCCURRED_AT,
        rule_ids=("convention.field_group",),
        message="prices: no convention of ot-honfleur covers this group; ask the CDT 14.",
        rejected_groups=(FieldGroup.PRICES,),
    )


def _model_values() -> list[tuple[str, object]]:
    return [
        *(("Contribution", value) for value in examples.every_payload_kind().values()),
        ("CustomerRecord", examples.full_customer_record()),
        ("CustomerRecord", examples.minimal_customer_record()),
        ("RegionalChange", examples.regional_change()),
        ("Rejection", _rejection()),
    ]


def _outcome(encode: Any, record_name: str, value: object) -> bytes | tuple[str, str]:
    """The bytes, or the refusal's field path and message."""
    try:
        data = encode(record_name, value)
    except RecordError as error:
        return (error.field_path, error.message)
    assert isinstance(data, bytes)
    return data


def _through_avro_shape(record_name: str, value: object) -> bytes:
    return codec.encode(record_name, to_avro_record(value))


@pytest.mark.parametrize(("record_name", "value"), _model_values())
def test_a_model_value_encodes_to_the_bytes_of_its_avro_shape(
    record_name: str, value: object
) -> None:
    assert codec.encode_record(record_name, value) == _through_avro_shape(record_name, value)


@pytest.mark.parametrize(("record_name", "value"), _model_values())
def test_fastavro_writes_the_tagged_shape_as_it_writes_the_plain_one(
    record_name: str, value: object
) -> None:
    # Not only through encode_record, which would fall back to the plain shape on a misfit.
    def body(record: dict[str, object]) -> bytes:
        out = io.BytesIO()
        schema = codec.current_schema(record_name).parsed
        fastavro.schemaless_writer(out, schema, record, strict_allow_default=True)
        return out.getvalue()

    tagged = to_avro_record(value, tagged_unions=True)
    assert body(tagged) == body(to_avro_record(value))


def test_the_processor_encodes_its_outputs_as_their_avro_shapes() -> None:
    change = examples.regional_change()
    assert encode_regional_change(change) == _through_avro_shape("RegionalChange", change)
    assert encode_rejection(_rejection()) == _through_avro_shape("Rejection", _rejection())


@settings(max_examples=40, deadline=None)
@given(fields=st.from_type(OfferFields))
def test_any_offer_content_encodes_or_is_refused_as_through_its_avro_shape(
    fields: OfferFields,
) -> None:
    # Arbitrary values: naive times, NaN, prices with many decimals are refused by both ways.
    change = replace(examples.regional_change(), public=fields, private=fields.private)
    assert _outcome(codec.encode_record, "RegionalChange", change) == _outcome(
        _through_avro_shape, "RegionalChange", change
    )


def test_a_naive_time_deep_in_a_model_value_is_refused_with_its_path() -> None:
    change = examples.regional_change()
    provenance = list(change.provenance)
    provenance[1] = replace(provenance[1], occurred_at=datetime(2025, 3, 14, 9, 30))  # noqa: DTZ001
    with pytest.raises(RecordError, match="no UTC offset") as caught:
        codec.encode_record("RegionalChange", replace(change, provenance=tuple(provenance)))
    assert caught.value.field_path == "provenance[1].occurred_at"


def test_a_naive_time_deep_in_a_hand_built_record_is_refused_with_its_path() -> None:
    record = examples.regional_change_record()
    record["provenance"][1]["occurred_at"] = datetime(2025, 3, 14, 9, 30)  # noqa: DTZ001
    with pytest.raises(RecordError, match="no UTC offset") as caught:
        codec.encode("RegionalChange", record)
    assert caught.value.field_path == "provenance[1].occurred_at"


def test_a_model_value_of_another_record_is_refused_as_encode_refuses_it() -> None:
    withdrawal = examples.withdrawal()
    with pytest.raises(RecordError, match="does not fit the Rejection schema") as caught:
        codec.encode_record("Rejection", withdrawal)
    with pytest.raises(RecordError) as through_shape:
        _through_avro_shape("Rejection", withdrawal)
    assert str(caught.value) == str(through_shape.value)


def test_a_plain_dict_is_not_a_model_value() -> None:
    with pytest.raises(RecordError, match="expected a model record, got dict"):
        codec.encode_record("Rejection", examples.rejection_record())


def test_every_schema_lets_model_values_reach_fastavro_tagged() -> None:
    assert all(codec._tags_change_no_byte(name) for name in codec.RECORD_NAMES)


def test_a_union_a_value_could_take_two_ways_keeps_values_untagged() -> None:
    schema = {
        "type": "record",
        "name": "Count",
        "fields": [{"name": "n", "type": ["null", "int", "long"]}],
    }
    assert not codec._unions_are_unambiguous(schema)
    assert codec._unions_are_unambiguous(
        {**schema, "fields": [{"name": "n", "type": ["null", "long"]}]}
    )


def test_the_tagged_avro_shape_names_each_set_optional_values_branch() -> None:
    record: Any = to_avro_record(examples.rich_creation(), tagged_unions=True)
    branch, payload = record["payload"]
    assert branch == "org.sitn.hub.OfferCreated"
    location_branch, location = payload["fields"]["location"]
    assert location_branch == "org.sitn.hub.Location"
    assert location["address"]["street"] == ("string", "1 boulevard de la Mer")
    assert payload["fields"]["capacity"] == (
        "org.sitn.hub.Capacity",
        {"persons": ("long", 64), "rooms": ("long", 28), "pitches": None},
    )
    assert payload["fields"]["diffusion"] == ("string", "published")
    assert payload["fields"]["opening"][0] == "array"


# ---------------------------------------------------------------- types the model may grow


@dataclass(frozen=True)
class _Node:
    label: str
    child: _Node | None = None


@dataclass(frozen=True)
class _Odd:
    value: complex | None = None


def test_a_record_type_that_contains_itself_is_mapped() -> None:
    tree = _Node("root", _Node("branch", _Node("leaf")))
    assert to_json_record(tree) == {
        "label": "root",
        "child": {"label": "branch", "child": {"label": "leaf"}},
    }
    assert from_json_record(_Node, to_json_record(tree)) == tree


def test_a_type_with_no_wire_mapping_fails_only_when_a_value_of_it_is_written() -> None:
    assert to_avro_record(_Odd()) == {"value": None}
    with pytest.raises(TypeError, match="value: no wire mapping for type <class 'complex'>"):
        to_avro_record(_Odd(1j))
