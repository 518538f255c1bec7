"""`InMemoryFeedStore`: the feed store in plain dicts, for tests and tooling.

It keeps every promise of `consumers.feeds.port` except durability. Atomicity comes from checking
the whole call first (`consumers.feeds.entries`) and only then mutating dicts, which cannot fail; a
lock makes each call atomic for readers in other threads too (the HTTP API reads from its
threadpool). It returns entries read back through the same JSON as the SQL store, so both give equal
values.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import replace
from datetime import datetime

from consumers.feeds.cursor import START, FeedCursor
from consumers.feeds.entries import (
    FeedHead,
    FeedOfferKey,
    admit,
    check_entries,
    check_key,
    check_key_id,
    check_reuse,
    interleave,
    key_order,
    restored,
)
from consumers.feeds.keys import key_id
from consumers.feeds.port import (
    ApiKey,
    FeedEntry,
    FeedError,
    KeyOwner,
    OwnerKind,
    Positions,
    TimelineRow,
)
from hub.core.diffusion import DiffusionChange, DiffusionKind
from hub.store.port import StoreError
from hub.store.projection import check_positions, forward_positions
from hub.topics import OFFER_PARTITIONS, offer_partition


class InMemoryFeedStore:
    """The feed store in memory; every method is synchronous and thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._feeds: dict[str, list[FeedEntry]] = {}  # in the order stored
        self._numbers: dict[tuple[str, int], int] = {}  # (diffuser, partition) -> last seq
        self._last: dict[FeedOfferKey, FeedEntry] = {}
        self._heads: dict[FeedOfferKey, FeedHead] = {}
        self._positions: dict[tuple[str, int], int] = {}
        self._keys: dict[str, ApiKey] = {}  # by hash
        self._timeline: dict[str, TimelineRow] = {}

    def append(
        self,
        entries: Sequence[DiffusionChange],
        positions: Positions,
        timeline: Sequence[TimelineRow] = (),
    ) -> list[FeedEntry]:
        try:
            check_positions(positions)
        except StoreError as error:
            raise FeedError(str(error)) from None
        checked = check_entries(entries)
        stored: list[FeedEntry] = []
        with self._lock:
            missing = [
                r.offer_id
                for r in timeline
                if r.change is None and r.version > 0 and r.offer_id not in self._timeline
            ]
            if missing:
                raise FeedError(
                    f"timeline rows without their change for offers with no row yet: {missing[:5]}"
                )
            for row in timeline:
                known = self._timeline.get(row.offer_id)
                if known is None or (row.change is not None and known.version <= row.version):
                    self._timeline[row.offer_id] = row
                elif row.change is None and known.version == row.version:
                    self._timeline[row.offer_id] = replace(
                        known, evaluated_at=row.evaluated_at, waiting=row.waiting
                    )
            taken, moved = admit(checked, self._heads)
            for entry in taken:
                diffuser_id = entry.change.diffuser_id
                numbered = (diffuser_id, offer_partition(entry.change.offer_id))
                seq = self._numbers[numbered] = self._numbers.get(numbered, 0) + 1
                self._feeds.setdefault(diffuser_id, []).append(FeedEntry(seq, restored(entry)))
                self._last[entry.key] = self._feeds[diffuser_id][-1]
                stored.append(FeedEntry(seq, entry.change))
            self._heads.update(moved)
            self._positions.update(forward_positions(self._positions, positions))
        return stored

    def positions(self) -> dict[tuple[str, int], int]:
        with self._lock:
            return dict(self._positions)

    def timeline(self, partitions: Collection[int], *, changes: bool = True) -> list[TimelineRow]:
        wanted = set(partitions)
        with self._lock:
            return [
                row if changes else replace(row, change=None)
                for o in sorted(self._timeline)
                if (row := self._timeline[o]).partition in wanted
            ]

    def timeline_change(self, offer_id: str) -> bytes | None:
        with self._lock:
            row = self._timeline.get(offer_id)
        return None if row is None else row.change

    def head(self, diffuser_id: str) -> FeedCursor:
        with self._lock:
            return self._head(diffuser_id)

    def _head(self, diffuser_id: str) -> FeedCursor:
        return FeedCursor(
            tuple(self._numbers.get((diffuser_id, p), 0) for p in range(OFFER_PARTITIONS))
        )

    def changes(
        self, diffuser_id: str, after: FeedCursor = START, limit: int = 100
    ) -> list[FeedEntry]:
        runs: list[list[FeedEntry]] = [[] for _ in range(OFFER_PARTITIONS)]
        with self._lock:
            for entry in self._feeds.get(diffuser_id, []):  # each partition's in `seq` order
                if not after.covers(entry.partition, entry.seq):
                    runs[entry.partition].append(entry)
        return interleave(runs, limit)

    def current(self, diffuser_id: str, offer_id: str) -> FeedEntry | None:
        with self._lock:
            entry = self._last.get((diffuser_id, offer_id))
        if entry is None or entry.change.kind is not DiffusionKind.UPSERT:
            return None
        return entry

    def last_seqs(
        self, diffuser_ids: Sequence[str], offer_ids: Sequence[str]
    ) -> dict[tuple[str, str], int]:
        with self._lock:
            return {
                (diffuser_id, offer_id): entry.seq
                for diffuser_id in diffuser_ids
                for offer_id in offer_ids
                if (entry := self._last.get((diffuser_id, offer_id))) is not None
            }

    def currents(
        self, diffuser_ids: Sequence[str], offer_ids: Sequence[str]
    ) -> dict[tuple[str, str], FeedEntry]:
        found: dict[tuple[str, str], FeedEntry] = {}
        with self._lock:
            for diffuser_id in diffuser_ids:
                for offer_id in offer_ids:
                    entry = self._last.get((diffuser_id, offer_id))
                    if entry is not None and entry.change.kind is DiffusionKind.UPSERT:
                        found[(diffuser_id, offer_id)] = entry
        return found

    def snapshot(self, diffuser_id: str, upto: FeedCursor | None = None) -> Iterator[FeedEntry]:
        with self._lock:
            limit = self._head(diffuser_id) if upto is None else upto
            chosen = [
                entry
                for (diffuser, _), entry in self._last.items()
                if diffuser == diffuser_id
                and entry.change.kind is DiffusionKind.UPSERT
                and limit.covers(entry.partition, entry.seq)
            ]
        yield from sorted(chosen, key=lambda entry: (entry.partition, entry.seq))

    def set_key(
        self,
        owner_kind: OwnerKind,
        owner_id: str,
        key_hash: str,
        *,
        at: datetime,
        replace: bool = False,
    ) -> list[ApiKey]:
        check_key(owner_kind, owner_id, key_hash)
        owner = KeyOwner(owner_kind, owner_id)
        with self._lock:
            stored = self._keys.get(key_hash)
            check_reuse(stored, owner)
            if stored is None:
                self._keys[key_hash] = ApiKey(key_id(key_hash), owner, at, None)
            if not replace:
                return []
            return self._revoke(lambda h, k: k.owner == owner and h != key_hash and k.in_force, at)

    def revoke_keys(self, owner_kind: OwnerKind, owner_id: str, *, at: datetime) -> list[ApiKey]:
        owner = KeyOwner(owner_kind, owner_id)
        with self._lock:
            return self._revoke(lambda _, k: k.owner == owner and k.in_force, at)

    def revoke_key(self, key_id: str, *, at: datetime) -> ApiKey | None:
        check_key_id(key_id)
        with self._lock:
            found = [h for h, k in self._keys.items() if k.key_id == key_id]
            if not found:
                return None
            (key_hash,) = found  # ids are hash prefixes: two equal is a 48-bit coincidence
            self._revoke(lambda h, k: h == key_hash and k.in_force, at)
            return self._keys[key_hash]

    def key(self, key_hash: str) -> ApiKey | None:
        with self._lock:
            return self._keys.get(key_hash)

    def all_keys(self) -> list[ApiKey]:
        with self._lock:
            return sorted(self._keys.values(), key=key_order)

    def owner_of(self, key_hash: str) -> KeyOwner | None:
        with self._lock:
            stored = self._keys.get(key_hash)
        return stored.owner if stored is not None and stored.in_force else None

    def _revoke(self, chosen: Callable[[str, ApiKey], bool], at: datetime) -> list[ApiKey]:
        revoked = {h: replace(k, revoked_at=at) for h, k in self._keys.items() if chosen(h, k)}
        self._keys.update(revoked)
        return sorted(revoked.values(), key=key_order)
