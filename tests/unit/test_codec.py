"""The wire codec: single-object framing, round-trips of every record, one typed decode error."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub import codec
from hub.codec import DecodeError, DecodeReason, RecordError
from hub.core.contribution import Contribution, OfferCreated
from hub.core.offer import OfferFields, OfferType, PriceLine, Prices
from hub.records import contribution_to_avro
from tests.support import examples

# ---------------------------------------------------------------- round-trips


@pytest.mark.parametrize("case", sorted(examples.every_payload_kind()))
def test_every_payload_kind_survives_encode_and_decode(case: str) -> None:
    contribution = examples.every_payload_kind()[case]
    assert codec.decode_contribution(codec.encode_contribution(contribution)) == contribution


def test_a_decoded_contribution_keeps_tuples_enums_and_utc_times() -> None:
    decoded = codec.decode_contribution(codec.encode_contribution(examples.rich_creation()))
    assert isinstance(decoded.payload, OfferCreated)
    assert decoded.payload.offer_type is OfferType.HOT
    assert isinstance(decoded.payload.fields.names, tuple)
    assert decoded.occurred_at.utcoffset() is not None
    prices = decoded.payload.fields.prices
    assert prices is not None
    assert prices.lines[1].minimum == Decimal("14.50")


@pytest.mark.parametrize(
    "record", [examples.full_customer_record(), examples.minimal_customer_record()]
)
def test_customer_records_survive_encode_and_decode(record: Any) -> None:
    assert codec.decode_customer_record(codec.encode_customer_record(record)) == record


@pytest.mark.parametrize(
    ("record_name", "case"),
    [(name, case) for name, cases in examples.generic_records().items() for case in cases],
)
def test_every_generic_record_survives_encode_and_decode(record_name: str, case: str) -> None:
    record = examples.generic_records()[record_name][case]
    assert codec.decode(record_name, codec.encode(record_name, record)) == record


def test_the_same_contribution_always_encodes_to_the_same_bytes() -> None:
    assert codec.encode_contribution(examples.rich_creation()) == codec.encode_contribution(
        examples.rich_creation()
    )


# ---------------------------------------------------------------- framing


def test_a_message_starts_with_the_marker_then_the_writer_fingerprint() -> None:
    data = codec.encode_contribution(examples.withdrawal())
    assert data[:2] == b"\xc3\x01"
    assert data[2:10] == codec.current_schema("Contribution").fingerprint
    assert codec.writer_schema_of(data).record_name == "Contribution"


def _crc64_avro(data: bytes) -> int:
    """The CRC-64-AVRO fingerprint exactly as the Avro specification writes it."""
    empty = 0xC15D213AA4D7A795
    table = []
    for byte in range(256):
        value = byte
        for _ in range(8):
            value = (value >> 1) ^ (empty & -(value & 1))
        table.append(value)
    fingerprint = empty
    for byte in data:
        fingerprint = (fingerprint >> 8) ^ table[(fingerprint ^ byte) & 0xFF]
    return fingerprint


def test_the_fingerprint_of_null_is_the_one_the_avro_specification_publishes() -> None:
    # From the Avro project's schema-tests data: "null" -> 7195948357588979594.
    assert codec.schema_fingerprint("null") == (7195948357588979594).to_bytes(8, "little")


@pytest.mark.parametrize("record_name", codec.RECORD_NAMES)
def test_each_fingerprint_is_crc_64_avro_of_the_canonical_form_little_endian(
    record_name: str,
) -> None:
    from fastavro.schema import to_parsing_canonical_form

    schema = codec.current_schema(record_name)
    canonical = to_parsing_canonical_form(schema.parsed).encode("utf-8")
    assert schema.fingerprint == _crc64_avro(canonical).to_bytes(8, "little")


def test_schemas_are_parsed_on_first_use_not_at_import() -> None:
    probe = "import hub.codec as c; print(c._catalog.cache_info().currsize)"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "0"


def test_an_unknown_record_name_is_a_programming_error_that_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="Contribution, CustomerRecord"):
        codec.encode("Contribuion", {})


# ---------------------------------------------------------------- decode errors


def _valid() -> bytes:
    return codec.encode_contribution(examples.rich_creation())


def _header() -> bytes:
    return codec.MAGIC + codec.current_schema("Contribution").fingerprint


def _decode_error(data: bytes | None, record_name: str = "Contribution") -> DecodeError:
    with pytest.raises(DecodeError) as caught:
        codec.decode(record_name, data)
    return caught.value


@pytest.mark.parametrize("data", [None, b"", b"\xc3", b"\xc3\x01", _header()[:9]])
def test_fewer_bytes_than_the_header_are_too_short(data: bytes | None) -> None:
    error = _decode_error(data)
    assert error.reason is DecodeReason.TOO_SHORT
    assert error.record_name == "Contribution"


@pytest.mark.parametrize(
    "data", [b'{"event_id": "x"}', b"\x00\x01" + bytes(20), b"\xc3\x00" + _valid()[2:]]
)
def test_bytes_without_the_single_object_marker_are_bad_magic(data: bytes) -> None:
    error = _decode_error(data)
    assert error.reason is DecodeReason.BAD_MAGIC
    assert "c3 01" in str(error)


def test_a_fingerprint_no_schema_has_is_unknown_and_named() -> None:
    data = codec.MAGIC + bytes.fromhex("0123456789abcdef") + _valid()[10:]
    error = _decode_error(data)
    assert error.reason is DecodeReason.UNKNOWN_FINGERPRINT
    assert "0123456789abcdef" in str(error)
    assert "Contribution v1" in str(error)


def test_another_records_message_is_an_unknown_fingerprint_that_says_what_it_is() -> None:
    data = codec.encode_customer_record(examples.full_customer_record())
    error = _decode_error(data)
    assert error.reason is DecodeReason.UNKNOWN_FINGERPRINT
    assert "CustomerRecord" in str(error)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(_valid()[:-3], id="truncated"),
        pytest.param(_valid() + b"\x00", id="trailing-byte"),
        pytest.param(_header() + b"\x02\xff\xfe", id="invalid-utf8"),
        pytest.param(_header() + b"\x7f", id="negative-length"),
        pytest.param(_header(), id="empty-body"),
    ],
)
def test_a_body_that_does_not_decode_is_malformed(data: bytes) -> None:
    assert _decode_error(data).reason is DecodeReason.MALFORMED_BODY


def test_a_union_branch_the_schema_does_not_have_is_malformed() -> None:
    record = contribution_to_avro(examples.withdrawal())
    data = bytearray(codec.encode("Contribution", record))
    payload_index = len(data) - len("Fermeture définitive".encode()) - 2
    assert data[payload_index] == 4  # zig-zag of branch 2, OfferWithdrawn
    data[payload_index] = 40
    assert _decode_error(bytes(data)).reason is DecodeReason.MALFORMED_BODY


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("payload", 1, "offer_type"), "XYZ"),
        (("payload", 1, "fields", "names", 2, "source"), "robot"),
        (("payload", 1, "fields", "opening", 1, "weekdays", 0), "monday"),
        (("payload", 1, "fields", "diffusion"), "secret"),
    ],
)
def test_a_value_outside_the_model_is_invalid_and_names_its_field(
    path: tuple[str | int, ...], value: str
) -> None:
    record = contribution_to_avro(examples.rich_creation())
    target: Any = record
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    data = codec.encode("Contribution", record)
    with pytest.raises(DecodeError) as caught:
        codec.decode_contribution(data)
    assert caught.value.reason is DecodeReason.INVALID_VALUE
    assert repr(value) in str(caught.value)
    assert "cdt-14:HOTNOR0140000123:7" in str(caught.value)  # the event id


def _outcome(data: bytes) -> str:
    """What decoding does with these bytes; any exception but DecodeError escapes the test."""
    try:
        codec.decode_contribution(data)
    except DecodeError as error:
        return error.reason.value
    return "decoded"


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=64))
def test_any_bytes_after_a_valid_header_decode_or_raise_a_decode_error(body: bytes) -> None:
    assert _outcome(_header() + body) in {"decoded", "malformed_body", "invalid_value"}


@settings(max_examples=100, deadline=None)
@given(position=st.integers(min_value=0), flip=st.integers(min_value=1, max_value=255))
def test_a_corrupted_message_decodes_or_raises_a_decode_error(position: int, flip: int) -> None:
    data = bytearray(_valid())
    data[position % len(data)] ^= flip
    assert _outcome(bytes(data)) in {"decoded", *DecodeReason}


# ---------------------------------------------------------------- encode errors


def test_a_naive_event_time_is_refused_at_encoding_with_its_field() -> None:
    naive = Contribution(
        **{**examples.withdrawal().__dict__, "occurred_at": datetime(2025, 3, 14, 9, 30)}  # noqa: DTZ001
    )
    with pytest.raises(RecordError) as caught:
        codec.encode_contribution(naive)
    assert caught.value.field_path == "occurred_at"


def test_a_price_with_three_decimals_is_refused_at_encoding_with_its_path() -> None:
    fields = OfferFields(prices=Prices(lines=(PriceLine("Entrée", Decimal("12.505")),)))
    contribution = examples.contribution(OfferCreated(OfferType.LOI, fields))
    with pytest.raises(RecordError) as caught:
        codec.encode_contribution(contribution)
    assert caught.value.field_path == "payload.fields.prices.lines[0].minimum"


def test_a_generic_record_missing_a_field_is_refused() -> None:
    record = examples.rejection_record()
    del record["message"]
    with pytest.raises(RecordError, match="Rejection"):
        codec.encode("Rejection", record)


def test_a_generic_record_with_a_field_the_schema_lacks_is_refused() -> None:
    with pytest.raises(RecordError, match="Rejection"):
        codec.encode("Rejection", {**examples.rejection_record(), "severity": "high"})


def test_a_generic_record_with_a_naive_time_is_refused_with_its_path() -> None:
    record = examples.registry_event_record()
    record["valid_from"] = datetime(2025, 1, 1)  # noqa: DTZ001
    with pytest.raises(RecordError) as caught:
        codec.encode("RegistryEvent", record)
    assert caught.value.field_path == "valid_from"
