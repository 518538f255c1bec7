"""Codecs of the records that carry `hub.core` values: regional changes, rejections, ticks, the
boundary facts of a change and dead letters. A value that decodes but that the model refuses (a
version 0, an empty offer id, an unknown vocabulary word) raises `DecodeError` with reason
`invalid_value`, like bytes that do not decode at all, so every reader handles one error."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from hub.codec import DecodeError, DecodeReason, decode, encode, encode_record
from hub.core.clock import Tick
from hub.core.collection import Rejection
from hub.core.diffusion_rules import BoundaryFacts
from hub.core.regional import RegionalChange
from hub.record_error import RecordError
from hub.records import from_avro_record

T = TypeVar("T")


def _decoded(cls: type[T], record_name: str, data: bytes | None) -> T:
    record = decode(record_name, data)
    try:
        return from_avro_record(cls, record)
    except RecordError as error:
        raise DecodeError(
            DecodeReason.INVALID_VALUE, f"{record_name}: {error}", record_name=record_name
        ) from None


def encode_regional_change(change: RegionalChange) -> bytes:
    return encode_record("RegionalChange", change)


def decode_regional_change(data: bytes | None) -> RegionalChange:
    change = _decoded(RegionalChange, "RegionalChange", data)
    if not change.offer_id or change.version < 1:
        raise DecodeError(
            DecodeReason.INVALID_VALUE,
            f"RegionalChange of offer {change.offer_id!r} version {change.version}: a regional "
            "change names an offer and has a version of 1 or more",
            record_name="RegionalChange",
        )
    return change


def encode_rejection(rejection: Rejection) -> bytes:
    return encode_record("Rejection", rejection)


def decode_rejection(data: bytes | None) -> Rejection:
    return _decoded(Rejection, "Rejection", data)


def encode_tick(tick: Tick) -> bytes:
    return encode_record("Tick", tick)


def decode_tick(data: bytes | None) -> Tick:
    """A tick from a message written with any released `Tick` schema; raises `DecodeError`."""
    return _decoded(Tick, "Tick", data)


def encode_boundary_facts(facts: BoundaryFacts) -> bytes:
    return encode_record("BoundaryFacts", facts)


def decode_boundary_facts(data: bytes | None) -> BoundaryFacts:
    """Facts from a message written with any released `BoundaryFacts` schema; raises
    `DecodeError`."""
    return _decoded(BoundaryFacts, "BoundaryFacts", data)


def encode_dead_letter(
    *,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    reason: str,
    kind: str,
    failed_at: datetime,
) -> bytes:
    return encode(
        "DeadLetter",
        {
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "key": key,
            "value": value,
            "reason": reason,
            "error_kind": kind,
            "failed_at": failed_at,
        },
    )
