"""The diffusion rules (architecture §5): what a diffuser may see of an offer, what its feed gets.

Pure functions of one `RegionalChange` (the offer's full public state and provenance), the
registry and a time `at` (the event's time or a scheduled tick, never the wall clock):

- `project` is the diffuser's `View` of the offer at `at`, or `Excluded` with the first failed
  condition, checked in this order (the reason a removal carries):
  1. the offer is withdrawn or deleted → `WITHDRAWN`;
  2. its diffusion status is not `published` (unset counts as not published) → `UNPUBLISHED`;
  3. it is an event (FMA) whose last event date has passed → `EVENT_ENDED`; the offer-level
     conditions come first so that every diffuser gets the same reason for them;
  4. the diffuser has no diffusion convention in force → `CONVENTION_ENDED`;
  5. none of those conventions covers the offer's type and department (the first two characters
     of its commune INSEE code; an offer without a location is covered only by region-wide
     conventions) → `OUT_OF_TERRITORY`;
  6. no concession in force allows the diffuser's class → `RIGHTS_ENDED`. The concessions that
     count are those `Concession.covers` grants for the offer's id and type to *any contributor
     of the offer*, i.e. any organisation named in the change's provenance (the professional signs
     the standard contract with whichever board or office enters their offer); a concession listing
     the offer's id counts whoever contributed.
- A view holds the union of the field groups and of the languages of the conventions that cover
  the offer (never the private group, whatever a convention or a malformed change says); names and
  descriptions keep only those languages (a group left with no text stays set, empty); media keep
  only those whose rights window covers `at` and whose `allowed_classes` include the diffuser's
  class, unchanged (credit, licence, title and rights kept). Dates are all kept.
- `route` compares a projection with what the diffuser last received and says what to emit;
  `fan_out` does so for every diffuser, in diffuser id order.
- `next_boundary` is the next instant at which a projection may change with no new regional
  change, so a scheduler can emit a tick there and a replay reproduces it.

Time: every window is calendar days compared with the UTC date of `at`, as `Validity.covers` does
(a naive time is taken as UTC). A window from day F to day U (inclusive) is in force from F 00:00
UTC until the start of U+1 00:00 UTC; a media's rights window and an event's dates read the same
way. So the boundaries `next_boundary` returns are always midnights UTC.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

from hub.core.diffusion import DiffusionChange, DiffusionKind, DiffusionReason
from hub.core.offer import (
    PRIVATE_GROUPS,
    DiffuserClass,
    DiffusionStatus,
    FieldGroup,
    LocalizedText,
    Media,
    OfferFields,
    OfferType,
)
from hub.core.regional import OfferStatus, RegionalChange
from hub.core.registry import (
    Concession,
    Diffuser,
    DiffusionConvention,
    Registry,
    Validity,
)


@dataclass(frozen=True)
class View:
    """What one diffuser may see of an offer at one time (the body of an upsert)."""

    offer_type: OfferType
    fields: OfferFields


@dataclass(frozen=True)
class Excluded:
    """The offer is outside the diffuser's scope: the first failed condition and why."""

    reason: DiffusionReason
    detail: str


@dataclass
class Projections:
    """What the projections of one change at one time share, computed once for all diffusers.

    The checks of the offer alone (status, diffusion status, an event's end) are made once, and
    so are the facts every projection reads (department, set groups, text languages); the rights
    check depends on the diffuser's class only. A view is keyed by what actually
    selects its content: the covering conventions' field groups among those the offer has set,
    their languages among those its texts are in, and the indexes of the media the diffuser's
    class may show at `at`. Diffusers whose conventions differ only in groups or languages the
    offer lacks, or whose classes see the same media, then share one view object (built once,
    encoded once by the feeds). Valid for one (change, registry, at) only; `fan_out` makes one
    per change.
    """

    rights: dict[DiffuserClass, bool] = field(default_factory=dict)
    views: dict[tuple[tuple[FieldGroup, ...], frozenset[str], tuple[int, ...]], View] = field(
        default_factory=dict
    )
    media: dict[DiffuserClass, tuple[int, ...]] = field(default_factory=dict)
    # covering conventions' ids -> (their groups the offer has, their languages its texts are in)
    selections: dict[tuple[str, ...], tuple[tuple[FieldGroup, ...], frozenset[str]]] = field(
        default_factory=dict
    )
    common: Excluded | _InScope | None = None  # the diffuser-independent checks (`_common`)


def project(
    change: RegionalChange,
    diffuser: Diffuser,
    registry: Registry,
    at: datetime,
    shared: Projections | None = None,
) -> View | Excluded:
    """The diffuser's view of the offer at `at`, or why it gets none (module docstring order).

    `shared` carries what was already computed for other diffusers of the same change at the
    same `at` (see `Projections`); the result is the same with or without it.
    """
    shared = Projections() if shared is None else shared
    if shared.common is None:
        shared.common = _common(change, at)
    if isinstance(shared.common, Excluded):
        return shared.common
    public = change.public
    in_force = registry.diffusion_conventions_of(diffuser.diffuser_id, at)
    if not in_force:
        return Excluded(
            DiffusionReason.CONVENTION_ENDED,
            f"{diffuser.diffuser_id} has no diffusion convention in force on {_day(at)}",
        )
    department = shared.common.department
    covering = tuple(c for c in in_force if _covers(c, change.offer_type, department))
    if not covering:
        return Excluded(
            DiffusionReason.OUT_OF_TERRITORY,
            f"no diffusion convention of {diffuser.diffuser_id} in force on {_day(at)} "
            f"({', '.join(c.convention_id for c in in_force)}) covers {change.offer_type.value} "
            f"offers in department {department or '(no location)'}",
        )
    allowed = shared.rights.get(diffuser.diffuser_class)
    if allowed is None:
        allowed = _rights_allow(change, diffuser.diffuser_class, registry, at)
        shared.rights[diffuser.diffuser_class] = allowed
    if not allowed:
        return Excluded(
            DiffusionReason.RIGHTS_ENDED,
            f"no concession in force on {_day(at)} for {change.offer_id} (contributors: "
            f"{', '.join(_contributors(change)) or 'none'}) allows the "
            f"{diffuser.diffuser_class.value} class of {diffuser.diffuser_id}",
        )
    selected = tuple(c.convention_id for c in covering)
    selection = shared.selections.get(selected)
    if selection is None:
        scope_groups, scope_languages = _scope(covering)
        present, written_in = shared.common.groups, shared.common.languages
        selection = shared.selections[selected] = (
            tuple(group for group in scope_groups if group in present),
            scope_languages & written_in,
        )
    groups, languages = selection
    media: tuple[int, ...] = ()
    if FieldGroup.MEDIA in groups:
        found = shared.media.get(diffuser.diffuser_class)
        if found is None:
            found = _media_shown(public.media or (), diffuser.diffuser_class, at)
            shared.media[diffuser.diffuser_class] = found
        media = found
    shape = (groups, languages, media)
    view = shared.views.get(shape)
    if view is None:
        view = View(change.offer_type, _view_fields(public, groups, languages, media))
        shared.views[shape] = view
    return view


@dataclass(frozen=True)
class _InScope:
    """What of a change every diffuser's projection reads alike, once it is diffusable at all."""

    department: str | None
    groups: frozenset[FieldGroup]  # the groups the offer has set
    languages: frozenset[str]  # the languages its texts are written in


def _common(change: RegionalChange, at: datetime) -> Excluded | _InScope:
    """The checks that do not depend on the diffuser (status, diffusion status, event's end)."""
    offer = change.offer_id
    public = change.public
    if change.status is not OfferStatus.ACTIVE:
        return Excluded(
            DiffusionReason.WITHDRAWN,
            f"{offer} is {change.status.value} in the regional base (version {change.version})",
        )
    if public.diffusion is not DiffusionStatus.PUBLISHED:
        status = public.diffusion.value if public.diffusion is not None else "unset"
        return Excluded(
            DiffusionReason.UNPUBLISHED,
            f"{offer}'s diffusion status is {status}, not published (version {change.version})",
        )
    last = _last_event_day(change)
    if last is not None and not Validity(valid_until=last).covers(at):
        return Excluded(
            DiffusionReason.EVENT_ENDED,
            f"{offer} is an event whose last date, {last.isoformat()}, is before {_day(at)}",
        )
    return _InScope(_department(public), frozenset(public.groups()), _text_languages(public))


def _day(at: datetime) -> str:
    return _utc(at).date().isoformat()


@lru_cache(maxsize=4096)
def _scope(
    covering: tuple[DiffusionConvention, ...],
) -> tuple[tuple[FieldGroup, ...], frozenset[str]]:
    """The public field groups (in `FieldGroup` order) and languages some convention grants.

    Memoised by the conventions themselves (not their ids, which a new registry may reuse for
    other terms): a diffuser's conventions are the same from one change to the next.
    """
    granted = {group for c in covering for group in c.field_groups}
    return (
        tuple(g for g in FieldGroup if g in granted and g not in PRIVATE_GROUPS),
        frozenset(lang for c in covering for lang in c.languages),
    )


def route(
    previous: View | None,
    change: RegionalChange,
    diffuser: Diffuser,
    registry: Registry,
    at: datetime,
    shared: Projections | None = None,
) -> tuple[DiffusionChange | None, View | None]:
    """The feed entry to emit for `change` (or None) and the diffuser's new last-received view.

    `previous` is the view the diffuser last received for this offer, None if it received nothing
    or its last entry was a removal. Entering the scope is a full upsert, a different view an
    upsert, the same view (a change outside the diffuser's view) nothing, leaving a removal.
    `shared` is passed on to `project`.
    """
    projected = project(change, diffuser, registry, at, shared)

    def entry(kind: DiffusionKind, reason: DiffusionReason, view: View | None) -> DiffusionChange:
        return DiffusionChange(
            diffuser_id=diffuser.diffuser_id,
            offer_id=change.offer_id,
            version=change.version,
            kind=kind,
            reason=reason,
            offer_type=view.offer_type if view is not None else None,
            view=view.fields if view is not None else None,
            occurred_at=at,
        )

    if isinstance(projected, Excluded):
        if previous is None:
            return None, None
        return entry(DiffusionKind.REMOVAL, projected.reason, None), None
    if previous is None:
        return entry(DiffusionKind.UPSERT, DiffusionReason.ENTERED_SCOPE, projected), projected
    if projected != previous:
        return entry(DiffusionKind.UPSERT, DiffusionReason.CHANGED, projected), projected
    return None, previous


def fan_out(
    change: RegionalChange,
    previous_views: Mapping[str, View],
    registry: Registry,
    at: datetime,
) -> tuple[DiffusionChange, ...]:
    """`route` for every diffuser of the registry, in diffuser id order.

    `previous_views` maps a diffuser id to the view it last received (absent: none, or a removal);
    `last_received` gives the new value from each entry.
    """
    entries: list[DiffusionChange] = []
    shared = Projections()
    for diffuser_id in sorted(registry.diffusers):
        diffuser = registry.diffusers[diffuser_id]
        emitted, _ = route(previous_views.get(diffuser_id), change, diffuser, registry, at, shared)
        if emitted is not None:
            entries.append(emitted)
    return tuple(entries)


def last_received(entry: DiffusionChange) -> View | None:
    """What the diffuser holds of the offer after `entry`: its view, or None after a removal."""
    if entry.kind is DiffusionKind.REMOVAL or entry.offer_type is None or entry.view is None:
        return None
    return View(entry.offer_type, entry.view)


@dataclass(frozen=True)
class MediaRights:
    """A media item's rights window, as its boundaries read it."""

    url: str
    rights_start: date | None = None
    rights_end: date | None = None


@dataclass(frozen=True)
class BoundaryFacts:
    """What of a change its diffusion boundaries depend on: all `next_boundary` and a boundary's
    label read, a few hundred bytes where the change is kilobytes. The collection stage writes
    them beside each offer's ledger entry, so the scheduler restores without decoding changes."""

    offer_id: str
    version: int
    occurred_at: datetime
    offer_type: OfferType
    live: bool  # active and published: only then can time change what a diffuser sees
    department: str | None  # the first two characters of the commune's INSEE code
    contributors: tuple[str, ...]  # sorted, once each
    media: tuple[MediaRights, ...]  # those with a rights window (no other has an edge), in order
    last_event_day: date | None  # an event's last date; None for other types and dateless events


def boundary_facts(change: RegionalChange | BoundaryFacts) -> BoundaryFacts:
    if isinstance(change, BoundaryFacts):
        return change
    return BoundaryFacts(
        offer_id=change.offer_id,
        version=change.version,
        occurred_at=change.occurred_at,
        offer_type=change.offer_type,
        live=change.status is OfferStatus.ACTIVE
        and change.public.diffusion is DiffusionStatus.PUBLISHED,
        department=_department(change.public),
        contributors=_contributors(change),
        media=tuple(
            MediaRights(media.url, media.rights_start, media.rights_end)
            for media in change.public.media or ()
            if media.rights_start is not None or media.rights_end is not None
        ),
        last_event_day=_last_event_day(change),
    )


def next_boundary(
    change: RegionalChange | BoundaryFacts, registry: Registry, after: datetime
) -> datetime | None:
    """The earliest instant strictly after `after` at which a projection of `change` may change.

    Candidates are the bounds of the offer's media rights windows, the end of an event's last date
    (FMA), and the bounds of the diffusion conventions covering the offer's type and department and
    of the concessions that may cover the offer (whatever their validity). A withdrawn, deleted or
    unpublished offer, or an event already over, has none: only a new regional change can bring it
    back. A returned boundary may turn out to change nothing (then `route` emits nothing).
    """
    facts = boundary_facts(change)
    return _next_of(facts, after, _registry_edges(facts, registry))


class BoundaryPlanner:
    """`next_boundary` for many offers under one registry, giving the same instants.

    The conventions' and concessions' edges that may apply to an offer depend only on its type,
    department and contributors (and on its id, for a concession that lists offers), which many
    offers share: they are worked out once per such combination, not once per offer.
    """

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._listed = frozenset(o for c in registry.concessions for o in c.offers)
        self._edges: dict[tuple[object, ...], tuple[datetime, ...]] = {}

    def next_boundary(self, facts: BoundaryFacts, after: datetime) -> datetime | None:
        key = (
            facts.offer_type,
            facts.department,
            facts.contributors,
            facts.offer_id if facts.offer_id in self._listed else None,
        )
        edges = self._edges.get(key)
        if edges is None:
            edges = self._edges[key] = _registry_edges(facts, self.registry)
        return _next_of(facts, after, edges)


def _registry_edges(facts: BoundaryFacts, registry: Registry) -> tuple[datetime, ...]:
    """The bounds of the conventions covering the offer and of the concessions that may."""
    edges: list[datetime] = []
    for convention in registry.diffusion_conventions:
        if _covers(convention, facts.offer_type, facts.department):
            edges.extend(_edges(convention.validity))
    for concession in possible_concessions(facts, registry):
        edges.extend(_edges(concession.validity))
    return tuple(edges)


def _next_of(
    facts: BoundaryFacts, after: datetime, registry_edges: tuple[datetime, ...]
) -> datetime | None:
    if not facts.live:
        return None
    start = _utc(after)
    last = facts.last_event_day
    event_end = _day_after(last) if last is not None else None
    candidates: list[datetime] = list(registry_edges)
    for media in facts.media:
        candidates.extend(_edges(Validity(media.rights_start, media.rights_end)))
    if event_end is not None:
        candidates.append(event_end)
    future = (
        moment
        for moment in candidates
        if moment > start and (event_end is None or moment <= event_end)
    )
    return min(future, default=None)


# ---------------------------------------------------------------- scope


def _covers(convention: DiffusionConvention, offer_type: OfferType, department: str | None) -> bool:
    """Type and territory only; the caller has already checked the convention is in force."""
    return (not convention.offer_types or offer_type in convention.offer_types) and (
        not convention.departments
        or (department is not None and department in convention.departments)
    )


def _department(public: OfferFields) -> str | None:
    if public.location is None:
        return None
    return public.location.address.commune_insee[:2]


def _last_event_day(change: RegionalChange) -> date | None:
    """An event's last date; None for other types, and for an event without dates (never ends)."""
    dates = change.public.event_dates
    if change.offer_type is not OfferType.FMA or not dates:
        return None
    return max(occurrence.end for occurrence in dates)


def _contributors(change: RegionalChange) -> tuple[str, ...]:
    return tuple(sorted({p.contributor for p in change.provenance}))


def _rights_allow(
    change: RegionalChange, diffuser_class: DiffuserClass, registry: Registry, at: datetime
) -> bool:
    # With no provenance, only a concession listing the offer's id can prove a right.
    contributors: tuple[str | None, ...] = _contributors(change) or (None,)
    return any(
        diffuser_class in concession.allowed_classes
        for contributor in contributors
        for concession in registry.concessions_for(
            change.offer_id, at, contributor=contributor, offer_type=change.offer_type
        )
    )


def possible_concessions(facts: BoundaryFacts, registry: Registry) -> Iterator[Concession]:
    """The concessions that cover the offer at some time (their validity set aside)."""
    for concession in registry.concessions:
        if concession.may_cover(facts.offer_id, facts.contributors, facts.offer_type):
            yield concession


# ---------------------------------------------------------------- the view


def _view_fields(
    public: OfferFields,
    groups: tuple[FieldGroup, ...],
    languages: frozenset[str],
    media: tuple[int, ...],
) -> OfferFields:
    # `only` rebuilds the value from the listed groups, so a private block a malformed change
    # carried in `public` cannot come along.
    view = public.only(groups)
    return replace(
        view,
        names=_in_languages(view.names, languages),
        descriptions=_in_languages(view.descriptions, languages),
        media=None if view.media is None else tuple(view.media[i] for i in media),
    )


def _text_languages(public: OfferFields) -> frozenset[str]:
    """The languages the offer's names and descriptions are written in."""
    return frozenset(
        text.lang for texts in (public.names, public.descriptions) for text in texts or ()
    )


def _in_languages(
    texts: tuple[LocalizedText, ...] | None, languages: frozenset[str]
) -> tuple[LocalizedText, ...] | None:
    if texts is None:
        return None
    return tuple(text for text in texts if text.lang in languages)


def _media_shown(
    media: tuple[Media, ...], diffuser_class: DiffuserClass, at: datetime
) -> tuple[int, ...]:
    """The indexes of the media a diffuser of the class may show at `at`."""
    return tuple(
        index
        for index, item in enumerate(media)
        if diffuser_class in item.allowed_classes
        and Validity(item.rights_start, item.rights_end).covers(at)
    )


# ---------------------------------------------------------------- calendar days


def _utc(at: datetime) -> datetime:
    """`at` as an aware UTC time; a naive time is taken as UTC, as `Validity.covers` does."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _day_after(day: date) -> datetime | None:
    """The instant an inclusive window ending on `day` stops (None if the calendar ends first)."""
    return None if day == date.max else _midnight(day + timedelta(days=1))


def _edges(validity: Validity) -> Iterator[datetime]:
    if validity.valid_from is not None:
        yield _midnight(validity.valid_from)
    if validity.valid_until is not None:
        end = _day_after(validity.valid_until)
        if end is not None:
            yield end
