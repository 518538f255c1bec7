"""Static Avro schema-resolution check: can data written with one schema be read with another?

Follows the resolution rules of the Avro specification (records matched by fullname or reader
alias, reader fields absent from the writer need a default, writer fields absent from the reader
are skipped, numeric and string/bytes promotions, enum symbols, every writer union branch must
find a reader branch), and is stricter on one point: logical types (with decimal precision and
scale) must agree, because the Parsing Canonical Form, hence the fingerprint, ignores them.
fastavro only detects a mismatch on the data it happens to read; this walks the whole schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.support.avro_json import fullname, named_types

_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_PROMOTIONS = {
    "int": {"long", "float", "double"},
    "long": {"float", "double"},
    "float": {"double"},
    "string": {"bytes"},
    "bytes": {"string"},
}


def incompatibilities(writer: Mapping[str, Any], reader: Mapping[str, Any]) -> list[str]:
    """Why data written with `writer` cannot be read with `reader`; empty when it can."""
    return _Resolution(writer, reader).check(writer, reader, "")


class _Resolution:
    def __init__(self, writer: Mapping[str, Any], reader: Mapping[str, Any]) -> None:
        self.writer_types = named_types(writer)
        self.reader_types = named_types(reader)
        self.seen: set[tuple[str, str]] = set()

    def check(self, writer: Any, reader: Any, path: str) -> list[str]:
        w = _node(writer, self.writer_types)
        r = _node(reader, self.reader_types)
        if isinstance(w, list):
            problems: list[str] = []
            for branch in w:
                problems += self.check(branch, r, path)
            return problems
        if isinstance(r, list):
            attempts = [self.check(w, branch, path) for branch in r]
            if any(not attempt for attempt in attempts):
                return []
            # Report why the branch meant for this writer type fails, not just that none fits.
            for branch, attempt in zip(r, attempts, strict=True):
                if _same_type(w, _node(branch, self.reader_types)):
                    return attempt
            return [f"{path or '/'}: no branch of the reader union reads a writer {_kind(w)}"]
        kind_w, kind_r = _kind(w), _kind(r)
        if kind_w != kind_r:
            if kind_r in _PROMOTIONS.get(kind_w, ()) and not _logical(w) and not _logical(r):
                return []
            return [f"{path or '/'}: a writer {kind_w} cannot be read as {kind_r}"]
        if _logical(w) != _logical(r):
            return [f"{path or '/'}: logical type {_logical(w)} became {_logical(r)}"]
        if kind_w in ("record", "error"):
            return self.record(w, r, path)
        if kind_w == "enum":
            return self.enum(w, r, path)
        if kind_w == "fixed":
            if fullname(w) != fullname(r) or w["size"] != r["size"]:
                return [f"{path or '/'}: fixed {fullname(w)} does not match {fullname(r)}"]
            return []
        if kind_w == "array":
            return self.check(w["items"], r["items"], f"{path}[]")
        if kind_w == "map":
            return self.check(w["values"], r["values"], f"{path}{{}}")
        return []

    def record(self, w: Mapping[str, Any], r: Mapping[str, Any], path: str) -> list[str]:
        if not _same_name(w, r):
            return [f"{path or '/'}: record {fullname(w)} is read as {fullname(r)} without alias"]
        if (fullname(w), fullname(r)) in self.seen:
            return []
        self.seen.add((fullname(w), fullname(r)))
        by_name = {item["name"]: item for item in w["fields"]}
        problems: list[str] = []
        for item in r["fields"]:
            names = [item["name"], *item.get("aliases", ())]
            source = next((by_name[name] for name in names if name in by_name), None)
            where = f"{path}.{item['name']}" if path else item["name"]
            if source is not None:
                problems += self.check(source["type"], item["type"], where)
            elif "default" not in item:
                problems.append(f"{where}: new reader field without a default")
        return problems

    def enum(self, w: Mapping[str, Any], r: Mapping[str, Any], path: str) -> list[str]:
        if not _same_name(w, r):
            return [f"{path or '/'}: enum {fullname(w)} is read as {fullname(r)} without alias"]
        missing = [symbol for symbol in w["symbols"] if symbol not in r["symbols"]]
        if missing and "default" not in r:
            return [f"{path or '/'}: enum symbols {missing} unknown to the reader, no default"]
        return []


def _node(schema: Any, table: Mapping[str, Mapping[str, Any]]) -> Any:
    if isinstance(schema, str):
        return schema if schema in _PRIMITIVES else table[schema]
    if isinstance(schema, Mapping):
        kind = schema["type"]
        if isinstance(kind, list | Mapping) or kind in table:
            return _node(kind, table)
    return schema


def _kind(node: Any) -> str:
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return "union"
    return str(node["type"])


def _logical(node: Any) -> tuple[object, ...] | None:
    if isinstance(node, Mapping) and "logicalType" in node:
        return (node["logicalType"], node.get("precision"), node.get("scale"))
    return None


def _same_name(w: Mapping[str, Any], r: Mapping[str, Any]) -> bool:
    # The reader's namespace, whether it is spelt apart or inside a full name (fastavro's form).
    namespace = fullname(r).rpartition(".")[0]
    aliases = {
        alias if "." in alias or not namespace else f"{namespace}.{alias}"
        for alias in r.get("aliases", ())
    }
    return fullname(w) == fullname(r) or fullname(w) in aliases


def _same_type(w: Any, r: Any) -> bool:
    if _kind(w) != _kind(r):
        return False
    return not isinstance(w, Mapping) or "name" not in w or _same_name(w, r)
