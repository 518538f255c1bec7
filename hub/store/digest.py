"""The store's content digest: one sha256 over the public state of every offer (architecture §6).

Rebuilding the store from `sitn.regional.changes` must give the same content as the live store;
operators compare `RegionalStore.digest()` of both. The digest covers, for every offer, its id,
type, status, version, public fields and per-group provenance, and nothing private (private
block, customer data) and nothing incidental (row order, history, rejections, positions).

Definition (stable across implementations and releases; change it only with a note to operators):
each offer gives one line, the canonical JSON (`hub.store.projection.canonical_json`) of
``[offer_id, type, status, version, public, provenance]`` where `public` is the offer's public
JSON object and `provenance` a list of ``[group, contributor, event_id, source_version,
occurred_at as UTC ISO-8601, authority]`` in `FieldGroup` order. The digest is the hex sha256 of
the lines sorted by offer id (code point order), each followed by a newline.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from hub.core.regional import Provenance
from hub.store.projection import canonical_json, group_order, utc_iso


def offer_line(
    offer_id: str,
    offer_type: str,
    status: str,
    version: int,
    public_json: str,
    provenance: Iterable[Provenance],
) -> str:
    """The digest line of one offer (`public_json` may be any JSON text of its public state)."""
    ordered = sorted(provenance, key=lambda p: group_order(p.group))
    return canonical_json(
        [
            offer_id,
            str(offer_type),
            str(status),
            version,
            json.loads(public_json),
            [
                [
                    str(p.group),
                    p.contributor,
                    p.event_id,
                    p.source_version,
                    utc_iso(p.occurred_at),
                    p.authority,
                ]
                for p in ordered
            ],
        ]
    )


def digest_of(lines: Iterable[tuple[str, str]]) -> str:
    """Hex sha256 of `(offer_id, line)` pairs, whatever order they come in."""
    hasher = hashlib.sha256()
    for _, line in sorted(lines):
        hasher.update(line.encode("utf-8"))
        hasher.update(b"\n")
    return hasher.hexdigest()
