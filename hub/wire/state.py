"""The codec of the collection stage's per-offer state (`CollectionState` on
`sitn.collection.state`): an `OfferEntry` <-> bytes.

The latest change and the waiting contributions are kept in their own single-object encodings,
so they are read with their own schemas' evolution rules and decoded with the codecs every other
reader uses.
"""

from __future__ import annotations

from hub.codec import (
    DecodeError,
    DecodeReason,
    decode,
    decode_contribution,
    encode,
    encode_contribution,
)
from hub.core.ledger import Judged, OfferEntry, Origin, Waiting
from hub.wire.models import decode_regional_change, encode_regional_change


def encode_offer_entry(entry: OfferEntry, latest: bytes | None = None) -> bytes:
    """The entry's state record; `latest`, when given, is `entry.latest` already encoded (the
    collection stage has just encoded it for `sitn.regional.changes`: not encoded twice)."""
    if latest is None and entry.latest is not None:
        latest = encode_regional_change(entry.latest)
    return encode(
        "CollectionState",
        {
            "offer_id": entry.offer_id,
            "latest": latest,
            "waiting": [
                {
                    "topic": w.origin.topic,
                    "owner": w.owner,
                    "partition": w.origin.partition,
                    "offset": w.origin.offset,
                    "arrived_ms": w.origin.timestamp_ms,
                    "contribution": encode_contribution(w.contribution),
                }
                for w in entry.waiting
            ],
            "rejected": [
                {
                    "event_id": j.event_id,
                    "contributor": j.contributor,
                    "source_version": j.source_version,
                }
                for j in entry.rejected
            ],
        },
    )


def decode_offer_entry(data: bytes | None) -> OfferEntry:
    """Raises `DecodeError` (the inner records' errors name them)."""
    record = decode("CollectionState", data)
    latest = record["latest"]
    entry = OfferEntry(
        offer_id=record["offer_id"],
        latest=None if latest is None else decode_regional_change(latest),
        waiting=tuple(
            Waiting(
                decode_contribution(w["contribution"]),
                Origin(w["topic"], w["partition"], w["offset"], w["arrived_ms"]),
                w["owner"],
            )
            for w in record["waiting"]
        ),
        rejected=tuple(
            Judged(j["event_id"], j["contributor"], j["source_version"]) for j in record["rejected"]
        ),
    )
    if entry.latest is not None and entry.latest.offer_id != entry.offer_id:
        raise DecodeError(
            DecodeReason.INVALID_VALUE,
            f"CollectionState of {entry.offer_id!r} holds a change of {entry.latest.offer_id!r}",
            record_name="CollectionState",
        )
    return entry
