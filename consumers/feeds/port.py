"""The feed store's port: where each diffuser's feed entries are kept, and the API keys.

The diffusion processor appends the entries the diffusion rules emit (`hub.core.diffusion`); the
HTTP feed API (`consumers.api`) reads them. `FeedStore` is the one interface; the in-memory and SQL
implementations pass the same contract suite (tests/contract/feed_contract.py).

Guarantees every implementation keeps:
- **One transaction per append.** `append` writes the entries, the consumed Kafka positions and
  the diffusion stage's timeline rows of the offers the batch touched together, or nothing at all
  (raises `FeedError` before writing if any entry is malformed). `timeline(partitions)` gives the
  rows back, so a restart reads one row per offer, never the history.
- **A feed never goes backwards, and a redelivery has no effect.** Each offer's entries in a feed
  are ordered by (version, occurred_at). An entry is ignored if its (version, occurred_at) is lower
  than that of the offer's last entry in the same feed, or if an entry with the same
  (diffuser, offer, version, kind, occurred_at) is already stored. Time-driven entries (media rights
  ended, an operator's resync) keep the regional version but carry a later time, so they pass.
- **A cursor per feed, over its partitions** (`consumers.feeds.cursor`). Each stored entry gets the
  next sequence number `seq` of its (diffuser, offer partition) (1, 2, 3, ... with no gap since
  migration 0005), in commit order; appends for different partitions neither lock each other out
  nor wait on each other. A reader's `FeedCursor` holds the last `seq` it has per partition, so
  resuming from it misses nothing, even an entry another writer commits late, and gives nothing
  twice. Its text is the cursor the HTTP API hands out.
- **Privacy.** An entry whose view carries the private group is refused (`FeedError`).
- **API keys are never stored in clear**: only their hash (`consumers.feeds.keys.hash_key`);
  `set_key` refuses anything that is not one.
- **A revoked key stays revoked.** Revoking marks the key (`ApiKey.revoked_at`) and keeps it, so
  `key` can tell a revoked key from an unknown one; `owner_of` answers None for it at once, and
  nothing un-revokes it. A replacing `set_key` stores the new key and revokes the owner's others
  in one transaction: there is no moment when both work, nor one when neither does.

Every method is synchronous and may block on I/O: async callers run them in a worker thread,
never on the event loop.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NamedTuple, Protocol

from consumers.feeds.cursor import START, FeedCursor
from hub.core.diffusion import DiffusionChange
from hub.topics import offer_partition

# (topic, partition) -> the offset of the next record to consume there (Kafka's commit convention).
Positions = Mapping[tuple[str, int], int]

OwnerKind = Literal["diffuser", "contributor"]
OWNER_KINDS: tuple[OwnerKind, ...] = ("diffuser", "contributor")


class FeedError(ValueError):
    """Input the feed store refuses as a whole (nothing of the call was written)."""


@dataclass(frozen=True)
class TimelineRow:
    """One offer's part of the diffusion stage's timeline (`hub.core.clock.Timeline`), as kept.

    `change` is the encoded latest change; None leaves the stored one as it is (only the
    evaluation time or the waiting ticks moved). `version` 0: no change read yet, ticks wait.
    A row never replaces one of a later version, and a row without its change applies only to
    a stored row of the same version (a late writer cannot move an offer back).
    """

    offer_id: str
    partition: int  # of sitn.regional.changes (and of the ticks): a restart reads its own
    version: int
    change: bytes | None
    evaluated_at: datetime | None
    waiting: tuple[bytes, ...]  # encoded ticks waiting for a later version


@dataclass(frozen=True)
class FeedEntry:
    """One stored entry of a diffuser's feed, with its place in that feed."""

    seq: int  # 1, 2, 3, ... per (diffuser, partition), in the order the entries were stored
    change: DiffusionChange

    @property
    def partition(self) -> int:
        """The offer's partition: an offer's entries are numbered on it."""
        return offer_partition(self.change.offer_id)


class KeyOwner(NamedTuple):
    """Who an API key belongs to: a diffuser (its feed) or a contributor (its rejections)."""

    kind: OwnerKind
    owner_id: str


@dataclass(frozen=True)
class ApiKey:
    """One stored API key, without the key: its id (`consumers.feeds.keys.key_id`) and owner."""

    key_id: str
    owner: KeyOwner
    created_at: datetime | None  # None for keys made before they had a creation time
    revoked_at: datetime | None  # None while the key is in force

    @property
    def in_force(self) -> bool:
        return self.revoked_at is None


class FeedStore(Protocol):
    """The diffusers' feeds and the API keys (see the module docstring for the guarantees)."""

    def append(
        self,
        entries: Sequence[DiffusionChange],
        positions: Positions,
        timeline: Sequence[TimelineRow] = (),
    ) -> list[FeedEntry]:
        """Stores the entries that are new, in order, and records `positions` and the `timeline`
        rows (each replacing its offer's), in one transaction.

        Returns the entries it stored (not those it ignored), in order, each as given with the
        `seq` it got. Raises `FeedError` (and writes nothing) if any entry is malformed, or if a
        row of a version > 0 without its change names an offer that has no row yet.
        """
        ...

    def timeline(self, partitions: Collection[int], *, changes: bool = True) -> list[TimelineRow]:
        """The timeline rows of the offers on `partitions`, by offer id; with `changes=False`,
        without their changes' bytes (None), which `timeline_change` reads when needed."""
        ...

    def timeline_change(self, offer_id: str) -> bytes | None:
        """The bytes of the offer's latest change its timeline row holds (None: no row, or
        no change yet)."""
        ...

    def positions(self) -> dict[tuple[str, int], int]:
        """Every consumed position of the diffusion processor: (topic, partition) -> next offset."""
        ...

    def head(self, diffuser_id: str) -> FeedCursor:
        """The cursor after the diffuser's last entries (`START` for an empty feed)."""
        ...

    def changes(
        self, diffuser_id: str, after: FeedCursor = START, limit: int = 100
    ) -> list[FeedEntry]:
        """The diffuser's entries past `after`, at most `limit` of them: each partition's in
        `seq` order, the partitions merged by event time (`consumers.feeds.entries.interleave`)."""
        ...

    def current(self, diffuser_id: str, offer_id: str) -> FeedEntry | None:
        """The offer's last entry in the diffuser's feed if it is an upsert, else None."""
        ...

    def last_seqs(
        self, diffuser_ids: Sequence[str], offer_ids: Sequence[str]
    ) -> dict[tuple[str, str], int]:
        """The `seq` of each offer's last entry (upsert or removal) in each diffuser's feed (on the
        offer's partition, which never changes).

        Keyed by (diffuser, offer); absent if the offer never was in that feed. A reader holding
        an entry it read earlier knows from it whether that entry is still the last one.
        """
        ...

    def currents(
        self, diffuser_ids: Sequence[str], offer_ids: Sequence[str]
    ) -> dict[tuple[str, str], FeedEntry]:
        """`current` for each of `diffuser_ids` and each of `offer_ids`, in one read.

        Keyed by (diffuser, offer); a pair whose `current` is None is absent. It is what the
        diffusion processor reads once per batch instead of once per diffuser per change.
        """
        ...

    def snapshot(self, diffuser_id: str, upto: FeedCursor | None = None) -> Iterator[FeedEntry]:
        """The offers currently in the diffuser's feed: their last entries, upserts, by partition
        then `seq`.

        Read lazily in batches (one short read per batch, nothing held between them). Only entries
        `upto` covers (default: the head when the first batch is read) are given, so that the
        snapshot followed by `changes(after=upto)` is the whole feed: an offer that changes while
        the snapshot streams shows up in the changes.
        """
        ...

    def set_key(
        self,
        owner_kind: OwnerKind,
        owner_id: str,
        key_hash: str,
        *,
        at: datetime,
        replace: bool = False,
    ) -> list[ApiKey]:
        """Gives the key whose hash is `key_hash` to the owner, created `at` (one owner may hold
        several keys); with `replace`, revokes the owner's other keys in the same transaction.

        Returns the keys it revoked (none without `replace`). Raises `FeedError` if `key_hash` is
        not a hash (`consumers.feeds.keys.hash_key`), belongs to someone else, or was revoked.
        """
        ...

    def revoke_keys(self, owner_kind: OwnerKind, owner_id: str, *, at: datetime) -> list[ApiKey]:
        """Revokes, as of `at`, every key of the owner still in force; returns them."""
        ...

    def revoke_key(self, key_id: str, *, at: datetime) -> ApiKey | None:
        """Revokes, as of `at`, the key whose id is `key_id` (kept as is if revoked already).

        Returns it as it now stands, or None if no key has that id.
        """
        ...

    def key(self, key_hash: str) -> ApiKey | None:
        """The key whose hash is `key_hash`, revoked or not; None if there is none."""
        ...

    def all_keys(self) -> list[ApiKey]:
        """Every key, revoked or not, by owner then creation."""
        ...

    def owner_of(self, key_hash: str) -> KeyOwner | None:
        """Who holds the key whose hash is `key_hash`; None if no one does, or it was revoked."""
        ...
