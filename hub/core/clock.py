"""Time-driven diffusion changes as events (architecture §5): the `Tick` record and its state.

A diffuser's view of an offer may change with no new regional change: a media's rights start or
end, an event's last date passes, a diffusion convention or a concession starts or ends. No
projection reads the clock to find out. The scheduler (`hub.scheduler`, the one place of the hub
that reads the wall clock) publishes a `Tick` on `sitn.diffusion.ticks` when the clock passes such
a boundary (`hub.core.diffusion_rules.next_boundary`), and the diffusion projector evaluates the
offer's latest change again at `tick.at`. A replay of both topics replays the ticks, not the clock.

- `Tick`: the offer, the regional version whose boundary it is, the boundary instant `at`
  (a midnight UTC) and a label for people.
- `TickSchedule`: the scheduler's state. Per offer: what its latest change's boundaries depend on
  (`hub.core.diffusion_rules.BoundaryFacts`, a small part of the change), how far its boundaries are
  ticked (the *cursor*: the change's own time, or the last tick of that version if later) and its
  next boundary. `due(registry, now)` gives one tick per offer whose next boundary `now` has
  passed, at the *latest* boundary passed (the view then is the view now; the boundaries passed in
  between would only replay stale states), and moves the cursor there.
- `Timeline`: the projector's state. Per offer: its latest change, the latest instant that change
  was evaluated at, and the ticks that arrived before their change. It turns changes and ticks
  into `Evaluation`s: a change and the instant to project it at.

Ordering between the two topics (read together, with no order between them), as `Timeline` does:
- A change is evaluated at its own time; a change of a version already seen (a redelivery) is not
  evaluated again.
- A tick applies to the version it names, and only if `at` is later than the latest evaluation of
  that version: a tick not later than its change's own time adds nothing (the change's projection
  at its own, later time covers it), and a duplicate tick adds nothing.
- A tick for a version the projector has not read yet (it lags on `sitn.regional.changes`) waits
  until that change arrives, then applies to it. Dropping it would be wrong: that change is older
  than the tick, its own projection shows what the tick takes away, and no other tick would come.
- A tick for a version older than the offer's latest change is dropped: the scheduler ticks every
  boundary of the newer version after that version's own time, so nothing is lost.
The state after a set of changes and ticks does not depend on the order they were read in, so a
restart rebuilds it from the two topics' prefixes (`restore`). Each offer's last evaluation, hence
what every diffuser finally holds of it, does not depend on that order either; the entries on the
way may (a tick of version v read before or after change v+1), so a replay that reads the same
batches in the same order writes the same feed.

Times: a naive time is taken as UTC, as `hub.core.registry.Validity.covers` does.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from hub.core.diffusion_rules import (
    BoundaryFacts,
    BoundaryPlanner,
    boundary_facts,
    possible_concessions,
)
from hub.core.regional import RegionalChange
from hub.core.registry import Registry, Validity


@dataclass(frozen=True)
class Tick:
    """The wall clock passed a diffusion boundary of an offer: evaluate it again at `at`."""

    offer_id: str
    version: int  # the regional version whose boundary `at` is
    at: datetime  # the boundary instant (aware, UTC): the time of the entries it causes
    reason: str  # what changes at `at`, for people (not read by any rule)


@dataclass(frozen=True)
class Evaluation:
    """Project `change` for every diffuser at `at` (its own time, or a tick's)."""

    change: RegionalChange
    at: datetime


# ---------------------------------------------------------------- the projector's side


@dataclass(frozen=True)
class Kept:
    """An offer's latest change as a store keeps it: its version, and how to have it whole
    (decoded only when a tick needs it, so a restart reads the offers without decoding them)."""

    version: int
    load: Callable[[], RegionalChange]


@dataclass(frozen=True)
class OfferTimeline:
    """One offer's part of a `Timeline`, as it is saved and restored."""

    offer_id: str
    latest: RegionalChange | Kept | None  # None: only ticks waiting for a change not read yet
    evaluated_at: datetime | None
    waiting: tuple[Tick, ...]


class Timeline:
    """Per offer: its latest change, when it was last evaluated, ticks waiting for their change.

    The offers whose part changed since the last `touched()` are noted (in the order they were
    touched), so a projector can save just those with the entries they caused.
    """

    def __init__(self) -> None:
        self._latest: dict[str, RegionalChange | Kept] = {}
        # Kept changes loaded for a tick: the part stays `Kept` (its bytes are stored already).
        self._loaded: dict[str, RegionalChange] = {}
        self._evaluated: dict[str, datetime] = {}  # the latest evaluation of the latest change
        self._waiting: dict[str, list[Tick]] = {}  # ticks of versions not read yet
        self._touched: dict[str, None] = {}

    def change(self, change: RegionalChange) -> list[Evaluation]:
        """The evaluations `change` causes: itself at its own time, then the ticks that waited."""
        known = self._latest.get(change.offer_id)
        if known is not None and change.version <= known.version:
            return []
        self._touched[change.offer_id] = None
        self._latest[change.offer_id] = change
        self._loaded.pop(change.offer_id, None)
        self._evaluated[change.offer_id] = _utc(change.occurred_at)
        evaluations = [Evaluation(change, change.occurred_at)]
        waiting = self._waiting.pop(change.offer_id, [])
        later = [tick for tick in waiting if tick.version > change.version]
        if later:
            self._waiting[change.offer_id] = later
        for tick in waiting:
            if tick.version == change.version:
                evaluation = self.tick(tick)
                if evaluation is not None:
                    evaluations.append(evaluation)
        return evaluations

    def tick(self, tick: Tick) -> Evaluation | None:
        """The evaluation `tick` causes, if any (the module docstring says when)."""
        latest = self._latest.get(tick.offer_id)
        if latest is None or tick.version > latest.version:
            self._touched[tick.offer_id] = None
            self._waiting.setdefault(tick.offer_id, []).append(tick)
            return None
        at = _utc(tick.at)
        if tick.version < latest.version or at <= self._evaluated[tick.offer_id]:
            return None
        self._touched[tick.offer_id] = None
        self._evaluated[tick.offer_id] = at
        return Evaluation(self._whole(tick.offer_id), tick.at)

    def _whole(self, offer_id: str) -> RegionalChange:
        latest = self._latest[offer_id]
        if not isinstance(latest, Kept):
            return latest
        if offer_id not in self._loaded:
            self._loaded[offer_id] = latest.load()
        return self._loaded[offer_id]

    def touched(self) -> list[OfferTimeline]:
        """The parts of the offers touched since the last call, in the order first touched."""
        parts = [self.part(offer_id) for offer_id in self._touched]
        self._touched = {}
        return parts

    def part(self, offer_id: str) -> OfferTimeline:
        return OfferTimeline(
            offer_id,
            self._latest.get(offer_id),
            self._evaluated.get(offer_id),
            tuple(self._waiting.get(offer_id, ())),
        )

    def restore_parts(self, parts: Iterable[OfferTimeline]) -> None:
        """Takes in saved parts (one per offer), evaluating nothing."""
        for part in parts:
            if part.latest is not None and part.evaluated_at is not None:
                self._latest[part.offer_id] = part.latest
                self._evaluated[part.offer_id] = _utc(part.evaluated_at)
            if part.waiting:
                self._waiting[part.offer_id] = list(part.waiting)

    def restore(self, changes: Iterable[RegionalChange], ticks: Iterable[Tick]) -> None:
        """Takes in what was already projected (the topics' prefixes), evaluating nothing."""
        for change in changes:
            self.change(change)
        for tick in ticks:
            self.tick(tick)
        self._touched = {}

    def latest(self, offer_id: str) -> RegionalChange | None:
        return self._whole(offer_id) if offer_id in self._latest else None

    def evaluated_at(self, offer_id: str) -> datetime | None:
        """The latest instant the offer's latest change was evaluated at (None: unknown offer)."""
        return self._evaluated.get(offer_id)

    def waiting(self) -> list[Tick]:
        """The ticks waiting for their change, by offer id then arrival."""
        return [tick for offer_id in sorted(self._waiting) for tick in self._waiting[offer_id]]


# ---------------------------------------------------------------- the scheduler's side


class TickSchedule:
    """Per offer: its latest change's `BoundaryFacts`, the cursor up to which it is ticked, and its
    next boundary.

    `observe_change` and `observe_tick` only take note; boundaries are computed by `due` and
    `next_due` with the registry they are given (all again when it is another registry).
    """

    def __init__(self) -> None:
        self._changes: dict[str, BoundaryFacts] = {}  # of each offer's latest change
        self._ticked: dict[str, Tick] = {}  # the latest tick per offer, by (version, at)
        self._next: dict[str, datetime] = {}  # the next boundary (absent: none)
        self._queue: list[tuple[datetime, str]] = []  # (boundary, offer); stale entries skipped
        self._stale: dict[str, None] = {}  # offers whose next boundary must be computed again
        self._planner: BoundaryPlanner | None = None  # of the registry the boundaries are of

    def observe_change(self, change: RegionalChange | BoundaryFacts) -> None:
        """Takes note of a change (or only of what its boundaries depend on: the same)."""
        known = self._changes.get(change.offer_id)
        if known is not None and change.version <= known.version:
            return  # a redelivery: its boundaries are scheduled already
        self._changes[change.offer_id] = boundary_facts(change)
        self._stale[change.offer_id] = None

    def observe_tick(self, tick: Tick) -> None:
        known = self._ticked.get(tick.offer_id)
        if known is not None and (tick.version, _utc(tick.at)) <= (known.version, _utc(known.at)):
            return
        self._ticked[tick.offer_id] = tick
        self._stale[tick.offer_id] = None

    def restore(
        self, changes: Iterable[RegionalChange | BoundaryFacts], ticks: Iterable[Tick]
    ) -> None:
        for change in changes:
            self.observe_change(change)
        for tick in ticks:
            self.observe_tick(tick)

    def cursor(self, offer_id: str) -> datetime | None:
        """The instant up to which the offer's latest change is ticked (None: unknown offer)."""
        change = self._changes.get(offer_id)
        if change is None:
            return None
        cursor = _utc(change.occurred_at)
        tick = self._ticked.get(offer_id)
        if tick is not None and tick.version == change.version:
            cursor = max(cursor, _utc(tick.at))
        return cursor

    def next_due(self, registry: Registry) -> datetime | None:
        """The earliest boundary not ticked yet, over every offer (None: none at all)."""
        self._refresh(registry)
        while self._queue and self._next.get(self._queue[0][1]) != self._queue[0][0]:
            heapq.heappop(self._queue)
        return self._queue[0][0] if self._queue else None

    def due(self, registry: Registry, now: datetime) -> list[Tick]:
        """The ticks of every offer whose next boundary is not after `now`, by boundary then offer.

        Each is taken in (as `observe_tick`), so asking again at the same `now` gives none.
        """
        planner = self._refresh(registry)
        now = _utc(now)
        ticks: list[Tick] = []
        while self._queue and self._queue[0][0] <= now:
            at, offer_id = heapq.heappop(self._queue)
            if self._next.get(offer_id) != at:
                continue  # superseded by a newer change, tick or registry
            tick = self._latest_passed(self._changes[offer_id], planner, at, now)
            ticks.append(tick)
            self.observe_tick(tick)
            self._refresh(registry)
        return ticks

    def _refresh(self, registry: Registry) -> BoundaryPlanner:
        if self._planner is None or registry is not self._planner.registry:
            self._planner = BoundaryPlanner(registry)
            self._queue = []
            self._next = {}
            self._stale = dict.fromkeys(sorted(self._changes))
        planner = self._planner
        for offer_id in self._stale:
            cursor = self.cursor(offer_id)
            boundary = (
                None
                if cursor is None
                else planner.next_boundary(self._changes[offer_id], after=cursor)
            )
            if boundary is None:
                self._next.pop(offer_id, None)
            else:
                self._next[offer_id] = boundary
                heapq.heappush(self._queue, (boundary, offer_id))
        self._stale = {}
        if len(self._queue) > 2 * len(self._next) + 1024:
            # Superseded entries wait in the heap until their time: drop them before they pile up.
            self._queue = [(at, offer_id) for offer_id, at in self._next.items()]
            heapq.heapify(self._queue)
        return planner

    @staticmethod
    def _latest_passed(
        change: BoundaryFacts, planner: BoundaryPlanner, first: datetime, now: datetime
    ) -> Tick:
        at, passed = first, 1
        while (following := planner.next_boundary(change, after=at)) is not None and (
            following <= now
        ):
            at, passed = following, passed + 1
        reason = describe_boundary(change, planner.registry, at)
        if passed > 1:
            reason = (
                f"{reason} (the latest of {passed} boundaries passed since {first.isoformat()})"
            )
        return Tick(change.offer_id, change.version, at, reason)


# ---------------------------------------------------------------- labels


def describe_boundary(
    change: RegionalChange | BoundaryFacts, registry: Registry, at: datetime
) -> str:
    """What starts or ends at the boundary `at` for this offer, for people (ids and urls sorted)."""
    facts = boundary_facts(change)
    day = _utc(at).date()
    causes: list[str] = []
    for media in sorted(facts.media, key=lambda item: item.url):
        window = Validity(media.rights_start, media.rights_end)
        causes += [f"rights of media {media.url} {edge}" for edge in _edges(window, day)]
    last = facts.last_event_day
    if last is not None and _ends_before(last, day):
        causes.append(f"the event's last date, {last.isoformat()}, has passed")
    for convention in sorted(registry.diffusion_conventions, key=lambda c: c.convention_id):
        covers = (not convention.offer_types or facts.offer_type in convention.offer_types) and (
            not convention.departments or facts.department in convention.departments
        )
        if covers:
            causes += [
                f"diffusion convention {convention.convention_id} {edge}"
                for edge in _edges(convention.validity, day)
            ]
    for concession in sorted(possible_concessions(facts, registry), key=lambda c: c.concession_id):
        causes += [
            f"concession {concession.concession_id} {edge}"
            for edge in _edges(concession.validity, day)
        ]
    return "; ".join(causes) or f"a diffusion boundary of {facts.offer_id} at {at.isoformat()}"


def _edges(validity: Validity, day: date) -> list[str]:
    edges = []
    if validity.valid_from == day:
        edges.append(f"start on {day.isoformat()}")
    if validity.valid_until is not None and _ends_before(validity.valid_until, day):
        edges.append(f"ended on {validity.valid_until.isoformat()}")
    return edges


def _ends_before(last: date, day: date) -> bool:
    """True if an inclusive window whose last day is `last` stops at the start of `day`."""
    return day > date.min and last == day - timedelta(days=1)


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
