"""What a feed store keeps of an entry, and which entries it takes: shared by every implementation.

`check_entry` refuses a malformed entry (with the diffuser, offer, version and field at fault) and
turns a valid one into the canonical JSON text of its view; `restored` is the entry as every
store gives it back (view read back from that text, time in UTC), so all implementations return
equal values. `admit` is the ordering rule of `consumers.feeds.port`: per (diffuser, offer), entries
move forward in (version, occurred_at) and an entry already stored is dropped. Both stores call
these, so they cannot disagree on what an append does; they differ only in how they write it.
`interleave` is the order `changes` gives a feed's partitions in, the same in every store; the
`check_key*` functions and `key_order` are the keys' rules, the same in every store too.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from consumers.feeds.keys import KEY_ID_LENGTH, is_key_hash, is_key_id
from consumers.feeds.port import OWNER_KINDS, ApiKey, FeedEntry, FeedError, KeyOwner, OwnerKind
from hub.core.diffusion import DiffusionChange, DiffusionKind
from hub.core.offer import OfferFields
from hub.msgspec_records import json_text, read_json
from hub.record_error import RecordError

# (diffuser id, offer id): the unit a feed orders its entries by.
FeedOfferKey = tuple[str, str]


@dataclass(frozen=True)
class CheckedEntry:
    """A valid entry with the canonical JSON of its view (None on a removal)."""

    change: DiffusionChange
    view_json: str | None
    # (diffuser id, offer id), kept rather than built at each of the many lookups an append makes
    key: FeedOfferKey = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", (self.change.diffuser_id, self.change.offer_id))


@dataclass(frozen=True)
class FeedHead:
    """Where an offer stands in a feed: its last (version, time) and the kinds stored at it."""

    version: int
    occurred_at: datetime
    kinds: frozenset[DiffusionKind]


def check_entries(changes: Sequence[DiffusionChange]) -> list[CheckedEntry]:
    """`check_entry` for each, encoding a view shared by several entries only once.

    The diffusion rules hand the same view object to every diffuser that sees the offer alike
    (`hub.core.diffusion_rules.Projections`), so a fan-out to a hundred feeds encodes a few views.
    """
    encoded: dict[int, str] = {}  # id(view) -> its JSON; the views live as long as `changes`
    return [check_entry(change, encoded) for change in changes]


def check_entry(change: DiffusionChange, encoded: dict[int, str] | None = None) -> CheckedEntry:
    """Checks one entry; raises `FeedError` naming the entry and what to fix.

    `encoded` caches view JSON by view identity for the caller (see `check_entries`).
    """
    where = (
        f"feed entry of diffuser {change.diffuser_id!r} for offer {change.offer_id!r} "
        f"version {change.version}"
    )
    if not change.diffuser_id or not change.offer_id:
        raise FeedError(f"{where}: the diffuser id and the offer id must not be empty")
    if change.version < 1:
        raise FeedError(f"{where}: versions start at 1; the entry is malformed")
    if change.occurred_at.utcoffset() is None:
        raise FeedError(f"{where}: occurred_at has no UTC offset; entry times must be aware")
    if change.kind is DiffusionKind.REMOVAL:
        if change.view is not None or change.offer_type is not None:
            raise FeedError(f"{where}: a removal carries neither a view nor an offer type")
        return CheckedEntry(change, None)
    if change.view is None or change.offer_type is None:
        raise FeedError(f"{where}: an upsert carries the diffuser's view and the offer type")
    if change.view.private is not None:
        raise FeedError(
            f"{where}: the view carries the private group, which is never diffused "
            "(architecture §4 rule 7); the diffusion rules must leave it out"
        )
    view_json = None if encoded is None else encoded.get(id(change.view))
    if view_json is None:
        try:
            view_json = json_text(change.view)
        except RecordError as error:
            raise FeedError(f"{where}: view.{error}") from None
        if encoded is not None:
            encoded[id(change.view)] = view_json
    return CheckedEntry(change, view_json)


def restored(checked: CheckedEntry) -> DiffusionChange:
    """The entry as a store gives it back: view read from its JSON text, time in UTC."""
    view = None if checked.view_json is None else read_json(OfferFields, checked.view_json)
    change = checked.change
    return replace(change, view=view, occurred_at=change.occurred_at.astimezone(UTC))


def admit(
    entries: Sequence[CheckedEntry], heads: Mapping[FeedOfferKey, FeedHead]
) -> tuple[list[CheckedEntry], dict[FeedOfferKey, FeedHead]]:
    """The entries a store takes, in order, and where their offers then stand in their feeds.

    `heads` holds where each offer of `entries` stands before them (absent: not in the feed yet).
    """
    moved: dict[FeedOfferKey, FeedHead] = {}
    taken: list[CheckedEntry] = []
    for entry in entries:
        change = entry.change
        mark = (change.version, change.occurred_at)
        head = moved.get(entry.key) or heads.get(entry.key)
        if head is None or mark > (head.version, head.occurred_at):
            moved[entry.key] = FeedHead(*mark, frozenset({change.kind}))
        elif mark == (head.version, head.occurred_at) and change.kind not in head.kinds:
            moved[entry.key] = replace(head, kinds=head.kinds | {change.kind})
        else:
            continue  # stored already, or older than what the feed shows: never go back
        taken.append(entry)
    return taken, moved


def check_reuse(stored: ApiKey | None, owner: KeyOwner) -> None:
    """Refuses to give again a key that is someone else's or was revoked (a replaced key stays
    replaced: the operator makes a new one)."""
    if stored is None:
        return
    if stored.owner != owner:
        raise FeedError("that key already belongs to someone else; make a new key")
    if not stored.in_force:
        raise FeedError(f"key {stored.key_id} was revoked and stays revoked; make a new key")


def check_key_id(key_id: str) -> None:
    """Refuses what cannot be a key id (`consumers.feeds.keys.key_id`), naming the right form."""
    if not is_key_id(key_id):
        raise FeedError(
            f"{key_id!r} is not a key id: a key id is the {KEY_ID_LENGTH} hex digits "
            "`sitn api key create` printed (`sitn api key list` lists them)"
        )


def key_order(key: ApiKey) -> tuple[str, str, bool, datetime, str]:
    """Keys by owner, then oldest first (those of unknown age before), then id."""
    created = key.created_at or datetime.min.replace(tzinfo=UTC)
    return (key.owner.kind, key.owner.owner_id, key.created_at is not None, created, key.key_id)


def check_key(owner_kind: OwnerKind, owner_id: str, key_hash: str) -> None:
    """Refuses a key assignment a store must not write (a clear key above all)."""
    if owner_kind not in OWNER_KINDS:
        raise FeedError(
            f"owner kind {owner_kind!r} is unknown; use one of {', '.join(OWNER_KINDS)}"
        )
    if not owner_id:
        raise FeedError(f"a {owner_kind} key needs the {owner_kind}'s id")
    if not is_key_hash(key_hash):
        raise FeedError(
            f"the key given for {owner_kind} {owner_id!r} is not a sha256 hex digest; store "
            "consumers.feeds.keys.hash_key(key), never the key itself"
        )


def interleave(partitions: Sequence[Sequence[FeedEntry]], limit: int) -> list[FeedEntry]:
    """The first `limit` entries of the partitions' runs (each in `seq` order) merged by event
    time, a tie going to the lower partition: each partition's order is kept (a cursor holds one
    position per partition), and a reader from the start sees the feed roughly as it happened."""
    merged = heapq.merge(*partitions, key=lambda entry: entry.change.occurred_at)
    return [entry for _, entry in zip(range(max(limit, 0)), merged, strict=False)]
