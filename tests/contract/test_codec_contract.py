"""The wire contract holds across versions: released schemas and golden bytes stay readable.

Every `schemas/history/<Name>/v<N>.avsc` must resolve against the current reader schema, and every
golden fixture of every released version must decode, with the current reader, to the value
recorded beside it; so an incompatible schema change fails here before it reaches Kafka.
"""

from __future__ import annotations

import io
import json
import re
import typing
from dataclasses import fields, is_dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import fastavro.schema
import pytest

from hub import codec
from hub.core import contribution as contribution_module
from hub.core import offer as offer_module
from hub.core.contribution import Contribution, CustomerRecord
from hub.records import contribution_from_json, customer_record_from_json
from tests.support import avro_json
from tests.support.avro_compatibility import incompatibilities

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
FIXTURES = sorted(GOLDEN.glob("*/v*/*.bin"))
RELEASED = [
    (name, schema.version) for name in codec.RECORD_NAMES for schema in codec.released_schemas(name)
]


def _released(name: str, version: int | None) -> codec.WriterSchema:
    return next(s for s in codec.released_schemas(name) if s.version == version)


# ------------------------------------------------------ the files as a third party has them

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


@pytest.mark.parametrize("path", sorted(SCHEMAS.glob("*.avsc")), ids=lambda path: path.name)
def test_every_schema_file_loads_as_it_is_with_fastavro(path: Path) -> None:
    assert fastavro.schema.load_schema(str(path))


@pytest.mark.parametrize("record_name", codec.RECORD_NAMES)
def test_a_third_party_loading_a_records_file_reads_the_hubs_bytes(record_name: str) -> None:
    loaded = fastavro.schema.load_schema(str(SCHEMAS / f"{record_name}.avsc"))
    current = codec.current_schema(record_name)
    assert codec.schema_fingerprint(loaded) == current.fingerprint
    golden = sorted((GOLDEN / record_name / f"v{current.version}").glob("*.bin"))
    assert golden
    for fixture in golden:
        data = fixture.read_bytes()
        body = io.BytesIO(data[codec.HEADER_SIZE :])
        # Read as the codec reads: a union of records says which record it holds.
        read = fastavro.schemaless_reader(
            body, loaded, None, return_record_name=True, return_record_name_override=True
        )
        assert read == codec.decode(record_name, data)


# ---------------------------------------------------------------- history


@pytest.mark.parametrize("record_name", codec.RECORD_NAMES)
def test_the_current_schema_of_each_record_is_released(record_name: str) -> None:
    released = codec.released_schemas(record_name)
    assert released, f"{record_name} has no released schema: run python -m tests.golden.regenerate"
    assert released[-1].fingerprint == codec.current_schema(record_name).fingerprint, (
        f"schemas/{record_name}.avsc changed the wire shape without a release: follow "
        "schemas/README.md (python -m tests.golden.regenerate)"
    )


@pytest.mark.parametrize(("record_name", "version"), RELEASED)
def test_every_released_schema_resolves_against_the_current_reader(
    record_name: str, version: int
) -> None:
    writer = _released(record_name, version).definition
    reader = codec.current_schema(record_name).definition
    assert incompatibilities(writer, reader) == []


@pytest.mark.parametrize(("record_name", "version"), RELEASED)
def test_every_released_version_has_golden_fixtures(record_name: str, version: int) -> None:
    assert list((GOLDEN / record_name / f"v{version}").glob("*.bin"))


def test_there_are_golden_fixtures_for_every_payload_kind() -> None:
    cases = {path.stem for path in GOLDEN.glob("Contribution/v1/*.bin")}
    assert {"created-full", "created-minimal", "changed", "withdrawn", "deleted"} <= cases


# ---------------------------------------------------------------- golden fixtures


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: str(p.relative_to(GOLDEN)))
def test_every_golden_fixture_names_the_released_schema_it_was_written_with(
    fixture: Path,
) -> None:
    writer = codec.writer_schema_of(fixture.read_bytes())
    assert (writer.record_name, f"v{writer.version}") == (
        fixture.parent.parent.name,
        fixture.parent.name,
    )


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: str(p.relative_to(GOLDEN)))
def test_every_golden_fixture_decodes_to_its_recorded_value(fixture: Path) -> None:
    record_name = fixture.parent.parent.name
    data = fixture.read_bytes()
    expected = json.loads(fixture.with_suffix(".json").read_text(encoding="utf-8"))
    if record_name == "Contribution":
        assert codec.decode_contribution(data) == contribution_from_json(expected)
    elif record_name == "CustomerRecord":
        assert codec.decode_customer_record(data) == customer_record_from_json(expected)
    else:
        reader = codec.current_schema(record_name).definition
        decoded = avro_json.to_json(reader, codec.decode(record_name, data))
        assert decoded == avro_json.with_defaults(reader, expected)


# ---------------------------------------------------------------- the schemas mirror the model


def _model_records(cls: type[Any], seen: dict[str, type[Any]]) -> dict[str, type[Any]]:
    """Every dataclass reachable from `cls` through its fields, by class name."""
    seen[cls.__name__] = cls
    pending = list(typing.get_type_hints(cls).values())
    while pending:
        hint = pending.pop()
        pending.extend(typing.get_args(hint))
        if isinstance(hint, type) and is_dataclass(hint) and hint.__name__ not in seen:
            _model_records(hint, seen)
    return seen


MODEL_RECORDS = {
    **_model_records(Contribution, {}),
    **_model_records(CustomerRecord, {}),
}


@pytest.mark.parametrize("class_name", sorted(MODEL_RECORDS))
def test_each_model_dataclass_has_an_avro_record_with_the_same_fields(class_name: str) -> None:
    root = "CustomerRecord" if class_name == "CustomerRecord" else "Contribution"
    definition = codec.current_schema(root).definition
    avro = avro_json.named_types(definition)[f"org.sitn.hub.{class_name}"]
    model_fields = [item.name for item in fields(MODEL_RECORDS[class_name])]
    assert [item["name"] for item in avro["fields"]] == model_fields


_VOCABULARIES = {
    name: value
    for module in (offer_module, contribution_module)
    for name, value in vars(module).items()
    if isinstance(value, type) and issubclass(value, StrEnum) and value is not StrEnum
}
_DOC_VOCABULARY = re.compile(r"([A-Z]\w+)(?: \(\w+\))?: (\w+(?: \| \w+)+)[.;]")


def _documented_vocabularies() -> list[tuple[str, str, str]]:
    found = []
    for record_name in codec.RECORD_NAMES:
        for node in avro_json.named_types(codec.current_schema(record_name).definition).values():
            for item in node.get("fields", ()):
                match = _DOC_VOCABULARY.search(item.get("doc", ""))
                if match and match.group(1) in _VOCABULARIES:
                    found.append((f"{node['name']}.{item['name']}", match[1], match[2]))
    return sorted(set(found))


def test_the_documented_vocabularies_cover_every_string_enum_field() -> None:
    documented = {enum for _, enum, _ in _documented_vocabularies()}
    # FieldGroup values appear in plain string arrays whose doc names the enum without listing it.
    assert documented == set(_VOCABULARIES) - {"FieldGroup"}


@pytest.mark.parametrize(("field_name", "enum", "values"), _documented_vocabularies())
def test_each_documented_vocabulary_lists_exactly_the_models_values(
    field_name: str, enum: str, values: str
) -> None:
    assert values.split(" | ") == [member.value for member in _VOCABULARIES[enum]], field_name


# ---------------------------------------------------------------- the compatibility check can fail


def _record(*fields_: dict[str, Any], name: str = "R", **extra: Any) -> dict[str, Any]:
    return {"type": "record", "name": name, "namespace": "t", "fields": list(fields_), **extra}


WRITER = _record({"name": "a", "type": "int"}, {"name": "b", "type": ["null", "string"]})


@pytest.mark.parametrize(
    ("reader", "problem"),
    [
        (_record({"name": "a", "type": "string"}), "a: a writer int cannot be read as string"),
        (
            _record({"name": "a", "type": "int"}, {"name": "c", "type": "long"}),
            "c: new reader field without a default",
        ),
        (
            _record({"name": "a", "type": "int"}, {"name": "b", "type": "string"}),
            "b: a writer null cannot be read as string",
        ),
        (
            _record({"name": "a", "type": {"type": "int", "logicalType": "date"}}),
            "logical type None became",
        ),
        (_record({"name": "a", "type": "int"}, name="S"), "record t.R is read as t.S"),
    ],
)
def test_an_incompatible_reader_is_reported(reader: dict[str, Any], problem: str) -> None:
    found = incompatibilities(WRITER, reader)
    assert any(problem in item for item in found), found


@pytest.mark.parametrize(
    "reader",
    [
        _record({"name": "a", "type": "long"}, {"name": "b", "type": ["null", "string"]}),
        _record({"name": "a", "type": "double"}),
        _record({"name": "a", "type": "int"}, {"name": "c", "type": "long", "default": 0}),
        _record({"name": "a", "type": "int"}, {"name": "b", "type": ["null", "string", "long"]}),
        _record({"name": "z", "type": "int", "aliases": ["a"]}, name="S", aliases=["R"]),
    ],
)
def test_a_compatible_evolution_is_accepted(reader: dict[str, Any]) -> None:
    assert incompatibilities(WRITER, reader) == []
