"""Registry events on the wire: the `RegistryEvent` Avro record of `sitn.registry`.

An upsert carries the entry's canonical JSON body (`hub.core.registry_events.body_json`); a
removal carries the JSON literal ``null`` as its body, so removals need no field the released
schema lacks. `valid_from` / `valid_until` repeat the body's validity for readers that only filter
by time (`valid_until` is exclusive on the wire: the day after the inclusive last day, at midnight
UTC); the body stays the authority when reading back.

Guarantees: `decode_registry_event(encode_registry_event(e)) == e`; bytes that do not decode, an
unknown kind or a body that is not a well-formed entry raise `hub.codec.DecodeError` (reason
`invalid_value` for the last two) naming the entry, so a reader can dead-letter them and
`evolve_registry` only ever sees well-formed entries. Records are keyed `kind:id`
(`RegistryEvent.key`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from hub import codec
from hub.core.registry_events import (
    EntryKind,
    RegistryEntry,
    RegistryEvent,
    RegistryRemoved,
    body_json,
    decode_entry,
    entry_validity,
    event_id,
)

RECORD_NAME = "RegistryEvent"


def registry_event_to_record(event: RegistryEvent) -> dict[str, Any]:
    """The Avro-shaped `RegistryEvent` record of an event."""
    validity = entry_validity(event)
    return {
        "event_id": event_id(event),
        "kind": event.kind.value,
        "entry_id": event.entry_id,
        "body": "null" if isinstance(event, RegistryRemoved) else body_json(event.body),
        "valid_from": _midnight(validity.valid_from),
        "valid_until": _midnight(
            None if validity.valid_until is None else validity.valid_until + timedelta(days=1)
        ),
    }


def registry_event_from_record(record: Mapping[str, Any]) -> RegistryEvent:
    """The event an Avro-shaped record carries; raises `ValueError` naming what is wrong."""
    kind_text, entry_id = record.get("kind"), record.get("entry_id")
    where = f"registry event {kind_text}:{entry_id}"
    if kind_text not in [kind.value for kind in EntryKind]:
        known = ", ".join(kind.value for kind in EntryKind)
        raise ValueError(f"{where}: unknown kind {kind_text!r}; expected one of {known}")
    if not isinstance(entry_id, str):
        raise ValueError(f"{where}: entry_id is not a text")
    kind = EntryKind(kind_text)
    try:
        body = json.loads(str(record.get("body")))
    except ValueError as error:
        raise ValueError(f"{where}: body is not JSON ({error})") from None
    if body is None:
        return RegistryRemoved(kind, entry_id)
    if not isinstance(body, dict):
        raise ValueError(f"{where}: body is {type(body).__name__}, not a JSON object or null")
    value = decode_entry(kind, entry_id, body)
    if isinstance(value, tuple):
        raise ValueError(f"{where}: " + "; ".join(value))
    return RegistryEntry(kind, entry_id, body)


def encode_registry_event(event: RegistryEvent) -> bytes:
    return codec.encode(RECORD_NAME, registry_event_to_record(event))


def decode_registry_event(data: bytes | None) -> RegistryEvent:
    """The event in a `sitn.registry` message; raises `hub.codec.DecodeError`."""
    record = codec.decode(RECORD_NAME, data)
    try:
        return registry_event_from_record(record)
    except ValueError as error:
        raise codec.DecodeError(
            codec.DecodeReason.INVALID_VALUE, str(error), record_name=RECORD_NAME
        ) from None


def record_key(event: RegistryEvent) -> bytes:
    """The Kafka key: `kind:id`, so the topic's last record of a key is the entry's state."""
    return event.key.encode()


def _midnight(day: date | None) -> datetime | None:
    return None if day is None else datetime.combine(day, time(0), tzinfo=UTC)
