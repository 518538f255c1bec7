"""Release changed schemas and write the golden fixtures of each newly released version.

Run by hand from the repository root, never by the tests::

    python -m tests.golden.regenerate

For each record whose current schema (``schemas/<Name>.avsc`` made standalone) has a fingerprint
no released version has, it writes ``schemas/history/<Name>/v<N+1>.avsc``. Then, for each record
whose newest released version has no fixture folder yet, it writes
``tests/golden/<Name>/v<N>/<case>.bin`` (the encoded example) and ``<case>.json`` (its value).
Existing history files and fixtures are never rewritten: they are the contract with data already
on Kafka. Nothing is released while a released schema cannot be read with the current one.
See schemas/README.md.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path

import schemas
from hub import codec
from hub.records import contribution_to_json, customer_record_to_json
from tests.support import avro_json, examples
from tests.support.avro_compatibility import incompatibilities

GOLDEN = Path(__file__).resolve().parent
HISTORY = Path(schemas.__file__).resolve().parent / "history"


def fixtures(record_name: str) -> dict[str, tuple[bytes, object]]:
    """Each example case of a record: its bytes and the JSON of its value."""
    if record_name == "Contribution":
        return {
            case: (codec.encode_contribution(value), contribution_to_json(value))
            for case, value in examples.every_payload_kind().items()
        }
    if record_name == "CustomerRecord":
        records = {
            "full": examples.full_customer_record(),
            "minimal": examples.minimal_customer_record(),
        }
        return {
            case: (codec.encode_customer_record(value), customer_record_to_json(value))
            for case, value in records.items()
        }
    definition = codec.current_schema(record_name).definition
    encoded = {
        case: codec.encode(record_name, value)
        for case, value in examples.generic_records()[record_name].items()
    }
    # The value as read back, so fields left to their defaults are recorded too.
    return {
        case: (data, avro_json.to_json(definition, codec.decode(record_name, data)))
        for case, data in encoded.items()
    }


def write_json(path: Path, value: object) -> None:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def release(record_name: str) -> int:
    """The newest released version of the record, releasing the current schema if it is new."""
    current = codec.current_schema(record_name)
    released = codec.released_schemas(record_name)
    if released and released[-1].fingerprint == current.fingerprint:
        return released[-1].version or 0
    version = (released[-1].version or 0) + 1 if released else 1
    path = HISTORY / record_name / f"v{version}.avsc"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, current.definition)
    sys.stdout.write(f"released {path}\n")
    return version


def problems() -> list[str]:
    """Why some released writer schema cannot be read with the current reader schema."""
    return [
        f"{old.label}: {problem}"
        for record_name in codec.RECORD_NAMES
        for old in codec.released_schemas(record_name)
        for problem in incompatibilities(
            old.definition, codec.current_schema(record_name).definition
        )
    ]


def main() -> int:
    found = problems()
    if found:
        sys.stderr.write("not released, the change breaks old data (schemas/README.md):\n")
        sys.stderr.writelines(f"  {problem}\n" for problem in found)
        return 1
    for record_name in codec.RECORD_NAMES:
        version = release(record_name)
        folder = GOLDEN / record_name / f"v{version}"
        if folder.exists():
            continue
        cases: Mapping[str, tuple[bytes, object]] = fixtures(record_name)
        folder.mkdir(parents=True)
        for case, (data, value) in cases.items():
            (folder / f"{case}.bin").write_bytes(data)
            write_json(folder / f"{case}.json", value)
        sys.stdout.write(f"wrote {len(cases)} fixtures in {folder}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
