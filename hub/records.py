"""The mapping between the model's frozen dataclasses and plain records (dicts), in two shapes.

*Avro-shaped* records are what `hub.codec` hands to fastavro: `date`, `Decimal`, timezone-aware
`datetime`, lists for tuples, enums as their string values, and the contribution payload as
fastavro's union tuple ``(record fullname, record)``. *JSON-shaped* records are the JSON-lines
format of `sitn publish`: ISO-8601 strings for dates and datetimes (UTC, ``Z``), prices as strings
with two decimals (``"12.50"``), the payload as ``{"type": "created"|"changed"|"withdrawn"|
"deleted", ...}``, and optional fields left out when unset.

One reflection-based converter walks the dataclasses' type hints for both shapes, so a field added
to the model is mapped without code here. Guarantees: reading validates every value (types, enum
values, finite numbers, aware datetimes, prices that fit the wire's ``decimal(12, 2)``) and fails
with one `RecordError` naming the offending field path (``payload.fields.prices.lines[1].minimum``);
writing validates the same way, so nothing the wire cannot carry reaches fastavro; JSON objects with
unknown keys are refused (a typo is an error, not a silently dropped field);
``from_*(to_*(x)) == x``.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import MISSING, fields, is_dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Final, Literal, TypeVar, get_args, get_origin, get_type_hints

from hub.core.contribution import (
    Contribution,
    CustomerRecord,
    FieldGroupsChanged,
    OfferCreated,
    OfferDeleted,
    OfferWithdrawn,
)
from hub.core.offer import OfferFields

AVRO_NAMESPACE: Final = "org.sitn.hub"

# The wire's `decimal` logical type for prices: 12 digits, 2 after the point.
PRICE_PRECISION: Final = 12
PRICE_SCALE: Final = 2
_PRICE_QUANTUM: Final = Decimal(1).scaleb(-PRICE_SCALE)
_PRICE_LIMIT: Final = Decimal(10) ** (PRICE_PRECISION - PRICE_SCALE)

# Every integer on the wire is an Avro long.
_LONG_MIN: Final = -(2**63)
_LONG_MAX: Final = 2**63 - 1

# The JSON `type` tag of each payload kind; on the Avro side the tag is the record's fullname.
PAYLOAD_TAGS: Final[Mapping[type, str]] = {
    OfferCreated: "created",
    FieldGroupsChanged: "changed",
    OfferWithdrawn: "withdrawn",
    OfferDeleted: "deleted",
}

Shape = Literal["avro", "json"]
T = TypeVar("T")


class RecordError(ValueError):
    """A record that does not fit the model: `field_path` names where, `message` says what to do."""

    def __init__(self, field_path: str, message: str, *, record_id: str | None = None) -> None:
        self.field_path = field_path
        self.message = message
        self.record_id = record_id
        where = f"{field_path}: " if field_path else ""
        prefix = f"event {record_id}: " if record_id else ""
        super().__init__(f"{prefix}{where}{message}")


# ---------------------------------------------------------------- public API


def contribution_to_json(contribution: Contribution) -> dict[str, object]:
    """The JSON-lines shape of a contribution (what `sitn publish` reads)."""
    return to_json_record(contribution)


def contribution_from_json(data: object) -> Contribution:
    """A contribution from its JSON shape (e.g. one parsed line); raises `RecordError`."""
    return from_json_record(Contribution, data)


def contribution_to_avro(contribution: Contribution) -> dict[str, object]:
    """The Avro shape of a contribution, for the `Contribution` schema."""
    return to_avro_record(contribution)


def contribution_from_avro(data: object) -> Contribution:
    """A contribution from a record fastavro read with the `Contribution` schema."""
    return from_avro_record(Contribution, data)


def customer_record_to_json(record: CustomerRecord) -> dict[str, object]:
    return to_json_record(record)


def customer_record_from_json(data: object) -> CustomerRecord:
    return from_json_record(CustomerRecord, data)


def customer_record_to_avro(record: CustomerRecord) -> dict[str, object]:
    return to_avro_record(record)


def customer_record_from_avro(data: object) -> CustomerRecord:
    return from_avro_record(CustomerRecord, data)


def offer_fields_to_avro(offer_fields: OfferFields) -> dict[str, object]:
    """The Avro shape of `OfferFields`, as in `RegionalChange.state` or `DiffusionChange.view`."""
    return to_avro_record(offer_fields)


def offer_fields_from_avro(data: object) -> OfferFields:
    return from_avro_record(OfferFields, data)


def offer_fields_to_json(offer_fields: OfferFields) -> dict[str, object]:
    return to_json_record(offer_fields)


def offer_fields_from_json(data: object) -> OfferFields:
    return from_json_record(OfferFields, data)


def to_avro_record(value: object) -> dict[str, object]:
    """Any model dataclass instance as an Avro-shaped record."""
    return _dump_record(value, "", "avro")


def from_avro_record(cls: type[T], data: object) -> T:
    """An instance of the model dataclass `cls` from an Avro-shaped record."""
    return _load_top(cls, data, "avro")


def to_json_record(value: object) -> dict[str, object]:
    """Any model dataclass instance as a JSON-shaped record (ready for `json.dumps`)."""
    return _dump_record(value, "", "json")


def from_json_record(cls: type[T], data: object) -> T:
    """An instance of the model dataclass `cls` from a JSON-shaped record."""
    return _load_top(cls, data, "json")


# ---------------------------------------------------------------- writing


def _dump_record(value: object, path: str, shape: Shape) -> dict[str, object]:
    if not is_dataclass(value) or isinstance(value, type):
        raise RecordError(path, f"expected a model record, got {type(value).__name__}")
    out: dict[str, object] = {}
    for name, hint in _hints(type(value)).items():
        item = _dump(getattr(value, name), hint, _join(path, name), shape)
        # JSON leaves unset optional fields out, for records people read and write by hand.
        if item is not None or shape == "avro":
            out[name] = item
    return out


def _dump(value: object, hint: Any, path: str, shape: Shape) -> object:
    origin = get_origin(hint)
    if origin is types.UnionType or origin is typing.Union:
        options = tuple(arg for arg in get_args(hint) if arg is not type(None))
        if value is None:
            if len(options) < len(get_args(hint)):
                return None
            raise RecordError(path, "is required")
        if len(options) == 1:
            return _dump(value, options[0], path, shape)
        return _dump_tagged(value, options, path, shape)
    if value is None:
        raise RecordError(path, "is required")
    if origin is tuple:
        if not isinstance(value, tuple | list):
            raise RecordError(path, f"expected a tuple, got {type(value).__name__}")
        item_hint = get_args(hint)[0]
        return [_dump(item, item_hint, f"{path}[{i}]", shape) for i, item in enumerate(value)]
    if isinstance(hint, type) and is_dataclass(hint):
        if not isinstance(value, hint):
            raise RecordError(path, f"expected {hint.__name__}, got {type(value).__name__}")
        return _dump_record(value, path, shape)
    return _dump_leaf(value, hint, path, shape)


def _dump_tagged(value: object, options: tuple[Any, ...], path: str, shape: Shape) -> object:
    cls = type(value)
    if cls not in options:
        expected = ", ".join(option.__name__ for option in options)
        raise RecordError(path, f"expected one of {expected}, got {cls.__name__}")
    record = _dump_record(value, path, shape)
    if shape == "json":
        return {"type": PAYLOAD_TAGS[cls], **record}
    return (f"{AVRO_NAMESPACE}.{cls.__name__}", record)


def _dump_leaf(value: object, hint: Any, path: str, shape: Shape) -> object:
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        return _enum(value, hint, path).value
    if hint is str:
        return _expect(value, str, path)
    if hint is bool:
        return _expect(value, bool, path)
    if hint is int:
        return _long(value, path)
    if hint is float:
        return _double(value, path)
    if hint is Decimal:
        price = _price(value, path)
        return price if shape == "avro" else str(price)
    if hint is datetime:
        moment = _aware(value, path)
        return moment if shape == "avro" else _iso_utc(moment)
    if hint is date:
        day = _day(value, path)
        return day if shape == "avro" else day.isoformat()
    raise TypeError(f"{path}: no wire mapping for type {hint!r}")  # a model change to map here


# ---------------------------------------------------------------- reading


def _load_top(cls: type[T], data: object, shape: Shape) -> T:
    try:
        loaded = _load_record(data, cls, "", shape)
    except RecordError as error:
        record_id = data.get("event_id") if isinstance(data, Mapping) else None
        if isinstance(record_id, str) and error.record_id is None:
            raise RecordError(error.field_path, error.message, record_id=record_id) from None
        raise
    return typing.cast(T, loaded)  # _load builds exactly the hinted class


def _load(data: object, hint: Any, path: str, shape: Shape) -> object:
    origin = get_origin(hint)
    if origin is types.UnionType or origin is typing.Union:
        options = tuple(arg for arg in get_args(hint) if arg is not type(None))
        if data is None:
            if len(options) < len(get_args(hint)):
                return None
            raise RecordError(path, "is required")
        if len(options) == 1:
            return _load(data, options[0], path, shape)
        return _load_tagged(data, options, path, shape)
    if data is None:
        raise RecordError(path, "is required (null is not allowed here)")
    if origin is tuple:
        if not isinstance(data, list | tuple):
            raise RecordError(path, f"expected a list, got {_kind(data)}")
        item_hint = get_args(hint)[0]
        return tuple(_load(item, item_hint, f"{path}[{i}]", shape) for i, item in enumerate(data))
    if isinstance(hint, type) and is_dataclass(hint):
        return _load_record(data, hint, path, shape)
    return _load_leaf(data, hint, path, shape)


def _load_record(data: object, cls: type[Any], path: str, shape: Shape) -> object:
    if not isinstance(data, Mapping):
        raise RecordError(path, f"expected an object ({cls.__name__}), got {_kind(data)}")
    hints = _hints(cls)
    unknown = [key for key in data if key not in hints]
    if unknown:
        raise RecordError(
            _join(path, str(unknown[0])),
            f"is not a field of {cls.__name__} (fields: {', '.join(hints)})",
        )
    values: dict[str, object] = {}
    for item in fields(cls):
        field_path = _join(path, item.name)
        if item.name in data:
            values[item.name] = _load(data[item.name], hints[item.name], field_path, shape)
        elif item.default is MISSING and item.default_factory is MISSING:
            if not _is_optional(hints[item.name]):
                raise RecordError(field_path, "is required")
            values[item.name] = None  # JSON leaves unset optional fields out
    return cls(**values)


def _load_tagged(data: object, options: tuple[Any, ...], path: str, shape: Shape) -> object:
    if shape == "json":
        tags = {PAYLOAD_TAGS[option]: option for option in options}
        if not isinstance(data, Mapping):
            raise RecordError(path, f"expected an object with a 'type', got {_kind(data)}")
        tag = data.get("type")
        if not isinstance(tag, str) or tag not in tags:
            raise RecordError(_join(path, "type"), f"must be one of {', '.join(tags)}, not {tag!r}")
        body = {key: value for key, value in data.items() if key != "type"}
        return _load_record(body, tags[tag], path, shape)
    names = {f"{AVRO_NAMESPACE}.{option.__name__}": option for option in options}
    if not (isinstance(data, tuple) and len(data) == 2 and str(data[0]) in names):
        raise RecordError(path, f"expected one of {', '.join(names)}")
    return _load_record(data[1], names[str(data[0])], path, shape)


def _load_leaf(data: object, hint: Any, path: str, shape: Shape) -> object:
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        return _enum(data, hint, path)
    if hint is str:
        return _expect(data, str, path)
    if hint is bool:
        return _expect(data, bool, path)
    if hint is int:
        return _long(data, path)
    if hint is float:
        return _double(data, path)
    if hint is Decimal:
        if shape == "json":
            if not isinstance(data, str):
                raise RecordError(
                    path, f'write a price as a string like "12.50", not {_kind(data)}'
                )
            try:
                data = Decimal(data)
            except InvalidOperation:
                raise RecordError(path, f'{data!r} is not a price like "12.50"') from None
        return _price(data, path)
    if hint is datetime:
        if shape == "json":
            data = _parse_iso(data, datetime.fromisoformat, "2024-05-01T10:00:00Z", path)
        return _aware(data, path).astimezone(UTC)
    if hint is date:
        if shape == "json":
            data = _parse_iso(data, date.fromisoformat, "2024-05-01", path)
        return _day(data, path)
    raise TypeError(f"{path}: no wire mapping for type {hint!r}")  # a model change to map here


# ---------------------------------------------------------------- values


def _expect(value: object, kind: type[T], path: str) -> T:
    # bool is an int in Python; neither may stand for the other on the wire.
    if isinstance(value, kind) and (kind is bool or not isinstance(value, bool)):
        return value
    raise RecordError(path, f"expected {_NAMES.get(kind, kind.__name__)}, got {_kind(value)}")


def _enum(value: object, enum: type[StrEnum], path: str) -> StrEnum:
    if isinstance(value, str):
        try:
            return enum(value)
        except ValueError:
            pass
    allowed = ", ".join(member.value for member in enum)
    raise RecordError(path, f"{value!r} is not a {enum.__name__} value; use one of: {allowed}")


def _long(value: object, path: str) -> int:
    number = _expect(value, int, path)
    if not _LONG_MIN <= number <= _LONG_MAX:
        raise RecordError(path, f"{number} does not fit a 64-bit integer")
    return number


def _double(value: object, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RecordError(path, f"expected a number, got {_kind(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise RecordError(path, f"{value} is not a finite number")
    return number


def _price(value: object, path: str) -> Decimal:
    price = _expect(value, Decimal, path)
    if not price.is_finite():
        raise RecordError(path, f"{price} is not a finite price")
    if abs(price) >= _PRICE_LIMIT:
        raise RecordError(path, f"{price} is too large: prices stay below {_PRICE_LIMIT}")
    quantized = price.quantize(_PRICE_QUANTUM)
    if quantized != price:
        raise RecordError(path, f"{price} has more than {PRICE_SCALE} decimal places")
    return quantized


def _aware(value: object, path: str) -> datetime:
    moment = _expect(value, datetime, path)
    if moment.utcoffset() is None:
        raise RecordError(path, f"{moment.isoformat()} has no UTC offset; give one, e.g. Z")
    return moment


def _day(value: object, path: str) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise RecordError(path, f"expected a date, got {_kind(value)}")
    return value


def _parse_iso(value: object, parse: Callable[[str], object], example: str, path: str) -> object:
    if not isinstance(value, str):
        raise RecordError(path, f"expected an ISO-8601 string like {example}, got {_kind(value)}")
    try:
        return parse(value)
    except ValueError:
        raise RecordError(path, f"{value!r} is not ISO-8601 like {example}") from None


def _iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


_NAMES: Final[Mapping[type, str]] = {
    str: "a string",
    bool: "true or false",
    int: "an integer",
    Decimal: "a Decimal",
    datetime: "a datetime",
}


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _is_optional(hint: Any) -> bool:
    return get_origin(hint) in (types.UnionType, typing.Union) and type(None) in get_args(hint)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


_HINTS: dict[type[Any], dict[str, Any]] = {}


def _hints(cls: type[Any]) -> dict[str, Any]:
    """The resolved field types of a model dataclass, in field order (resolved once per class)."""
    if cls not in _HINTS:
        resolved = get_type_hints(cls)
        _HINTS[cls] = {item.name: resolved[item.name] for item in fields(cls)}
    return _HINTS[cls]
