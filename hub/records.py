"""The mapping between the model's frozen dataclasses and plain records (dicts), in two shapes.

*Avro-shaped* records are what `hub.codec` hands to fastavro: `date`, `Decimal`, timezone-aware
`datetime`, lists for tuples, enums as their string values, and the contribution payload as
fastavro's union tuple ``(record fullname, record)``. *JSON-shaped* records are the JSON-lines
format of `sitn publish`: ISO-8601 strings for dates and datetimes (UTC, ``Z``), prices as strings
with two decimals (``"12.50"``), the payload as ``{"type": "created"|"changed"|"withdrawn"|
"deleted", ...}``, and optional fields left out when unset.

Reading an Avro shape is `hub.msgspec_records`' job (by msgspec; `from_avro_record` hands it
over); this module writes both shapes and reads JSON. The dataclasses' type hints drive the
mapping, so a field added to the model is mapped without code here. They are read once per class,
shape and direction: each field gets a
converter (a closure) built from its hint, and converting a record only runs those. Converters
know no field path; a refused value raises inside them and each enclosing record or list adds its
step as the error unwinds, so paths cost nothing unless a value is refused.

Guarantees: reading validates every value (types, enum values, finite numbers, aware datetimes,
prices that fit the wire's ``decimal(12, 2)``) and fails with one `RecordError` naming the
offending field path (``payload.fields.prices.lines[1].minimum``); writing validates the same way,
so nothing the wire cannot carry reaches fastavro, and in particular no naive datetime (the codec
relies on it to skip its own check); JSON objects with unknown keys are refused (a typo is an
error, not a silently dropped field); ``from_*(to_*(x)) == x``.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, fields, is_dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Final, Literal, TypeVar, get_args, get_origin, get_type_hints

from hub import msgspec_records
from hub.core.contribution import (
    Contribution,
    CustomerRecord,
    FieldGroupsChanged,
    OfferCreated,
    OfferDeleted,
    OfferWithdrawn,
)
from hub.core.offer import OfferFields
from hub.record_error import PRICE_LIMIT, PRICE_QUANTUM, PRICE_SCALE, RecordError

AVRO_NAMESPACE: Final = "org.sitn.hub"

# The wire's `decimal` logical type for prices (12 digits, 2 after the point) is in record_error.
_PRICE_QUANTUM: Final = PRICE_QUANTUM
_PRICE_LIMIT: Final = PRICE_LIMIT

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

# The Avro type each leaf is written as: the branch name of an optional value's union.
_AVRO_TYPES: Final[Mapping[type, str]] = {
    str: "string",
    bool: "boolean",
    int: "long",
    float: "double",
    Decimal: "bytes",  # logicalType decimal
    datetime: "long",  # logicalType timestamp-micros
    date: "int",  # logicalType date
}

Shape = Literal["avro", "json"]
T = TypeVar("T")


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


def to_avro_record(value: object, *, tagged_unions: bool = False) -> dict[str, object]:
    """Any model dataclass instance as an Avro-shaped record.

    With `tagged_unions`, every set optional value is also given as fastavro's union tuple
    ``(branch, value)`` (``("string", "Deauville")``, ``("org.sitn.hub.Prices", {...})``): fastavro
    then writes it without validating the value against each branch first, which is most of its
    time. The bytes are the same; `hub.codec.encode_record` writes this form.
    """
    return _write_top(value, "avro", tagged_unions)


def from_avro_record(cls: type[T], data: object) -> T:
    """An instance of the model dataclass `cls` from an Avro-shaped record (by msgspec)."""
    return msgspec_records.read(cls, data)


def to_json_record(value: object) -> dict[str, object]:
    """Any model dataclass instance as a JSON-shaped record (ready for `json.dumps`)."""
    return _write_top(value, "json", False)


def from_json_record(cls: type[T], data: object) -> T:
    """An instance of the model dataclass `cls` from a JSON-shaped record."""
    return _read_top(cls, data)


# ---------------------------------------------------------------- refusals inside converters

_Convert = Callable[[Any], Any]

# How a null where a value is required reads: leaf checks are shared by both directions.
_NULL_WRITTEN: Final = "is required"
_NULL_READ: Final = "is required (null is not allowed here)"


class _Misfit(Exception):
    """A value a converter refuses; becomes a `RecordError` (or `TypeError`) at the public API.

    `message` None means a null where a value is required. `steps` is the field path, innermost
    step first: each record adds its field name and each list its index as the error passes.
    """

    def __init__(self, message: str | None, *steps: str | int, unmapped: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.steps = list(steps)
        self.unmapped = unmapped  # a type with no wire mapping: a model change to map here

    def error(self, null_message: str, record_id: str | None = None) -> Exception:
        path = ""
        for step in reversed(self.steps):
            path = f"{path}[{step}]" if isinstance(step, int) else _join(path, step)
        message = null_message if self.message is None else self.message
        if self.unmapped:
            return TypeError(f"{path}: {message}")
        return RecordError(path, message, record_id=record_id)


def _null() -> _Misfit:
    return _Misfit(None)


# ---------------------------------------------------------------- writing


def _write_top(value: object, shape: Shape, tagged: bool) -> dict[str, object]:
    try:
        return _write_any_record(value, shape, tagged)
    except _Misfit as misfit:
        raise misfit.error(_NULL_WRITTEN) from None


def _write_any_record(value: object, shape: Shape, tagged: bool) -> dict[str, object]:
    if not is_dataclass(value) or isinstance(value, type):
        raise _Misfit(f"expected a model record, got {type(value).__name__}")
    return _record_writer(type(value), shape, tagged)(value)


_RecordWriter = Callable[[object], dict[str, object]]
_RECORD_WRITERS: dict[tuple[type[Any], Shape, bool], _RecordWriter] = {}


def _record_writer(cls: type[Any], shape: Shape, tagged: bool) -> _RecordWriter:
    """The writer of `cls` records, compiled on first use (a race compiles it twice, harmlessly)."""
    key = (cls, shape, tagged)
    writer = _RECORD_WRITERS.get(key)
    if writer is None:
        writer = _RECORD_WRITERS[key] = _compile_record_writer(cls, shape, tagged)
    return writer


def _compile_record_writer(cls: type[Any], shape: Shape, tagged: bool) -> _RecordWriter:
    plan = tuple((name, _writer(hint, shape, tagged)) for name, hint in _hints(cls).items())

    def write_avro(value: object) -> dict[str, object]:
        out: dict[str, object] = {}
        name = ""
        try:
            for name, convert in plan:
                out[name] = convert(getattr(value, name))
        except _Misfit as misfit:
            misfit.steps.append(name)
            raise
        return out

    def write_json(value: object) -> dict[str, object]:
        out: dict[str, object] = {}
        name = ""
        try:
            for name, convert in plan:
                item = convert(getattr(value, name))
                # JSON leaves unset optional fields out, for records people read and write by hand.
                if item is not None:
                    out[name] = item
        except _Misfit as misfit:
            misfit.steps.append(name)
            raise
        return out

    return write_avro if shape == "avro" else write_json


def _writer(hint: Any, shape: Shape, tagged: bool) -> _Convert:
    origin = get_origin(hint)
    if origin is types.UnionType or origin is typing.Union:
        options = tuple(arg for arg in get_args(hint) if arg is not type(None))
        optional = len(options) < len(get_args(hint))
        if len(options) > 1:
            return _tagged_writer(options, optional, shape, tagged)
        convert = _writer(options[0], shape, tagged)
        branch = _avro_branch(options[0]) if tagged else None
        if branch is not None:
            return lambda value: None if value is None else (branch, convert(value))
        return lambda value: None if value is None else convert(value)
    if origin is tuple:
        return _sequence_writer(_writer(get_args(hint)[0], shape, tagged))
    if isinstance(hint, type) and is_dataclass(hint):
        return _nested_writer(hint, shape, tagged)
    return _leaf_writer(hint, shape)


def _tagged_writer(
    options: tuple[Any, ...], optional: bool, shape: Shape, tagged: bool
) -> _Convert:
    expected = ", ".join(option.__name__ for option in options)

    def write(value: object) -> object:
        if value is None:
            if optional:
                return None
            raise _Misfit("is required")
        cls = type(value)
        if cls not in options:
            raise _Misfit(f"expected one of {expected}, got {cls.__name__}")
        record = _write_any_record(value, shape, tagged)
        if shape == "json":
            return {"type": PAYLOAD_TAGS[cls], **record}
        return (f"{AVRO_NAMESPACE}.{cls.__name__}", record)

    return write


def _sequence_writer(convert: _Convert) -> _Convert:
    def write(value: object) -> list[object]:
        if not isinstance(value, tuple | list):
            if value is None:
                raise _null()
            raise _Misfit(f"expected a tuple, got {type(value).__name__}")
        out: list[object] = []
        try:
            for item in value:
                out.append(convert(item))
        except _Misfit as misfit:
            misfit.steps.append(len(out))
            raise
        return out

    return write


def _nested_writer(cls: type[Any], shape: Shape, tagged: bool) -> _Convert:
    # Looked up on first use, not now: a model type may contain itself.
    exact: _RecordWriter | None = None

    def write(value: object) -> dict[str, object]:
        nonlocal exact
        if type(value) is cls:
            if exact is None:
                exact = _record_writer(cls, shape, tagged)
            return exact(value)
        if value is None:
            raise _null()
        if not isinstance(value, cls):
            raise _Misfit(f"expected {cls.__name__}, got {type(value).__name__}")
        return _record_writer(type(value), shape, tagged)(value)

    return write


def _leaf_writer(hint: Any, shape: Shape) -> _Convert:
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        return _enum_writer(hint)
    if hint is Decimal:
        return _price if shape == "avro" else lambda value: str(_price(value))
    if hint is datetime:
        return _aware if shape == "avro" else lambda value: _iso_utc(_aware(value))
    if hint is date:
        return _day if shape == "avro" else lambda value: _day(value).isoformat()
    return _LEAF_CHECKS.get(hint) or _unmapped(hint)


def _enum_writer(enum: type[StrEnum]) -> _Convert:
    values = {member.value: member.value for member in enum}

    def write(value: object) -> str:
        if isinstance(value, str):
            found = values.get(value)
            if found is not None:
                return found
        return _enum(value, enum).value

    return write


def _avro_branch(hint: Any) -> str | None:
    """The name fastavro gives the union branch of a value of `hint` (None: leave it untagged)."""
    if get_origin(hint) is tuple:
        return "array"
    if isinstance(hint, type) and is_dataclass(hint):
        return f"{AVRO_NAMESPACE}.{hint.__name__}"
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        return "string"
    return _AVRO_TYPES.get(hint)


# ---------------------------------------------------------------- reading


def _read_top(cls: type[T], data: object) -> T:
    try:
        loaded = _record_reader(cls)(data)
    except _Misfit as misfit:
        record_id = data.get("event_id") if isinstance(data, Mapping) else None
        raise misfit.error(_NULL_READ, record_id if isinstance(record_id, str) else None) from None
    return typing.cast(T, loaded)  # the reader builds exactly `cls`


_ABSENT: Final = object()
# What a record without a field does: take the default, take null (JSON leaves unset optional
# fields out), or refuse.
_DEFAULT, _NONE, _REFUSE = range(3)


_RECORD_READERS: dict[type[Any], _Convert] = {}


def _record_reader(cls: type[Any]) -> _Convert:
    """The reader of `cls` records, compiled on first use (a race compiles it twice, harmlessly)."""
    reader = _RECORD_READERS.get(cls)
    if reader is None:
        reader = _RECORD_READERS[cls] = _compile_record_reader(cls)
    return reader


def _compile_record_reader(cls: type[Any]) -> _Convert:
    hints = _hints(cls)
    plan = tuple(
        (item.name, _reader(hints[item.name]), _when_absent(item, hints[item.name]))
        for item in fields(cls)
    )
    names = frozenset(hints)

    def read(data: object) -> object:
        if type(data) is not dict and not isinstance(data, Mapping):
            raise _Misfit(f"expected an object ({cls.__name__}), got {_kind(data)}")
        if not data.keys() <= names:
            unknown = next(key for key in data if key not in hints)
            raise _Misfit(
                f"is not a field of {cls.__name__} (fields: {', '.join(hints)})", str(unknown)
            )
        values: dict[str, object] = {}
        name = ""
        try:
            for name, convert, when_absent in plan:
                item = data.get(name, _ABSENT)
                if item is not _ABSENT:
                    values[name] = convert(item)
                elif when_absent == _NONE:
                    values[name] = None
                elif when_absent == _REFUSE:
                    raise _Misfit("is required")
        except _Misfit as misfit:
            misfit.steps.append(name)
            raise
        return cls(**values)

    return read


def _when_absent(item: Field[Any], hint: Any) -> int:
    if item.default is not MISSING or item.default_factory is not MISSING:
        return _DEFAULT
    optional = get_origin(hint) in (types.UnionType, typing.Union) and type(None) in get_args(hint)
    return _NONE if optional else _REFUSE


def _reader(hint: Any) -> _Convert:
    origin = get_origin(hint)
    if origin is types.UnionType or origin is typing.Union:
        options = tuple(arg for arg in get_args(hint) if arg is not type(None))
        optional = len(options) < len(get_args(hint))
        if len(options) > 1:
            return _tagged_reader(options, optional)
        convert = _reader(options[0])
        return lambda data: None if data is None else convert(data)
    if origin is tuple:
        return _sequence_reader(_reader(get_args(hint)[0]))
    if isinstance(hint, type) and is_dataclass(hint):
        return _nested_reader(hint)
    return _leaf_reader(hint)


def _tagged_reader(options: tuple[Any, ...], optional: bool) -> _Convert:
    def read(data: object) -> object:
        if data is None:
            if optional:
                return None
            raise _Misfit("is required")
        return _read_json_tagged(data, options)

    return read


def _read_json_tagged(data: object, options: tuple[Any, ...]) -> object:
    tags = {PAYLOAD_TAGS[option]: option for option in options}
    if not isinstance(data, Mapping):
        raise _Misfit(f"expected an object with a 'type', got {_kind(data)}")
    tag = data.get("type")
    if not isinstance(tag, str) or tag not in tags:
        raise _Misfit(f"must be one of {', '.join(tags)}, not {tag!r}", "type")
    body = {key: value for key, value in data.items() if key != "type"}
    return _record_reader(tags[tag])(body)


def _sequence_reader(convert: _Convert) -> _Convert:
    def read(data: object) -> tuple[object, ...]:
        if not isinstance(data, list | tuple):
            if data is None:
                raise _null()
            raise _Misfit(f"expected a list, got {_kind(data)}")
        out: list[object] = []
        try:
            for item in data:
                out.append(convert(item))
        except _Misfit as misfit:
            misfit.steps.append(len(out))
            raise
        return tuple(out)

    return read


def _nested_reader(cls: type[Any]) -> _Convert:
    # Looked up on first use, not now: a model type may contain itself.
    read_record: _Convert | None = None

    def read(data: object) -> object:
        nonlocal read_record
        if data is None:
            raise _null()
        if read_record is None:
            read_record = _record_reader(cls)
        return read_record(data)

    return read


def _leaf_reader(hint: Any) -> _Convert:
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        return _enum_reader(hint)
    if hint is Decimal:
        return _price_text
    if hint is datetime:
        return lambda data: _aware(
            _parse_iso(data, datetime.fromisoformat, "2024-05-01T10:00:00Z")
        ).astimezone(UTC)
    if hint is date:
        return lambda data: _day(_parse_iso(data, date.fromisoformat, "2024-05-01"))
    return _LEAF_CHECKS.get(hint) or _unmapped(hint)


def _enum_reader(enum: type[StrEnum]) -> _Convert:
    members = {member.value: member for member in enum}

    def read(data: object) -> StrEnum:
        if type(data) is str:
            found = members.get(data)
            if found is not None:
                return found
        return _enum(data, enum)

    return read


# ---------------------------------------------------------------- values
# Each check serves both directions: it returns the value as the model and the Avro shape have it,
# or raises `_Misfit` (a null as "required", worded per direction). The exact type comes first: it
# is the common case and costs one comparison.


def _text(value: object) -> str:
    return value if type(value) is str else _expect(value, str)


def _flag(value: object) -> bool:
    return value if value is True or value is False else _expect(value, bool)


def _long(value: object) -> int:
    if type(value) is int and _LONG_MIN <= value <= _LONG_MAX:
        return value
    number = _expect(value, int)
    if not _LONG_MIN <= number <= _LONG_MAX:
        raise _Misfit(f"{number} does not fit a 64-bit integer")
    return number


def _double(value: object) -> float:
    if type(value) is float and math.isfinite(value):
        return value
    if value is None:
        raise _null()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Misfit(f"expected a number, got {_kind(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise _Misfit(f"{value} is not a finite number")
    return number


def _price(value: object) -> Decimal:
    price = value if type(value) is Decimal else _expect(value, Decimal)
    if not price.is_finite():
        raise _Misfit(f"{price} is not a finite price")
    if abs(price) >= _PRICE_LIMIT:
        raise _Misfit(f"{price} is too large: prices stay below {_PRICE_LIMIT}")
    quantized = price.quantize(_PRICE_QUANTUM)
    if quantized != price:
        raise _Misfit(f"{price} has more than {PRICE_SCALE} decimal places")
    return quantized


def _price_text(value: object) -> Decimal:
    if value is None:
        raise _null()
    if not isinstance(value, str):
        raise _Misfit(f'write a price as a string like "12.50", not {_kind(value)}')
    try:
        price = Decimal(value)
    except InvalidOperation:
        raise _Misfit(f'{value!r} is not a price like "12.50"') from None
    return _price(price)


def _aware(value: object) -> datetime:
    if type(value) is datetime and value.utcoffset() is not None:
        return value
    moment = _expect(value, datetime)
    if moment.utcoffset() is None:
        raise _Misfit(f"{moment.isoformat()} has no UTC offset; give one, e.g. Z")
    return moment


def _day(value: object) -> date:
    if type(value) is date:
        return value
    if value is None:
        raise _null()
    if isinstance(value, datetime) or not isinstance(value, date):
        raise _Misfit(f"expected a date, got {_kind(value)}")
    return value


_LEAF_CHECKS: Final[Mapping[type, _Convert]] = {
    str: _text,
    bool: _flag,
    int: _long,
    float: _double,
}


def _unmapped(hint: Any) -> _Convert:
    def refuse(value: object) -> object:
        if value is None:
            raise _null()
        raise _Misfit(f"no wire mapping for type {hint!r}", unmapped=True)

    return refuse


def _expect(value: object, kind: type[T]) -> T:
    if value is None:
        raise _null()
    # bool is an int in Python; neither may stand for the other on the wire.
    if isinstance(value, kind) and (kind is bool or not isinstance(value, bool)):
        return value
    raise _Misfit(f"expected {_NAMES.get(kind, kind.__name__)}, got {_kind(value)}")


def _enum(value: object, enum: type[StrEnum]) -> StrEnum:
    if value is None:
        raise _null()
    if isinstance(value, str):
        try:
            return enum(value)
        except ValueError:
            pass
    allowed = ", ".join(member.value for member in enum)
    raise _Misfit(f"{value!r} is not a {enum.__name__} value; use one of: {allowed}")


def _parse_iso(value: object, parse: Callable[[str], object], example: str) -> object:
    if value is None:
        raise _null()
    if not isinstance(value, str):
        raise _Misfit(f"expected an ISO-8601 string like {example}, got {_kind(value)}")
    try:
        return parse(value)
    except ValueError:
        raise _Misfit(f"{value!r} is not ISO-8601 like {example}") from None


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


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _hints(cls: type[Any]) -> dict[str, Any]:
    """The resolved field types of a model dataclass, in field order."""
    resolved = get_type_hints(cls)
    return {item.name: resolved[item.name] for item in fields(cls)}
