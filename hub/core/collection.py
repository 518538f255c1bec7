"""The collection rules (architecture §4): `decide` judges a contribution, `evolve` folds it in.

`decide(state, contribution, context)` is a pure function of the offer's current state, the
contribution and the registry in force at the contribution's own time; it returns a `Verdict`
value (never raises for a rule breach):
- `Accepted`: the new `RegionalChange` and state; `partial` holds the rejection of the field
  groups the contributor had no right to change (covered groups are applied, the rest refused);
- `Rejected`: nothing changes, the contributor gets rule ids and a message it can act on;
- `NoEffect`: a redelivery, or a source version older than the last one applied from that
  contributor: replaying it changes nothing and emits nothing. Another event reusing the version
  applied last is `Rejected` (`ordering.stale`).

Rules, in the order they are applied: 1 identity (the envelope's contributor owns the topic it was
read from), 5 ordering (a source version in 1..2^53, an event time from 1990 to a year after its
arrival, newer than the contributor's last applied), offer life cycle (unknown, deleted, type
change), 6 charte de saisie, then authority per field group: 2 principle (a CDT for offers in
its department), 3 the CRT's exceptions, 4 contribution conventions of OTs and federators. Rule 7
(privacy) is structural: the private group travels apart in `RegionalChange.private`, and
customer data is another record type.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Final

from hub.core.charte import Violation, check_change, check_new_offer
from hub.core.contribution import (
    Contribution,
    FieldGroupsChanged,
    OfferCreated,
    OfferDeleted,
    OfferWithdrawn,
)
from hub.core.offer import DiffusionStatus, FieldGroup, OfferFields, OfferType
from hub.core.regional import ContributorVersion, OfferStatus, Provenance, RegionalChange
from hub.core.registry import Organisation, OrgKind, Registry
from hub.core.territory import Territory


@dataclass(frozen=True)
class OfferState:
    """What the rules know of an offer: derivable from its latest `RegionalChange` alone."""

    offer_id: str
    offer_type: OfferType
    version: int
    status: OfferStatus
    fields: OfferFields  # the full content, private group included
    provenance: tuple[Provenance, ...]
    contributor_versions: tuple[ContributorVersion, ...]  # sorted by contributor

    def last_version_of(self, contributor: str) -> int:
        known = self.applied(contributor)
        return 0 if known is None else known.version

    def applied(self, contributor: str) -> ContributorVersion | None:
        """The contributor's last applied source version and event, if it contributed."""
        for known in self.contributor_versions:
            if known.contributor == contributor:
                return known
        return None


@dataclass(frozen=True)
class Rejection:
    event_id: str
    contributor: str
    offer_id: str
    occurred_at: datetime
    rule_ids: tuple[str, ...]
    message: str
    rejected_groups: tuple[FieldGroup, ...]  # the groups at fault; empty if none in particular


@dataclass(frozen=True)
class Accepted:
    change: RegionalChange
    state: OfferState
    partial: Rejection | None = None


@dataclass(frozen=True)
class Rejected:
    rejection: Rejection


@dataclass(frozen=True)
class NoEffect:
    reason: str


Verdict = Accepted | Rejected | NoEffect


@dataclass(frozen=True)
class Context:
    """What `decide` needs besides the state: who owns the topic, the registry, the territory,
    and when the contribution reached the broker (its record's time; None when unknown), which
    bounds how far ahead an event time may be."""

    topic_owner: str
    registry: Registry
    territory: Territory
    received_at: datetime | None = None


# Rule 5's bounds: the largest integer a JSON reader (JavaScript's numbers) carries exactly, the
# start of the consortium's era, and how far an event may be ahead of its arrival (clock skew and
# time zones are hours; a year is a typo).
MAX_SOURCE_VERSION: Final = 2**53
EARLIEST_EVENT: Final = datetime(1990, 1, 1, tzinfo=UTC)
LATEST_AHEAD: Final = timedelta(days=365)


def arrival(timestamp_ms: int) -> datetime | None:
    """A Kafka record's time as `Context.received_at`; None when it carries none (-1 in old
    message formats) or one before the era, which no broker's clock gives (a hand-made record)."""
    at = datetime.fromtimestamp(max(timestamp_ms, 0) / 1000, UTC)
    return at if at >= EARLIEST_EVENT else None


@dataclass(frozen=True)
class _Refusal:
    rule: str
    group: FieldGroup | None
    message: str


def decide(state: OfferState | None, contribution: Contribution, context: Context) -> Verdict:
    """Judge one contribution (see the module docstring for the rules and their order)."""
    c = contribution

    def reject(
        rules: tuple[str, ...],
        message: str,
        groups: tuple[FieldGroup, ...] = (),
        contributor: str = c.contributor,
    ) -> Rejected:
        return Rejected(
            Rejection(c.event_id, contributor, c.offer_id, c.occurred_at, rules, message, groups)
        )

    # Rule 1: identity. The refusal is the topic owner's to see: the organisation the envelope
    # names did not send it, and a forger must not fill another's rejections feed.
    if c.contributor != context.topic_owner:
        return reject(
            ("identity",),
            f"the envelope claims contributor {c.contributor!r} but was published on the topic of "
            f"{context.topic_owner!r}; publish on your own topic under your own id",
            contributor=context.topic_owner,
        )
    org = context.registry.organisation(c.contributor)
    if org is None:
        return reject(
            ("identity",),
            f"{c.contributor!r} is not an organisation of the registry; ask the consortium to "
            "register it before contributing",
        )

    # Rule 5: ordering. Versions and times that no source can mean are refused outright: a
    # version past 2^53 would leave the contributor no next one that JSON carries exactly.
    if not 1 <= c.source_version <= MAX_SOURCE_VERSION:
        return reject(
            ("ordering.source_version",),
            f"{c.event_id}: source version {c.source_version} is not between 1 and 2^53; number "
            "each offer's changes 1, 2, 3... (a counter, not a hash or a timestamp)",
        )
    if c.occurred_at < EARLIEST_EVENT:
        return reject(
            ("ordering.event_time",),
            f"{c.event_id}: event time {c.occurred_at.isoformat()} is before "
            f"{EARLIEST_EVENT.year}; send when the change was made in the source system (UTC)",
        )
    if context.received_at is not None and c.occurred_at > context.received_at + LATEST_AHEAD:
        return reject(
            ("ordering.event_time",),
            f"{c.event_id}: event time {c.occurred_at.isoformat()} is more than a year after it "
            f"reached the hub ({context.received_at.isoformat()}); check the source system's "
            "clock and time zone",
        )
    stale = _stale(state, c)
    if stale is not None:
        return stale if isinstance(stale, NoEffect) else reject(("ordering.stale",), stale)

    # Offer life cycle.
    payload = c.payload
    live = state is not None and state.status is not OfferStatus.DELETED
    if isinstance(payload, OfferCreated):
        if live and state is not None and payload.offer_type is not state.offer_type:
            return reject(
                ("offer.type_change",),
                f"{c.offer_id} is a {state.offer_type.value} offer and cannot become a "
                f"{payload.offer_type.value}; delete it and create a new offer instead",
            )
        offer_type = payload.offer_type
    elif not live or state is None:
        return reject(
            ("offer.unknown",),
            f"{c.offer_id} is not in the regional base"
            + (" (it was deleted)" if state is not None else "")
            + "; publish its creation first",
        )
    else:
        offer_type = state.offer_type

    # Rule 6: the charte de saisie, on what the contribution sets.
    if isinstance(payload, OfferCreated):
        violations = check_new_offer(c.offer_id, offer_type, payload.fields, context.territory)
    elif isinstance(payload, FieldGroupsChanged):
        violations = check_change(c.offer_id, offer_type, payload.fields, context.territory)
    else:
        violations = ()
    if violations:
        return reject(
            tuple(dict.fromkeys(v.rule for v in violations)),
            _describe(violations),
            _groups_of(violations),
        )

    # Rules 2, 3, 4: authority, per field group.
    current = state.fields if state is not None and live else OfferFields()
    commune = _commune(payload, current)
    if commune is None:
        return reject(
            ("charte.required",),
            f"{c.offer_id} has no location: a commune INSEE code is needed to judge who may "
            "contribute it",
            (FieldGroup.LOCATION,),
        )
    groups = payload.changed_groups
    authorities: dict[FieldGroup, str] = {}
    refusals: list[_Refusal] = []
    for group in groups:
        authority = _authority(org, offer_type, commune, group, c.occurred_at, context)
        if isinstance(authority, _Refusal):
            refusals.append(authority)
        else:
            authorities[group] = authority
    partial: Rejection | None = None
    if refusals:
        refused_groups = tuple(r.group for r in refusals if r.group is not None)
        rejection = Rejection(
            c.event_id,
            c.contributor,
            c.offer_id,
            c.occurred_at,
            tuple(dict.fromkeys(r.rule for r in refusals)),
            " ".join(dict.fromkeys(r.message for r in refusals)),
            refused_groups,
        )
        # A deletion or withdrawal is all or nothing; so is a creation missing required groups.
        if not authorities or isinstance(payload, OfferDeleted | OfferWithdrawn):
            return Rejected(rejection)
        partial = rejection

    accepted_groups = tuple(g for g in FieldGroup if g in authorities)
    if isinstance(payload, OfferCreated):
        accepted_fields = payload.fields.only(accepted_groups)
        if partial is not None:
            missing = check_new_offer(c.offer_id, offer_type, accepted_fields, context.territory)
            if missing:
                return Rejected(
                    replace(
                        partial,
                        message=partial.message
                        + " Without those groups the new offer is incomplete: "
                        + _describe(missing),
                    )
                )
        # A (re-)creation replaces the offer's content entirely.
        new_fields = accepted_fields
        status = OfferStatus.ACTIVE
    elif isinstance(payload, FieldGroupsChanged):
        new_fields = current.merged_with(payload.fields.only(accepted_groups))
        republished = payload.fields.diffusion is DiffusionStatus.PUBLISHED
        status = OfferStatus.ACTIVE if republished else _status(state)
    elif isinstance(payload, OfferWithdrawn):
        new_fields = current
        status = OfferStatus.WITHDRAWN
    else:
        new_fields = OfferFields()
        status = OfferStatus.DELETED

    return _accept(state, c, offer_type, accepted_groups, new_fields, status, authorities, partial)


def _stale(state: OfferState | None, c: Contribution) -> NoEffect | str | None:
    """Rule 5 against what was applied: None for a newer source version; the message of a stale
    change for another event carrying the version applied last (a redelivery carries its own
    event id); else `NoEffect`, a redelivery. An older version cannot be told from a redelivery
    without every applied event's id, which the state does not keep: it has no effect, as does
    a change written before events were recorded."""
    known = None if state is None else state.applied(c.contributor)
    if known is None or c.source_version > known.version:
        return None
    if (
        c.source_version == known.version
        and known.event_id is not None
        and c.event_id != known.event_id
    ):
        return (
            f"{c.event_id}: source version {c.source_version} of {c.contributor} was applied to "
            f"{c.offer_id} already, as event {known.event_id}; number each new change of an "
            "offer above the last one sent"
        )
    return NoEffect(
        f"{c.event_id}: source version {c.source_version} of {c.contributor} is not newer "
        f"than {known.version}, the last one applied to {c.offer_id}"
    )


def _status(state: OfferState | None) -> OfferStatus:
    return OfferStatus.ACTIVE if state is None else state.status


def _accept(
    state: OfferState | None,
    c: Contribution,
    offer_type: OfferType,
    accepted_groups: tuple[FieldGroup, ...],
    new_fields: OfferFields,
    status: OfferStatus,
    authorities: dict[FieldGroup, str],
    partial: Rejection | None,
) -> Accepted:
    previous = {p.group: p for p in state.provenance} if state is not None else {}
    provenance = tuple(
        Provenance(g, c.contributor, c.event_id, c.source_version, c.occurred_at, authorities[g])
        if g in authorities
        else previous[g]
        for g in new_fields.groups()
        if g in authorities or g in previous
    )
    versions = {v.contributor: v for v in state.contributor_versions} if state else {}
    versions[c.contributor] = ContributorVersion(c.contributor, c.source_version, c.event_id)
    contributor_versions = tuple(versions[k] for k in sorted(versions))
    version = (state.version if state is not None else 0) + 1
    new_state = OfferState(
        c.offer_id, offer_type, version, status, new_fields, provenance, contributor_versions
    )
    change = RegionalChange(
        offer_id=c.offer_id,
        version=version,
        offer_type=offer_type,
        status=status,
        changed_groups=accepted_groups,
        public=new_fields.public(),
        private=new_fields.private,
        provenance=provenance,
        event_id=c.event_id,
        contributor=c.contributor,
        occurred_at=c.occurred_at,
        source_version=c.source_version,
        contributor_versions=contributor_versions,
    )
    return Accepted(change, new_state, partial)


def evolve(change: RegionalChange) -> OfferState:
    """The rules' state of an offer after `change` (each change carries the full state)."""
    fields = change.public
    if change.private is not None:
        fields = fields.merged_with(OfferFields(private=change.private))
    return OfferState(
        change.offer_id,
        change.offer_type,
        change.version,
        change.status,
        fields,
        change.provenance,
        change.contributor_versions,
    )


def _commune(payload: object, current: OfferFields) -> str | None:
    fields = getattr(payload, "fields", None)
    location = fields.location if isinstance(fields, OfferFields) else None
    location = location or current.location
    return location.address.commune_insee if location is not None else None


def _authority(
    org: Organisation,
    offer_type: OfferType,
    commune: str,
    group: FieldGroup,
    at: datetime,
    context: Context,
) -> str | _Refusal:
    """Which rule lets `org` change `group` of this offer at `at`, or why none does."""
    department = context.territory.department_of(commune) or commune[:2]
    if org.kind is OrgKind.CDT:
        if org.department == department:
            return f"principle:{org.org_id}"
        return _Refusal(
            "principle",
            group,
            f"{org.org_id} contributes for offers located in department {org.department}; this "
            f"offer is in commune {commune} (department {department}): its CDT must publish it.",
        )
    if org.kind is OrgKind.CRT:
        for exception in context.registry.crt_exceptions(at):
            if exception.covers(offer_type, group, at):
                return f"exception:{exception.exception_id}"
        return _Refusal(
            "crt_exception",
            group,
            f"The CRT collects from the CDTs: no exception of the consortium convention in force "
            f"on {at.date().isoformat()} covers {offer_type.value} offers' {group.value}.",
        )
    conventions = context.registry.conventions_of(org.org_id, at)
    for convention in conventions:
        if convention.covers(offer_type, commune, group, at):
            return f"convention:{convention.convention_id}"
    return _Refusal(
        "convention", group, _why_uncovered(org, offer_type, commune, group, at, context)
    )


def _why_uncovered(
    org: Organisation,
    offer_type: OfferType,
    commune: str,
    group: FieldGroup,
    at: datetime,
    context: Context,
) -> str:
    conventions = context.registry.conventions_of(org.org_id, at)
    day = at.date().isoformat()
    if not conventions:
        return f"{org.org_id} has no contribution convention in force on {day}."
    if not any(offer_type in c.offer_types for c in conventions):
        return f"No convention of {org.org_id} in force on {day} covers {offer_type.value} offers."
    if not any(c.covers_place(commune) for c in conventions if offer_type in c.offer_types):
        return (
            f"No convention of {org.org_id} in force on {day} covers commune {commune} "
            f"for {offer_type.value} offers."
        )
    return (
        f"No convention of {org.org_id} in force on {day} covers the field group "
        f"'{group.value}' of {offer_type.value} offers in commune {commune}."
    )


def _groups_of(violations: tuple[Violation, ...]) -> tuple[FieldGroup, ...]:
    found = (_group_of(v) for v in violations)
    return tuple(dict.fromkeys(g for g in found if g is not None))


def _group_of(violation: Violation) -> FieldGroup | None:
    head = violation.field.split(".", 1)[0].split("[", 1)[0]
    try:
        return FieldGroup(head)
    except ValueError:
        return None


def _describe(violations: tuple[Violation, ...]) -> str:
    return "; ".join(f"{v.field}: {v.message} [{v.rule}]" for v in violations)
