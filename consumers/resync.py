"""Resync of one diffuser (architecture §9): its whole current scope re-sent, on request.

For onboarding, or after a new convention, an operator re-sends a diffuser everything it is
entitled to at a time `at`: the scope is recomputed from the regional store's current offers
with the registry in force, by the diffusion rules themselves (`hub.core.diffusion_rules.project`),
and appended to the diffuser's feed:

- an upsert with reason `RESYNC` for every offer in scope, even one the feed already shows as it
  is (a resync re-sends; the diffuser can rebuild from the feed's tail alone);
- a removal, with the reason `project` gives, for every offer the feed still holds (its last entry
  is an upsert) that is now out of scope.

Entries carry the offer's current regional version and `occurred_at = at`, so the feed store's
ordering rule (`consumers.feeds.entries.admit`) takes them when `at` is later than what the feed
shows of the offer, and drops them otherwise: a resync never moves a feed backwards, and a second
resync at the same `at` adds nothing. The offers are read and appended page by page (one transaction
per page, no Kafka positions: a resync consumes nothing), so a resync that stops halfway is
completed by running it again at the same `at`.

`state_of` and `resync_entry` are pure; `resync` does the reading and writing. An offer the feed
holds but the regional store does not know is left as it is and listed in the summary: an empty
or wrong store (a mistyped SITN_DATABASE_URL) must not empty a diffuser's feed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from consumers.feeds.cursor import FeedCursor
from consumers.feeds.port import FeedStore
from hub.core.diffusion import DiffusionChange, DiffusionKind, DiffusionReason
from hub.core.diffusion_rules import Excluded, project
from hub.core.regional import RegionalChange
from hub.core.registry import Diffuser, Registry
from hub.store.port import RegionalStore, StoredOffer

# Offers read and appended per transaction.
RESYNC_BATCH = 500

# Called with the number of regional offers just judged.
Progress = Callable[[int], None]


class ResyncError(ValueError):
    """A resync the caller asked for cannot run (nothing was written)."""


@dataclass(frozen=True)
class ResyncSummary:
    """What a resync sent to one diffuser's feed at `at`."""

    diffuser_id: str
    at: datetime
    upserts: int  # offers in scope, each sent as an upsert with reason `resync`
    removals: int  # offers the feed held that are now out of scope
    cursor_before: FeedCursor  # the feed's head before the resync
    cursor_after: FeedCursor  # and after: between them is what the feed took (module doc)
    unknown: tuple[str, ...]  # offers the feed holds that the regional store does not know

    @property
    def appended(self) -> int:
        """Entries the feed took (the others it held already at `at` or later)."""
        return self.cursor_before.behind(self.cursor_after)


def state_of(offer: StoredOffer, at: datetime) -> RegionalChange:
    """The store's current state of an offer as the `RegionalChange` the diffusion rules judge.

    The rules read the state (type, status, public fields, provenance, version), not the event
    that made it, which the store does not keep with the state: the event's fields say so
    (`event_id` ``state:<offer>@<version>``, no changed group, no contributor, the state as read
    at `at`). The private block is left out, as diffusion never sees it.
    """
    return RegionalChange(
        offer_id=offer.offer_id,
        version=offer.version,
        offer_type=offer.offer_type,
        status=offer.status,
        changed_groups=(),
        public=offer.public,
        private=None,
        provenance=offer.provenance,
        event_id=f"state:{offer.offer_id}@{offer.version}",
        contributor="",
        occurred_at=at,
        source_version=0,
        contributor_versions=offer.contributor_versions,
    )


def resync_entry(
    state: RegionalChange, diffuser: Diffuser, registry: Registry, at: datetime, *, held: bool
) -> DiffusionChange | None:
    """The entry a resync sends for one offer: an upsert if in scope at `at`, a removal if out
    of scope while the feed still `held` it, else nothing."""
    projected = project(state, diffuser, registry, at)
    if isinstance(projected, Excluded):
        if not held:
            return None
        return DiffusionChange(
            diffuser_id=diffuser.diffuser_id,
            offer_id=state.offer_id,
            version=state.version,
            kind=DiffusionKind.REMOVAL,
            reason=projected.reason,
            offer_type=None,
            view=None,
            occurred_at=at,
        )
    return DiffusionChange(
        diffuser_id=diffuser.diffuser_id,
        offer_id=state.offer_id,
        version=state.version,
        kind=DiffusionKind.UPSERT,
        reason=DiffusionReason.RESYNC,
        offer_type=projected.offer_type,
        view=projected.fields,
        occurred_at=at,
    )


def resync(
    feeds: FeedStore,
    store: RegionalStore,
    registry: Registry,
    diffuser_id: str,
    at: datetime,
    *,
    batch: int = RESYNC_BATCH,
    progress: Progress | None = None,
) -> ResyncSummary:
    """Re-sends the diffuser's scope at `at` to its feed (see the module docstring).

    Raises `ResyncError` before writing anything if the diffuser is not in `registry` or `at`
    has no UTC offset.
    """
    diffuser = registry.diffuser(diffuser_id)
    if diffuser is None:
        raise ResyncError(
            f"diffuser {diffuser_id!r} is not in the registry in force; known diffusers: "
            f"{', '.join(sorted(registry.diffusers)) or 'none'}"
        )
    if at.utcoffset() is None:
        raise ResyncError(f"resync time {at.isoformat()} has no UTC offset; give one (e.g. +00:00)")
    if batch < 1:
        raise ResyncError(f"batch size {batch} must be at least 1")
    before = feeds.head(diffuser_id)
    held = {entry.change.offer_id for entry in feeds.snapshot(diffuser_id, upto=before)}
    upserts = removals = 0
    after = ""
    while page := store.offers(after=after, limit=batch):
        entries: list[DiffusionChange] = []
        for offer in page:
            entry = resync_entry(
                state_of(offer, at), diffuser, registry, at, held=offer.offer_id in held
            )
            held.discard(offer.offer_id)
            if entry is None:
                continue
            entries.append(entry)
            if entry.kind is DiffusionKind.UPSERT:
                upserts += 1
            else:
                removals += 1
        feeds.append(entries, {})
        if progress is not None:
            progress(len(page))
        after = page[-1].offer_id
    return ResyncSummary(
        diffuser_id=diffuser_id,
        at=at,
        upserts=upserts,
        removals=removals,
        cursor_before=before,
        cursor_after=feeds.head(diffuser_id),
        unknown=tuple(sorted(held)),
    )
