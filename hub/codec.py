"""The Avro wire codec of every record that crosses Kafka (the adapter over fastavro).

Framing is Avro *single-object encoding*: ``C3 01``, the 8-byte little-endian CRC-64-AVRO
fingerprint of the writer schema's Parsing Canonical Form, then the Avro binary body. The
fingerprint names the writer schema, so no schema registry is needed: every released writer schema
is kept in ``schemas/history/<Name>/v<N>.avsc`` and a message written with any of them is read
with the current reader schema through Avro schema resolution.

The current schemas are the ``schemas/<Name>.avsc`` files; a shared named type (``OfferFields``
and its parts) is defined once, in ``schemas/<fullname>.avsc``, and referenced by name from the
other files. Each record's schema is loaded standalone by fastavro's named-schema loading
(``fastavro.schema.load_schema``, which defines a referenced type at its first use), so a third
party loads the same files as they are.

Model values (`encode_record`) are converted by `hub.records`, which refuses naive datetimes on
the way, and reach fastavro with each optional value tagged with its union branch, which spares
fastavro trying every branch; hand-built dicts (`encode`) are walked for naive datetimes first.

Guarantees: schemas are read and parsed on first use and cached, nothing at import time; every
decoding failure raises one `DecodeError` whose `reason` is a `DecodeReason`, never a raw
fastavro or struct exception; encoding a value the contract cannot carry raises
`RecordError` naming the field, and no naive datetime is ever encoded (fastavro would
take it as UTC); both ways of encoding give the same bytes for the same record;
``decode(encode(x)) == x``.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, Final

import fastavro
from fastavro.repository.base import AbstractSchemaRepository, SchemaRepositoryError
from fastavro.schema import (
    SchemaParseException,
    UnknownType,
    load_schema,
    parse_schema,
    to_parsing_canonical_form,
)
from fastavro.schema import fingerprint as _fastavro_fingerprint

from hub.core.contribution import Contribution, CustomerRecord
from hub.record_error import RecordError
from hub.records import (
    contribution_from_avro,
    customer_record_from_avro,
    to_avro_record,
)

__all__ = [
    "HEADER_SIZE",
    "MAGIC",
    "RECORD_NAMES",
    "DecodeError",
    "DecodeReason",
    "RecordError",
    "WriterSchema",
    "current_schema",
    "decode",
    "decode_contribution",
    "decode_customer_record",
    "encode",
    "encode_contribution",
    "encode_customer_record",
    "encode_record",
    "released_schemas",
    "schema_fingerprint",
    "writer_schema_of",
]

MAGIC: Final = b"\xc3\x01"
FINGERPRINT_SIZE: Final = 8
HEADER_SIZE: Final = len(MAGIC) + FINGERPRINT_SIZE

# The top-level records, one schema file each; other files only define shared named types.
RECORD_NAMES: Final = (
    "Contribution",
    "CustomerRecord",
    "Rejection",
    "DeadLetter",
    "RegistryEvent",
    "RegionalChange",
    "DiffusionChange",
    "Tick",
    "CollectionState",
    "BoundaryFacts",
)

_SCHEMA_PACKAGE: Final = "schemas"
_HISTORY: Final = "history"
_VERSION_FILE: Final = re.compile(r"v([1-9][0-9]*)\.avsc")
_PRIMITIVES: Final = frozenset(
    {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
)
_NAMED: Final = frozenset({"record", "error", "enum", "fixed"})


class DecodeReason(StrEnum):
    """Why bytes could not be decoded (also the dead-letter `error_kind`)."""

    TOO_SHORT = "too_short"  # fewer bytes than the single-object header
    BAD_MAGIC = "bad_magic"  # not Avro single-object encoding at all
    UNKNOWN_FINGERPRINT = "unknown_fingerprint"  # a writer schema this hub never released
    MALFORMED_BODY = "malformed_body"  # the body does not decode with its writer schema
    INVALID_VALUE = "invalid_value"  # decodes, but a value is outside the model (e.g. an enum)


class DecodeError(ValueError):
    """Bytes that are not a valid message of `record_name`; `reason` says which way."""

    def __init__(self, reason: DecodeReason, message: str, *, record_name: str) -> None:
        self.reason = reason
        self.record_name = record_name
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class WriterSchema:
    """One schema of a record: a released version, or the current one (`version` None if new)."""

    record_name: str
    version: int | None
    fingerprint: bytes
    definition: Mapping[str, Any] = field(repr=False, compare=False)  # standalone schema JSON
    parsed: Any = field(repr=False, compare=False)  # fastavro's parsed form of `definition`

    @property
    def label(self) -> str:
        return f"{self.record_name} v{self.version}" if self.version else self.record_name


# ---------------------------------------------------------------- public API


def encode_contribution(contribution: Contribution) -> bytes:
    """A contribution as a single-object Avro message; raises `RecordError` if it cannot be."""
    return encode_record("Contribution", contribution)


def decode_contribution(data: bytes | None) -> Contribution:
    """A contribution from a message written with any released `Contribution` schema."""
    record = decode("Contribution", data)
    try:
        return contribution_from_avro(record)
    except RecordError as error:
        raise _invalid("Contribution", error) from None


def encode_customer_record(record: CustomerRecord) -> bytes:
    return encode_record("CustomerRecord", record)


def decode_customer_record(data: bytes | None) -> CustomerRecord:
    record = decode("CustomerRecord", data)
    try:
        return customer_record_from_avro(record)
    except RecordError as error:
        raise _invalid("CustomerRecord", error) from None


def encode(record_name: str, record: Mapping[str, Any]) -> bytes:
    """An Avro-shaped record (see `hub.records`) of `record_name` as a single-object message.

    Datetimes must be timezone-aware; a union of records takes fastavro's ``(fullname, record)``;
    a field with a default may be left out. Raises `RecordError` if the record does not fit the
    current schema.
    """
    schema = current_schema(record_name)
    _reject_naive_datetimes(record)
    return _write(schema, record)


def encode_record(record_name: str, value: object) -> bytes:
    """A model dataclass instance (`hub.core`) as a single-object message of `record_name`.

    Faster than `encode` of its Avro shape, same bytes: `hub.records` validates every value
    (naive datetimes included) while converting, and gives fastavro each optional value tagged
    with its union branch. Raises `RecordError` naming the field if the value cannot be written.
    """
    schema = current_schema(record_name)
    if _tags_change_no_byte(record_name):
        tagged = to_avro_record(value, tagged_unions=True)
        try:
            return _write(schema, tagged)
        except RecordError:
            pass  # a schema misfit: reported below from the untagged shape, as `encode` does
    return _write(schema, to_avro_record(value))


def decode(record_name: str, data: bytes | None) -> dict[str, Any]:
    """The Avro-shaped record in a single-object message of `record_name`, read with the current
    schema whatever released schema wrote it. A union of several records reads as
    ``(fullname, record)``; raises `DecodeError`."""
    reader = current_schema(record_name)
    data = _present(data, record_name)
    writer = _writer_for(record_name, data)
    body = io.BytesIO(memoryview(data)[HEADER_SIZE:])
    try:
        record = fastavro.schemaless_reader(
            body,
            writer.parsed,
            None if writer.fingerprint == reader.fingerprint else reader.parsed,
            return_record_name=True,
            return_record_name_override=True,
        )
    except Exception as error:  # truncation, bad UTF-8, bad union index, resolution...
        raise DecodeError(
            DecodeReason.MALFORMED_BODY,
            f"{writer.label}: the body does not decode ({type(error).__name__}: {error}); "
            "the producer's encoder is broken or the bytes were altered",
            record_name=record_name,
        ) from None
    left = len(data) - HEADER_SIZE - body.tell()
    if left:
        raise DecodeError(
            DecodeReason.MALFORMED_BODY,
            f"{writer.label}: {left} bytes are left after the record; "
            "the bytes were altered or are several messages glued together",
            record_name=record_name,
        )
    if not isinstance(record, dict):
        raise DecodeError(  # cannot happen with a record schema; kept as a guard, not a crash
            DecodeReason.MALFORMED_BODY,
            f"{writer.label}: decoded to {type(record).__name__}, not a record",
            record_name=record_name,
        )
    return record


def writer_schema_of(data: bytes | None) -> WriterSchema:
    """Which released (or current) schema of which record wrote these bytes."""
    fingerprint = _header(_present(data, "message"), "message")
    schema = _catalog().by_fingerprint.get(fingerprint)
    if schema is None:
        raise DecodeError(
            DecodeReason.UNKNOWN_FINGERPRINT,
            f"writer schema fingerprint {fingerprint.hex()} is none of this hub's schemas; "
            "the producer uses a schema this hub never released",
            record_name="message",
        )
    return schema


def current_schema(record_name: str) -> WriterSchema:
    """The schema this build writes and reads with (made standalone from ``schemas/*.avsc``)."""
    return _catalog().current[_known(record_name)]


def released_schemas(record_name: str) -> tuple[WriterSchema, ...]:
    """Every released writer schema of `record_name`, oldest first."""
    return _catalog().released[_known(record_name)]


def schema_fingerprint(schema: str | list[Any] | Mapping[str, Any]) -> bytes:
    """The 8-byte CRC-64-AVRO fingerprint (little-endian) of a standalone schema's canonical
    form, as the single-object header carries it."""
    plain = dict(schema) if isinstance(schema, Mapping) else schema
    return _fingerprint(parse_schema(copy.deepcopy(plain), {}))


def _fingerprint(parsed: Any) -> bytes:
    # fastavro renders the 64-bit value as the hex of its little-endian bytes, the wire's order.
    return bytes.fromhex(_fastavro_fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))


# ---------------------------------------------------------------- decoding steps


def _present(data: bytes | None, record_name: str) -> bytes:
    if data is None:
        raise DecodeError(
            DecodeReason.TOO_SHORT,
            f"{record_name}: no value (a tombstone?); a message is {HEADER_SIZE} bytes or more",
            record_name=record_name,
        )
    return data


def _header(data: bytes, record_name: str) -> bytes:
    if len(data) >= len(MAGIC) and bytes(data[: len(MAGIC)]) != MAGIC:
        raise DecodeError(
            DecodeReason.BAD_MAGIC,
            f"{record_name}: starts with {bytes(data[:2]).hex(' ')}, not the Avro single-object "
            "marker c3 01; publish with the hub's codec (plain JSON goes through `sitn publish`)",
            record_name=record_name,
        )
    if len(data) < HEADER_SIZE:
        raise DecodeError(
            DecodeReason.TOO_SHORT,
            f"{record_name}: {len(data)} bytes is shorter than the {HEADER_SIZE}-byte header "
            "(marker c3 01 and the writer schema's 8-byte fingerprint); the value was truncated",
            record_name=record_name,
        )
    return bytes(data[len(MAGIC) : HEADER_SIZE])


def _writer_for(record_name: str, data: bytes) -> WriterSchema:
    fingerprint = _header(data, record_name)
    catalog = _catalog()
    writer = catalog.writers[record_name].get(fingerprint)
    if writer is not None:
        return writer
    other = catalog.by_fingerprint.get(fingerprint)
    if other is not None:
        hint = f"this is a {other.label} message, not a {record_name}; check the topic it came from"
    else:
        known = ", ".join(schema.label for schema in catalog.released[record_name])
        hint = (
            f"writer schema fingerprint {fingerprint.hex()} is not a released {record_name} schema "
            f"(this hub reads {known or 'none'}); upgrade the hub, or release the producer's "
            "schema as schemas/README.md says"
        )
    raise DecodeError(DecodeReason.UNKNOWN_FINGERPRINT, hint, record_name=record_name)


def _invalid(record_name: str, error: RecordError) -> DecodeError:
    return DecodeError(
        DecodeReason.INVALID_VALUE,
        f"{record_name}: {error}; the producer sent a value outside the model",
        record_name=record_name,
    )


def _write(schema: WriterSchema, record: Mapping[str, Any]) -> bytes:
    out = io.BytesIO()
    out.write(MAGIC)
    out.write(schema.fingerprint)
    try:
        # Unknown fields and missing fields without a default are refused: a typo is a bug.
        fastavro.schemaless_writer(out, schema.parsed, record, strict_allow_default=True)
    except Exception as error:  # fastavro reports misfits with several exception types
        raise RecordError("", f"does not fit the {schema.record_name} schema: {error}") from error
    return out.getvalue()


@cache
def _tags_change_no_byte(record_name: str) -> bool:
    """Whether fastavro writes a value tagged with its union branch as it writes it untagged.

    It does when no union of the schema has two branches a value could take besides null (the
    union of payload records is tagged either way): untagged, fastavro writes the one that fits.
    """
    return _unions_are_unambiguous(current_schema(record_name).definition)


def _unions_are_unambiguous(schema: Any) -> bool:
    if isinstance(schema, list):
        branches = [branch for branch in schema if branch != "null"]
        named = all(
            branch not in _PRIMITIVES if isinstance(branch, str) else branch.get("type") in _NAMED
            for branch in branches
        )
        return (len(branches) <= 1 or named) and all(map(_unions_are_unambiguous, branches))
    if not isinstance(schema, dict):
        return True
    kind = schema.get("type")
    if kind in _NAMED:
        return all(_unions_are_unambiguous(item["type"]) for item in schema.get("fields", ()))
    if kind == "array":
        return _unions_are_unambiguous(schema["items"])
    if kind == "map":
        return _unions_are_unambiguous(schema["values"])
    return _unions_are_unambiguous(kind)


def _known(record_name: str) -> str:
    if record_name not in RECORD_NAMES:
        raise ValueError(
            f"unknown record {record_name!r}; the records are {', '.join(RECORD_NAMES)}"
        )
    return record_name


def _reject_naive_datetimes(record: Mapping[str, Any]) -> None:
    # fastavro would silently take a naive datetime as UTC: in an event-time system that is a bug.
    found = _naive_datetime(record)
    if found is not None:
        moment, steps = found
        path = ""
        for is_index, key in reversed(steps):
            path = f"{path}[{key}]" if is_index else f"{path}.{key}" if path else str(key)
        raise RecordError(path, f"{moment.isoformat()} has no UTC offset")


# Values that hold no datetime, skipped without a call: most of a record.
_FLAT: Final = frozenset({str, int, float, bool, bytes, type(None), Decimal, date})


def _naive_datetime(value: object) -> tuple[datetime, list[tuple[bool, object]]] | None:
    """The first naive datetime in `value` and the steps to it, innermost first (the path is
    built only for a datetime that is found, so a clean record costs no string)."""
    if isinstance(value, datetime):
        return (value, []) if value.utcoffset() is None else None
    steps: Iterable[tuple[object, object]]
    if isinstance(value, Mapping):
        steps, is_index = value.items(), False
    elif isinstance(value, list | tuple):
        steps, is_index = enumerate(value), True
    else:
        return None
    for key, item in steps:
        if type(item) not in _FLAT:
            found = _naive_datetime(item)
            if found is not None:
                found[1].append((is_index, key))
                return found
    return None


# ---------------------------------------------------------------- the schema catalogue


@dataclass(frozen=True)
class _Catalog:
    current: Mapping[str, WriterSchema]
    released: Mapping[str, tuple[WriterSchema, ...]]
    writers: Mapping[str, Mapping[bytes, WriterSchema]]  # per record: every schema it can read
    by_fingerprint: Mapping[bytes, WriterSchema]


class _PackageSchemas(AbstractSchemaRepository):
    """fastavro's named-schema loading over the `schemas` package: a type named `X` is read from
    `X.avsc` (a record from `<Name>.avsc`, a shared type from `<fullname>.avsc`, fastavro's own
    convention, so `fastavro.schema.load_schema("schemas/Contribution.avsc")` loads as is)."""

    def __init__(self, root: Traversable) -> None:
        self.root = root

    def load(self, name: str) -> Any:
        entry = self.root.joinpath(f"{name}.avsc")
        if not entry.is_file():
            raise SchemaRepositoryError(f"schemas/{name}.avsc does not exist")
        return json.loads(entry.read_text(encoding="utf-8"))


def _load_current(repository: _PackageSchemas, name: str) -> dict[str, Any]:
    """Record `name`'s current schema, standalone: every named type it references is defined at
    its first use (by fastavro's loader, from the files of `schemas/`)."""
    try:
        loaded = load_schema(name, repo=repository, _write_hint=False)
    except (SchemaRepositoryError, UnknownType, SchemaParseException) as error:
        raise RuntimeError(
            f"schemas/{name}.avsc does not load ({error}); a named type it references must be "
            "defined in schemas/<its full name>.avsc, e.g. org.sitn.hub.OfferFields.avsc"
        ) from None
    if not isinstance(loaded, dict):
        raise RuntimeError(f"schemas/{name}.avsc is not a record schema")
    return loaded


@cache
def _catalog() -> _Catalog:
    root = resources.files(_SCHEMA_PACKAGE)
    missing = [name for name in RECORD_NAMES if not root.joinpath(f"{name}.avsc").is_file()]
    if missing:
        raise RuntimeError(f"schemas package lacks {', '.join(missing)}.avsc: a broken install")
    repository = _PackageSchemas(root)
    released = {
        name: tuple(_released(root.joinpath(_HISTORY, name), name)) for name in RECORD_NAMES
    }
    current = {}
    for name in RECORD_NAMES:
        schema = _writer_schema(name, None, _load_current(repository, name))
        # The current schema is the released version with its fingerprint, if there is one.
        same = [old.version for old in released[name] if old.fingerprint == schema.fingerprint]
        current[name] = dataclasses.replace(schema, version=same[-1]) if same else schema
    writers: dict[str, dict[bytes, WriterSchema]] = {}
    by_fingerprint: dict[bytes, WriterSchema] = {}
    for name in RECORD_NAMES:
        # The current schema stands for the released one with its fingerprint (docs aside, equal).
        schemas = {schema.fingerprint: schema for schema in (*released[name], current[name])}
        writers[name] = schemas
        for fingerprint, schema in schemas.items():
            clash = by_fingerprint.setdefault(fingerprint, schema)
            if clash.record_name != name:
                raise RuntimeError(f"{clash.label} and {schema.label} have the same fingerprint")
    return _Catalog(current, released, writers, by_fingerprint)


def _released(folder: Traversable, name: str) -> Iterator[WriterSchema]:
    if not folder.is_dir():
        return
    versions: dict[int, Traversable] = {}
    for entry in folder.iterdir():
        match = _VERSION_FILE.fullmatch(entry.name)
        if match:
            versions[int(match.group(1))] = entry
    for version in sorted(versions):
        definition = json.loads(versions[version].read_text(encoding="utf-8"))
        yield _writer_schema(name, version, definition)


def _writer_schema(name: str, version: int | None, definition: dict[str, Any]) -> WriterSchema:
    parsed = parse_schema(copy.deepcopy(definition), {})
    return WriterSchema(name, version, _fingerprint(parsed), definition, parsed)
