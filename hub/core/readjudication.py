"""Re-judging the contributions with the registry as it now stands (`sitn replay readjudicate`).

After a convention is added, corrected or removed, contributions the hub already judged may deserve
another verdict. This module says which corrections the regional history needs, as pure functions
of the contributions, the current regional state, the registry and a time:

- `judged_prefix`: how far each contribution partition was judged by the hub (the worker's
  committed offset, or further if an output of the hub names a later record's event), so that
  what the worker has not judged yet is left to it.
- `merge_order`: the order to judge the contributions of every topic in. The hub judges them in
  the order they *arrived*, which the topics alone do not record across contributors; what does
  record it is when the hub produced its verdict. So each contribution is placed at the Kafka
  timestamp of the hub's output for its event (its regional change if it was accepted, else its
  earliest rejection: `judged_ms`); one without an output (no effect, or not judged) is placed at
  the later of its own timestamp and the place of the record before it in its partition. Ties are
  broken by (topic, partition, offset), so the order is total and the same on every run.
- `readjudicate`: runs `hub.core.collection.decide` over those contributions from an empty state,
  each offer's verdicts as the registry now allows them, and compares each offer's resulting state
  with its latest `RegionalChange`. Where they differ it returns a `Correction`: a new
  `RegionalChange` that carries the re-judged state (content, status, per-group provenance with
  the authority that now allows each group, the contributors' versions for rule 5), with the
  offer's next version, so the store, the diffusers' feeds and a restarted worker take it like any
  other change. An offer none of whose contributions is accepted any more is deleted (it has no
  ground to be in the base; diffusers get a removal). Offers without any contribution in the input
  are left alone.

Corrections are identified by `event_id = "readjudication:<offer>:<version>:<digest>"`, a digest of
the re-judged state: the same inputs give the same id, and once a correction is in the history,
the same inputs give no correction at all (running it twice emits nothing the second time). A
correction names `READJUDICATION` as its contributor and `source_version` 0 (no contributor's
numbering caused it); its time is the `at` given (the caller's clock), or the offer's latest time
if that is later, so each offer's event times never go back.

Limits: the verdicts' order is the hub's arrival order up to the clock that stamped its outputs;
two contributors' contributions to one offer judged within the same millisecond (or by workers
whose clocks disagree) may be taken in another order than the hub took them. An organisation
removed from the registry fails rule 1, so what it contributed is withdrawn.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from hub.core.collection import (
    Accepted,
    Context,
    OfferState,
    Rejected,
    Rejection,
    arrival,
    decide,
    evolve,
)
from hub.core.contribution import Contribution
from hub.core.offer import FieldGroup, OfferFields, OfferType
from hub.core.regional import ContributorVersion, OfferStatus, Provenance, RegionalChange
from hub.core.registry import Registry
from hub.core.territory import Territory

# Who a correction names as its contributor: no organisation id can contain a colon.
READJUDICATION = "hub:readjudication"
EVENT_PREFIX = "readjudication:"

Position = tuple[str, int]  # (topic, partition)
EventKey = tuple[str, str]  # (contributor, event id), as contributions and outputs name them


@dataclass(frozen=True)
class ContributionRecord:
    """A contribution as read from its topic: where, when it was written, who owns the topic."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    topic_owner: str  # rule 1 compares the envelope's contributor with it
    contribution: Contribution

    @property
    def event_key(self) -> EventKey:
        return (self.contribution.contributor, self.contribution.event_id)


def judged_prefix(
    records: Iterable[ContributionRecord],
    committed: Mapping[Position, int],
    judged: Iterable[EventKey],
) -> dict[Position, int]:
    """Per partition, the offset below which the hub has judged every record.

    It is the worker's committed offset there, or one past the last record whose event has an
    output of the hub (a regional change or a rejection) if that is further: a worker that stopped
    before committing has still judged those. Partitions with neither are absent (nothing judged).
    """
    outputs = set(judged)
    cut: dict[Position, int] = {key: offset for key, offset in committed.items() if offset > 0}
    for record in records:
        if record.event_key in outputs:
            key = (record.topic, record.partition)
            cut[key] = max(cut.get(key, 0), record.offset + 1)
    return cut


def merge_order(
    records: Iterable[ContributionRecord], judged_ms: Mapping[EventKey, int]
) -> list[ContributionRecord]:
    """The records in the order to judge them (see the module docstring)."""
    partitions: dict[Position, list[ContributionRecord]] = {}
    for record in records:
        partitions.setdefault((record.topic, record.partition), []).append(record)
    placed: list[tuple[tuple[int, str, int, int], ContributionRecord]] = []
    seen: set[EventKey] = set()
    for key in sorted(partitions):
        before: int | None = None
        for record in sorted(partitions[key], key=lambda r: r.offset):
            # Only the first record of an event was judged on its merits; a re-sent duplicate
            # found the hub already holding it, so it takes its own place in its partition.
            at = judged_ms.get(record.event_key) if record.event_key not in seen else None
            seen.add(record.event_key)
            if at is None:
                at = record.timestamp_ms if before is None else max(before, record.timestamp_ms)
            before = at
            placed.append(((at, record.topic, record.partition, record.offset), record))
    placed.sort(key=lambda item: item[0])
    return [record for _, record in placed]


def latest_changes(history: Iterable[RegionalChange]) -> dict[str, RegionalChange]:
    """Each offer's latest change (highest version) in `history`, whatever order it is read in."""
    latest: dict[str, RegionalChange] = {}
    for change in history:
        known = latest.get(change.offer_id)
        if known is None or change.version > known.version:
            latest[change.offer_id] = change
    return latest


class CorrectionKind(StrEnum):
    ACCEPTED = "accepted"  # the offer enters the base: its creation is now accepted
    WITHDRAWN = "withdrawn"  # the offer leaves the base: none of its contributions is accepted
    STATUS = "status"  # its status changes (e.g. a withdrawal now accepted)
    GROUPS = "groups"  # some field groups gain, lose or change value or authority


class GroupChangeKind(StrEnum):
    GAINED = "gained"  # set now, unset before
    LOST = "lost"  # set before, unset now
    REPLACED = "replaced"  # another contribution's value now
    REAUTHORISED = "reauthorised"  # same contribution, another authority


@dataclass(frozen=True)
class GroupCorrection:
    """What the new verdicts change in one field group of one offer."""

    group: FieldGroup
    before: Provenance | None  # who had set it in the regional base, under which authority
    after: Provenance | None  # who sets it now, and the authority that now allows it
    refusal: Rejection | None  # why the contribution that had set it is now refused, if it is

    @property
    def kind(self) -> GroupChangeKind:
        if self.before is None:
            return GroupChangeKind.GAINED
        if self.after is None:
            return GroupChangeKind.LOST
        if self.after.event_id == self.before.event_id:
            return GroupChangeKind.REAUTHORISED
        return GroupChangeKind.REPLACED


@dataclass(frozen=True)
class Correction:
    """The change to emit for one offer, and what it corrects."""

    change: RegionalChange
    previous: RegionalChange | None  # the offer's latest change before it (None: not in the base)
    groups: tuple[GroupCorrection, ...]  # in FieldGroup order

    @property
    def kind(self) -> CorrectionKind:
        if self.previous is None:
            return CorrectionKind.ACCEPTED
        if self.change.status is OfferStatus.DELETED and self.previous.status is not (
            OfferStatus.DELETED
        ):
            return CorrectionKind.WITHDRAWN
        if self.change.status is not self.previous.status:
            return CorrectionKind.STATUS
        return CorrectionKind.GROUPS


@dataclass(frozen=True)
class Readjudication:
    """The corrections (by offer id) and how the re-run judged the contributions."""

    corrections: tuple[Correction, ...]
    judged: int = 0
    accepted: int = 0
    partially_rejected: int = 0
    rejected: int = 0
    no_effect: int = 0


def readjudicate(
    records: Sequence[ContributionRecord],
    current: Mapping[str, RegionalChange],
    registry: Registry,
    territory: Territory,
    at: datetime,
) -> Readjudication:
    """Judge `records` in the order given (see `merge_order`) with `registry`, and compare.

    `current` maps each offer id to its latest regional change (see `latest_changes`); `at` is
    the corrections' time (aware). Returns the corrections of the offers whose re-judged state
    differs from their current one, by offer id.
    """
    states: dict[str, OfferState] = {}
    refusals: dict[EventKey, _Refusal] = {}
    offers: dict[str, None] = {}
    accepted = partial = rejected = no_effect = 0
    for record in records:
        c = record.contribution
        offers[c.offer_id] = None
        verdict = decide(
            states.get(c.offer_id),
            c,
            Context(
                topic_owner=record.topic_owner,
                registry=registry,
                territory=territory,
                received_at=arrival(record.timestamp_ms),
            ),
        )
        if isinstance(verdict, Accepted):
            states[c.offer_id] = verdict.state
            if verdict.partial is None:
                accepted += 1
            else:
                partial += 1
                refusals[record.event_key] = _Refusal(verdict.partial, whole=False)
        elif isinstance(verdict, Rejected):
            rejected += 1
            refusals[record.event_key] = _Refusal(verdict.rejection, whole=True)
        else:
            no_effect += 1
    corrections = [
        correction
        for offer_id in sorted(offers)
        if (
            correction := _correction(
                offer_id, current.get(offer_id), states.get(offer_id), refusals, at
            )
        )
        is not None
    ]
    return Readjudication(
        tuple(corrections),
        judged=len(records),
        accepted=accepted,
        partially_rejected=partial,
        rejected=rejected,
        no_effect=no_effect,
    )


@dataclass(frozen=True)
class _Refusal:
    """The re-run's refusal of a contribution: of all of it, or of `rejected_groups` only."""

    rejection: Rejection
    whole: bool

    def covers(self, group: FieldGroup) -> bool:
        groups = self.rejection.rejected_groups
        return self.whole or not groups or group in groups


@dataclass(frozen=True)
class _Content:
    """What a correction must make true of an offer (its state without the version)."""

    offer_type: OfferType
    status: OfferStatus
    fields: OfferFields
    provenance: tuple[Provenance, ...]
    contributor_versions: tuple[ContributorVersion, ...]


def _content(state: OfferState) -> _Content:
    return _Content(
        state.offer_type, state.status, state.fields, state.provenance, state.contributor_versions
    )


def _correction(
    offer_id: str,
    previous: RegionalChange | None,
    target: OfferState | None,
    refusals: Mapping[EventKey, _Refusal],
    at: datetime,
) -> Correction | None:
    if target is None:
        if previous is None:
            return None
        # No contribution of the offer stands: it has no ground to be in the base.
        wanted = _Content(previous.offer_type, OfferStatus.DELETED, OfferFields(), (), ())
    else:
        wanted = _content(target)
    before = evolve(previous) if previous is not None else None
    if before is not None and _content(before) == wanted:
        return None
    groups = _group_corrections(before, wanted, refusals)
    version = (previous.version if previous is not None else 0) + 1
    when = at if previous is None else max(at, previous.occurred_at)
    change = RegionalChange(
        offer_id=offer_id,
        version=version,
        offer_type=wanted.offer_type,
        status=wanted.status,
        changed_groups=tuple(g.group for g in groups),
        public=wanted.fields.public(),
        private=wanted.fields.private,
        provenance=wanted.provenance,
        event_id=f"{EVENT_PREFIX}{offer_id}:{version}:{_digest(wanted)}",
        contributor=READJUDICATION,
        occurred_at=when,
        source_version=0,
        contributor_versions=wanted.contributor_versions,
    )
    return Correction(change, previous, groups)


def _group_corrections(
    before: OfferState | None, wanted: _Content, refusals: Mapping[EventKey, _Refusal]
) -> tuple[GroupCorrection, ...]:
    old = {p.group: p for p in before.provenance} if before is not None else {}
    new = {p.group: p for p in wanted.provenance}
    found: list[GroupCorrection] = []
    for group in FieldGroup:
        was = getattr(before.fields, group.value) if before is not None else None
        now = getattr(wanted.fields, group.value)
        if old.get(group) == new.get(group) and was == now:
            continue
        previous = old.get(group)
        refusal = None
        if previous is not None:
            refused = refusals.get((previous.contributor, previous.event_id))
            if refused is not None and refused.covers(group):
                refusal = refused.rejection
        found.append(GroupCorrection(group, previous, new.get(group), refusal))
    return tuple(found)


def _digest(content: _Content) -> str:
    # repr of these frozen values (tuples, enums, decimals, aware datetimes) is deterministic.
    return hashlib.sha256(repr(content).encode()).hexdigest()[:16]
