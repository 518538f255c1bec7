"""The model's dataclasses from Avro-shaped records, and as canonical JSON text, by msgspec.

`read(cls, data)` is the read path of every codec in `hub.wire` and `hub.codec`. msgspec's
`convert` in strict mode does the mapping: exact types (a string is not an integer), enum values,
required fields, nested records, lists to tuples; a refused value names its path. This module adds
only what msgspec cannot do, compiled once per class from the dataclasses' type hints (a field
added to the model needs no code here):

- **A field holding a union of several records** (`Contribution.payload`): msgspec takes unions of
  records only between its own tagged `Struct`s. fastavro gives such a union as ``(record
  fullname, record)``, so the branch is chosen by that name and converted alone; the record around
  it is converted through a dataclass derived from it without those fields.
- **What the model asks beyond types**: finite doubles, prices that fit the wire's
  ``decimal(12, 2)`` (finite, below 10^10, two places at most) and timezone-aware datetimes, checked
  only on the fields that hold them.

`json_text(value)` is the canonical JSON text of a model value without record unions (the feeds'
stored views): keys sorted, no spaces, non-ASCII kept, unset optional fields left out, prices as
strings with two places, dates ISO-8601: the shape `hub.records.to_json_record` gives, checked the
same way. msgspec writes dataclasses with every field, so the value is first converted into a
`Struct` mirror of its class (made once per class) whose optional fields default to None and are
omitted at their default. `read_json(cls, text)` reads such a text back, with the same checks.
Both are for the hub's own texts: records people write go through `hub.records`, which also
refuses unknown keys.

Guarantees: a record that does not fit raises `RecordError` whose `field_path` names the value
(``payload.fields.prices.lines[1].minimum``), with the event's id when the record has one;
``read(cls, avro_shape(x)) == x`` and ``read_json(type(x), json_text(x)) == x``. Integers need no
range check: Avro longs are 64-bit. Unknown keys cannot occur: fastavro reads with the hub's own
schema, whose fields are the model's.
"""

from __future__ import annotations

import math
import re
import types
import typing
from collections.abc import Callable
from dataclasses import MISSING, Field, dataclass, field, fields, is_dataclass, make_dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, TypeVar, get_args, get_origin, get_type_hints

import msgspec

from hub.record_error import PRICE_LIMIT, PRICE_QUANTUM, PRICE_SCALE, RecordError

__all__ = ["json_text", "read", "read_json"]

AVRO_NAMESPACE: Final = "org.sitn.hub"
T = TypeVar("T")

_Check = Callable[[Any], None]
# How each class is read, made on first use (msgspec caches its own part per type too).
_PLANS: Final[dict[type[Any], _Plan]] = {}
_AT: Final = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_MISSING: Final = re.compile(r"^Object missing required field `(?P<name>[^`]+)`$")


class _Bad(Exception):
    """A value a check refuses; `steps` is its path, innermost first (added as it unwinds)."""

    def __init__(self, message: str, *steps: str | int) -> None:
        super().__init__(message)
        self.message = message
        self.steps = list(steps)


def read(cls: type[T], data: object) -> T:
    """An instance of the model dataclass `cls` from an Avro-shaped record; raises `RecordError`."""
    try:
        return typing.cast(T, _plan(cls).read(data))
    except msgspec.ValidationError as error:
        raise _from_msgspec(str(error), _record_id(data)) from None
    except _Bad as bad:
        raise RecordError(_path(bad.steps), bad.message, record_id=_record_id(data)) from None


@dataclass(frozen=True)
class _Plan:
    """How to read one class: msgspec for all of it but its record unions, then the checks."""

    cls: type[Any]
    envelope: type[Any]  # `cls` itself, or derived from it without the record unions
    unions: tuple[tuple[str, dict[str, type[Any]]], ...]  # field -> {fullname: branch class}
    check: _Check | None

    def read(self, data: object) -> object:
        if not self.unions:
            value = msgspec.convert(data, self.cls, strict=True)
        else:
            if not isinstance(data, dict):
                raise _Bad(f"expected an object ({self.cls.__name__}), got {type(data).__name__}")
            rest = dict(data)
            branches = {name: _branch(rest.pop(name, None), name, of) for name, of in self.unions}
            envelope = msgspec.convert(rest, self.envelope, strict=True)
            value = self.cls(**vars(envelope), **branches)
        if self.check is not None:
            self.check(value)
        return value


def _plan(cls: type[Any]) -> _Plan:
    found = _PLANS.get(cls)
    if found is None:
        found = _PLANS[cls] = _new_plan(cls)
    return found


def _new_plan(cls: type[Any]) -> _Plan:
    hints = _hints(cls)
    unions = tuple((name, _record_union(hint)) for name, hint in hints.items())
    tagged = tuple((name, branches) for name, branches in unions if branches)
    envelope = cls
    if tagged:
        apart = {name for name, _ in tagged}
        envelope = make_dataclass(
            f"{cls.__name__}Envelope",
            [(f.name, hints[f.name], _same_default(f)) for f in fields(cls) if f.name not in apart],
            frozen=True,
        )
    return _Plan(cls, envelope, tagged, _record_check(cls))


def _same_default(item: Field[Any]) -> Any:
    """A fresh field with `item`'s default: a dataclass field object belongs to its class."""
    if item.default_factory is not MISSING:
        return field(default_factory=item.default_factory)
    if item.default is not MISSING:
        return field(default=item.default)
    return field()


def _branch(data: object, name: str, branches: dict[str, type[Any]]) -> object:
    if not (isinstance(data, tuple) and len(data) == 2 and data[0] in branches):
        raise _Bad(f"expected one of {', '.join(branches)}", name)
    try:
        return _plan(branches[data[0]]).read(data[1])
    except msgspec.ValidationError as error:
        inner = _from_msgspec(str(error), None)
        raise _Bad(inner.message, *reversed(_steps(inner.field_path)), name) from None
    except _Bad as bad:
        bad.steps.append(name)
        raise


def _record_union(hint: Any) -> dict[str, type[Any]]:
    """The branches by Avro fullname, when `hint` is a union of two records or more."""
    if get_origin(hint) not in (types.UnionType, typing.Union):
        return {}
    records = [arg for arg in get_args(hint) if isinstance(arg, type) and is_dataclass(arg)]
    if len(records) < 2:
        return {}
    return {f"{AVRO_NAMESPACE}.{arg.__name__}": arg for arg in records}


# ---------------------------------------------------------------- canonical JSON text


def json_text(value: object) -> str:
    """The canonical JSON text of a model value (module docstring); raises `RecordError`."""
    cls = type(value)
    check = _plan(cls).check
    try:
        if check is not None:
            check(value)
        mirror = msgspec.convert(value, _mirror_of(cls), from_attributes=True, dec_hook=_cents)
    except _Bad as bad:
        raise RecordError(_path(bad.steps), bad.message) from None
    except msgspec.ValidationError as error:
        raise _from_msgspec(str(error), None) from None
    return _JSON_ENCODER.encode(mirror).decode()


def read_json(cls: type[T], text: str | bytes) -> T:
    """An instance of the model dataclass `cls` from a `json_text`; raises `RecordError`."""
    try:
        value = msgspec.json.decode(text, type=cls, strict=True)
        check = _plan(cls).check
        if check is not None:
            check(value)
    except msgspec.ValidationError as error:
        raise _from_msgspec(str(error), None) from None
    except msgspec.DecodeError as error:
        raise RecordError("", f"is not JSON: {error}") from None
    except _Bad as bad:
        raise RecordError(_path(bad.steps), bad.message) from None
    return value


class _Cents:
    """A price in a `Struct` mirror: written as a string with exactly two places."""

    __slots__ = ("text",)

    def __init__(self, price: Decimal) -> None:
        self.text = str(price.quantize(PRICE_QUANTUM))


def _cents(kind: type[Any], value: Any) -> Any:
    if kind is _Cents and isinstance(value, Decimal):
        return _Cents(value)
    raise NotImplementedError(f"no JSON mapping for {kind.__name__}")


def _cents_text(value: Any) -> Any:
    if isinstance(value, _Cents):
        return value.text
    raise NotImplementedError(f"no JSON mapping for {type(value).__name__}")


_JSON_ENCODER: Final = msgspec.json.Encoder(enc_hook=_cents_text, order="sorted")
_MIRRORS: Final[dict[type[Any], type[msgspec.Struct]]] = {}


def _mirror_of(cls: type[Any]) -> type[msgspec.Struct]:
    found = _MIRRORS.get(cls)
    if found is None:
        found = _MIRRORS[cls] = _new_mirror(cls, (cls,))
    return found


def _new_mirror(cls: type[Any], within: tuple[type[Any], ...]) -> type[msgspec.Struct]:
    specs: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for name, hint in _hints(cls).items():
        optional = get_origin(hint) in (types.UnionType, typing.Union) and type(None) in get_args(
            hint
        )
        mirrored = _mirror_hint(hint, within)
        specs.append((name, mirrored, None) if optional else (name, mirrored))
    return msgspec.defstruct(
        f"{cls.__name__}Json", specs, kw_only=True, omit_defaults=True, frozen=True
    )


def _mirror_hint(hint: Any, within: tuple[type[Any], ...]) -> Any:
    origin = get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        options = [arg for arg in get_args(hint) if arg is not type(None)]
        if len(options) != 1:
            raise TypeError(f"json_text takes no union of several types ({hint})")
        return _mirror_hint(options[0], within) | None
    if origin is tuple:
        return tuple[_mirror_hint(get_args(hint)[0], within), ...]  # type: ignore[misc]
    if isinstance(hint, type) and is_dataclass(hint):
        if hint in within:
            raise TypeError(f"{hint.__name__} contains itself: no JSON mapping for that")
        return _MIRRORS.get(hint) or _new_mirror(hint, (*within, hint))
    if hint is Decimal:
        return _Cents
    return hint


# ---------------------------------------------------------------- checks beyond types


def _record_check(cls: type[Any]) -> _Check | None:
    """The checks of `cls`'s fields that need one, or None when none does."""
    plan = [(name, found) for name, hint in _hints(cls).items() if (found := _check(hint, cls))]
    if not plan:
        return None

    def check(value: object) -> None:
        name = ""
        try:
            for name, check_field in plan:
                check_field(getattr(value, name))
        except _Bad as bad:
            bad.steps.append(name)
            raise

    return check


def _check(hint: Any, owner: type[Any]) -> _Check | None:
    origin = get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        options = [arg for arg in get_args(hint) if arg is not type(None)]
        checks = [(arg, _check(arg, owner)) for arg in options]
        needed = [(arg, c) for arg, c in checks if c is not None]
        if not needed:
            return None
        if len(options) == 1:
            only = needed[0][1]
            return lambda value: None if value is None else only(value)

        def by_branch(value: object) -> None:
            for arg, c in needed:
                if isinstance(value, arg):
                    c(value)

        return by_branch
    if origin is tuple:
        item = _check(get_args(hint)[0], owner)
        if item is None:
            return None

        def each(values: tuple[object, ...]) -> None:
            for index, value in enumerate(values):
                try:
                    item(value)
                except _Bad as bad:
                    bad.steps.append(index)
                    raise

        return each
    if isinstance(hint, type) and is_dataclass(hint):
        if hint is owner:
            raise TypeError(f"{owner.__name__} contains itself: no wire mapping for that")
        return _record_check(hint)
    return _LEAF_CHECKS.get(hint)


# The checks run before msgspec sees a value on the JSON write path, so each first makes sure of
# its type: a wrong one is a `RecordError` at its path, never an AttributeError from deep inside.
def _finite(value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Bad(f"expected a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise _Bad(f"{value} is not a finite number")


def _price(value: Decimal) -> None:
    if not isinstance(value, Decimal):
        raise _Bad(f"expected a Decimal price, got {type(value).__name__}")
    if not value.is_finite():
        raise _Bad(f"{value} is not a finite price")
    if abs(value) >= PRICE_LIMIT:
        raise _Bad(f"{value} is too large: prices stay below {PRICE_LIMIT}")
    if value.quantize(PRICE_QUANTUM) != value:
        raise _Bad(f"{value} has more than {PRICE_SCALE} decimal places")


def _aware(value: datetime) -> None:
    if not isinstance(value, datetime):
        raise _Bad(f"expected a datetime, got {type(value).__name__}")
    if value.utcoffset() is None:
        raise _Bad(f"{value.isoformat()} has no UTC offset")


_LEAF_CHECKS: Final[dict[Any, _Check]] = {float: _finite, Decimal: _price, datetime: _aware}


# ---------------------------------------------------------------- errors


def _from_msgspec(text: str, record_id: str | None) -> RecordError:
    """msgspec's "Expected `int`, got `str` - at `$.a.b[1]`" as a `RecordError` at ``a.b[1]``."""
    found = _AT.match(text)
    message, path = (found["message"], found["path"] or "") if found else (text, "")
    path = path.removeprefix(".")
    missing = _MISSING.match(message)
    if missing:
        path = f"{path}.{missing['name']}" if path else missing["name"]
        message = "is required"
    return RecordError(path, message, record_id=record_id)


def _steps(path: str) -> list[str | int]:
    steps: list[str | int] = []
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        steps.append(int(part[1:-1]) if part.startswith("[") else part)
    return steps


def _path(steps: list[str | int]) -> str:
    path = ""
    for step in reversed(steps):
        joined = f"{path}.{step}" if path else str(step)
        path = f"{path}[{step}]" if isinstance(step, int) else joined
    return path


def _record_id(data: object) -> str | None:
    found = data.get("event_id") if isinstance(data, dict) else None
    return found if isinstance(found, str) else None


def _hints(cls: type[Any]) -> dict[str, Any]:
    resolved = get_type_hints(cls)
    return {item.name: resolved[item.name] for item in fields(cls)}
