"""What each diffuser last received of recently changed offers, kept in memory by the projector.

The diffusion rules need, for every change, the view each diffuser last received of the offer
(`hub.core.diffusion_rules.fan_out`). Reading it back from the feeds means decoding one stored
view per diffuser per offer, which costs more than the rules themselves; `FeedViews` keeps the
views of the offers it saw last, each with the `seq` of the feed entry it came from.

It is only ever a cache, never the truth: before use, every cached view is checked against the
feed's `last_seqs` (one query of keys and numbers, nothing decoded) and read again if the feed
moved since (an operator's resync, another process), so a stale view is never used. Bounded to
the `capacity` offers used last.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Final

from consumers.feeds.port import FeedEntry, FeedStore
from hub.core.diffusion_rules import View, last_received

# Offers whose views are kept: at a hundred diffusers, a few hundred MiB at most.
DEFAULT_CAPACITY: Final = 5_000


class FeedViews:
    """The last-received views of recent offers, checked against the feeds before use."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1 offer, got {capacity}")
        self.capacity = capacity
        # offer id -> diffuser id -> (seq of the feed's last entry for the offer, its view or None)
        self._offers: OrderedDict[str, dict[str, tuple[int, View | None]]] = OrderedDict()
        self.hits = 0
        self.reads = 0

    def load(
        self, feeds: FeedStore, diffusers: Sequence[str], offer_ids: Sequence[str]
    ) -> dict[tuple[str, str], View]:
        """What each of `diffusers` last received of each of `offer_ids` (absent: nothing)."""
        seqs = feeds.last_seqs(diffusers, offer_ids)
        views: dict[tuple[str, str], View] = {}
        stale: list[str] = []
        for offer_id in offer_ids:
            cached = self._offers.get(offer_id, {})
            fresh = all(
                cached.get(diffuser, (0, None))[0] == seqs.get((diffuser, offer_id), 0)
                for diffuser in diffusers
            )
            if not fresh:
                stale.append(offer_id)
                continue
            self.hits += 1
            for diffuser in diffusers:
                view = cached.get(diffuser, (0, None))[1]
                if view is not None:
                    views[(diffuser, offer_id)] = view
        if stale:
            self.reads += len(stale)
            for offer_id in stale:
                self._offers[offer_id] = {
                    diffuser: (seq, None)
                    for (diffuser, offer), seq in seqs.items()
                    if offer == offer_id
                }
            for (diffuser, offer_id), entry in feeds.currents(diffusers, stale).items():
                view = last_received(entry.change)
                self._offers[offer_id][diffuser] = (entry.seq, view)
                if view is not None:
                    views[(diffuser, offer_id)] = view
        self._touch(offer_ids)
        return views

    def stored(self, entries: Sequence[FeedEntry]) -> None:
        """Takes in what an append stored (`FeedStore.append`'s result), in order."""
        for entry in entries:
            offer = self._offers.setdefault(entry.change.offer_id, {})
            offer[entry.change.diffuser_id] = (entry.seq, last_received(entry.change))
        self._touch([entry.change.offer_id for entry in entries])

    def _touch(self, offer_ids: Sequence[str]) -> None:
        for offer_id in offer_ids:
            if offer_id in self._offers:
                self._offers.move_to_end(offer_id)
        while len(self._offers) > self.capacity:
            self._offers.popitem(last=False)
