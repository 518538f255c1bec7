"""A readable JSON form of Avro-shaped values, driven by a standalone schema (for golden fixtures).

Timestamps and dates become ISO-8601 strings, decimals strings, bytes base64; a union of several
records becomes ``{fullname: record}``. `with_defaults` fills, from a (newer) reader schema, the
fields a fixture written under an older schema lacks, so an old fixture can be compared with what
the current reader decodes. Works on the standalone schemas `hub.codec` builds (every named type
carries its namespace; references are fullnames).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_NAMED = frozenset({"record", "error", "enum", "fixed"})


def to_json(schema: Mapping[str, Any], value: object) -> object:
    return _Walker(schema).to_json(schema, value)


def from_json(schema: Mapping[str, Any], data: object) -> object:
    return _Walker(schema).from_json(schema, data)


def with_defaults(schema: Mapping[str, Any], data: object) -> object:
    return _Walker(schema).with_defaults(schema, data)


def named_types(schema: object) -> dict[str, Mapping[str, Any]]:
    """Every named type defined in a standalone schema, by fullname."""
    table: dict[str, Mapping[str, Any]] = {}
    _collect(schema, table)
    return table


def fullname(node: Mapping[str, Any]) -> str:
    name = str(node["name"])
    namespace = node.get("namespace")
    return name if "." in name or not namespace else f"{namespace}.{name}"


def _collect(schema: object, table: dict[str, Mapping[str, Any]]) -> None:
    if isinstance(schema, list):
        for branch in schema:
            _collect(branch, table)
    elif isinstance(schema, Mapping):
        kind = schema.get("type")
        if kind in _NAMED:
            table[fullname(schema)] = schema
            for item in schema.get("fields", ()):
                _collect(item["type"], table)
        elif kind == "array":
            _collect(schema["items"], table)
        elif kind == "map":
            _collect(schema["values"], table)
        elif isinstance(kind, list | Mapping):
            _collect(kind, table)


class _Walker:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.table = named_types(root)

    def node(self, schema: Any) -> Any:
        if isinstance(schema, str):
            return schema if schema in _PRIMITIVES else self.table[schema]
        if isinstance(schema, Mapping):
            kind = schema["type"]
            if isinstance(kind, list | Mapping) or (
                kind not in _PRIMITIVES and kind not in _NAMED and kind not in ("array", "map")
            ):
                return self.node(kind)
        return schema

    def to_json(self, schema: Any, value: Any) -> object:
        node = self.node(schema)
        if isinstance(node, list):
            if value is None:
                return None
            branches = [branch for branch in node if branch != "null"]
            if len(branches) == 1:
                return self.to_json(branches[0], value)
            name, record = value
            (branch,) = (b for b in branches if fullname(self.node(b)) == name)
            return {name: self.to_json(branch, record)}
        if isinstance(node, str):
            return base64.b64encode(value).decode("ascii") if node == "bytes" else value
        kind, logical = node["type"], node.get("logicalType")
        if kind in ("record", "error"):
            return {f["name"]: self.to_json(f["type"], value[f["name"]]) for f in node["fields"]}
        if kind == "array":
            return [self.to_json(node["items"], item) for item in value]
        if kind == "map":
            return {key: self.to_json(node["values"], item) for key, item in value.items()}
        if logical in ("timestamp-micros", "timestamp-millis", "date"):
            return value.isoformat()
        if logical == "decimal":
            return str(value)
        return self.to_json(kind, value)

    def from_json(self, schema: Any, data: Any) -> object:
        node = self.node(schema)
        if isinstance(node, list):
            if data is None:
                return None
            branches = [branch for branch in node if branch != "null"]
            if len(branches) == 1:
                return self.from_json(branches[0], data)
            ((name, record),) = data.items()
            (branch,) = (b for b in branches if fullname(self.node(b)) == name)
            return (name, self.from_json(branch, record))
        if isinstance(node, str):
            return base64.b64decode(data) if node == "bytes" else data
        kind, logical = node["type"], node.get("logicalType")
        if kind in ("record", "error"):
            return {f["name"]: self.from_json(f["type"], data[f["name"]]) for f in node["fields"]}
        if kind == "array":
            return [self.from_json(node["items"], item) for item in data]
        if kind == "map":
            return {key: self.from_json(node["values"], item) for key, item in data.items()}
        if logical in ("timestamp-micros", "timestamp-millis"):
            return datetime.fromisoformat(data)
        if logical == "date":
            return date.fromisoformat(data)
        if logical == "decimal":
            return Decimal(data)
        return self.from_json(kind, data)

    def with_defaults(self, schema: Any, data: Any) -> object:
        node = self.node(schema)
        if data is None:
            return None
        if isinstance(node, list):
            branches = [branch for branch in node if branch != "null"]
            if len(branches) == 1:
                return self.with_defaults(branches[0], data)
            ((name, record),) = data.items()
            (branch,) = (b for b in branches if fullname(self.node(b)) == name)
            return {name: self.with_defaults(branch, record)}
        if isinstance(node, str):
            return data
        kind = node["type"]
        if kind in ("record", "error"):
            return {
                f["name"]: self.with_defaults(f["type"], data[f["name"]])
                if f["name"] in data
                else f["default"]  # a reader field newer than the fixture: Avro fills its default
                for f in node["fields"]
            }
        if kind == "array":
            return [self.with_defaults(node["items"], item) for item in data]
        if kind == "map":
            return {key: self.with_defaults(node["values"], item) for key, item in data.items()}
        return data
