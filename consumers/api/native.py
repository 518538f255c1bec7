"""The native JSON bodies of the feed API, built from stored values (described by
`consumers.api.models`).

The offer view goes through `hub.records` (the hub's one JSON mapping of the model), after
`OfferFields.public()`: the feed store already refuses a view with the private group, and this
second guard keeps the HTTP boundary safe whatever a store holds. Cursors are text clients are
told to treat as opaque: a feed's is its `FeedCursor` (`consumers.feeds.cursor`), a page's entries
each carry the cursor right after them; the rejections' is the store's sequence number.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from consumers.feeds.cursor import FeedCursor
from consumers.feeds.port import FeedEntry
from hub.records import offer_fields_to_json
from hub.store.port import SequencedRejection


def encode(body: object) -> bytes:
    """Compact UTF-8 JSON (every value here is finite: the records refuse NaN and infinities)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def iso_utc(moment: datetime) -> str:
    """An aware time as ISO-8601 in UTC with ``Z``, as `hub.records` writes times."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def change_json(entry: FeedEntry, cursor: FeedCursor) -> dict[str, object]:
    """One feed entry, as `consumers.api.models.FeedChange`, with the cursor it comes with."""
    change = entry.change
    body: dict[str, object] = {
        "cursor": str(cursor),
        "diffuser_id": change.diffuser_id,
        "offer_id": change.offer_id,
        "version": change.version,
        "kind": change.kind.value,
        "reason": change.reason.value,
        "occurred_at": iso_utc(change.occurred_at),
    }
    if change.offer_type is not None:
        body["offer_type"] = change.offer_type.value
    if change.view is not None:
        body["offer"] = offer_fields_to_json(change.view.public())
    return body


def changes_json(
    diffuser_id: str, entries: list[FeedEntry], after: FeedCursor, has_more: bool
) -> dict[str, object]:
    """A page of a feed read from `after`, as `consumers.api.models.ChangesPage`."""
    changes: list[dict[str, object]] = []
    for entry in entries:
        after = after.past([entry])
        changes.append(change_json(entry, after))
    return {
        "diffuser_id": diffuser_id,
        "changes": changes,
        "next_cursor": str(after),
        "has_more": has_more,
    }


def rejection_json(item: SequencedRejection) -> dict[str, object]:
    """One rejection, as `consumers.api.models.ContributorRejection`."""
    rejection = item.rejection
    return {
        "cursor": str(item.seq),
        "event_id": rejection.event_id,
        "offer_id": rejection.offer_id,
        "occurred_at": iso_utc(rejection.occurred_at),
        "rule_ids": list(rejection.rule_ids),
        "message": rejection.message,
        "field_groups": [group.value for group in rejection.field_groups],
    }


def rejections_json(
    contributor: str, items: list[SequencedRejection], next_cursor: int, has_more: bool
) -> dict[str, object]:
    """A page of a contributor's rejections, as `consumers.api.models.RejectionsPage`."""
    return {
        "contributor": contributor,
        "rejections": [rejection_json(item) for item in items],
        "next_cursor": str(next_cursor),
        "has_more": has_more,
    }
