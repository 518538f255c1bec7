"""Turning full snapshots into change events: what snapshot adapters share, and the diff.

Most departmental software can only export everything it holds. An adapter (`producers.tourinsoft`,
`producers.datatourisme`) maps each exported record to a `SnapshotOffer`, reporting every record or
value it cannot use as a `RecordProblem` and keeping going. This module then compares the snapshot
with what the same contributor imported from the same source last time and plans only the changes.

Guarantees:
- The state kept between imports is small: per offer, its type, its source id, whether we withdrew
  it, and one digest per field group (sha256 of a canonical JSON form with sorted keys and
  normalised amounts, so equal content always gives equal digests: 10, 10.0 and 10,00 are one
  price). It lives in `<SITN_HOME>/snapshots/<org>/<source>.json`, written atomically.
- `diff_snapshot` is pure: a new offer gives `OfferCreated`; an offer whose groups changed gives
  one `FieldGroupsChanged` holding just those groups; an offer gone from the snapshot gives one
  `OfferWithdrawn`; an unchanged offer gives nothing. The same snapshot imported twice plans
  nothing.
- A record present in the snapshot but unusable this time (malformed, failing the charte, or
  changing type) is reported and left as it was: it is neither published nor withdrawn.
- A file of the snapshot that cannot be read at all (a `FileFailure`) makes the snapshot
  incomplete: `plan_import` then withdraws nothing (it lists the offers it would have withdrawn
  as withheld), unless told to allow a partial snapshot; the offers read are still planned.
- A withdrawn offer that reappears is *changed back to published*: one `FieldGroupsChanged` with
  the diffusion group (published) and every group that changed meanwhile. It is not re-created,
  because the hub still holds the offer and its history; a second creation would be a conflict.
- The state only moves forward for offers whose change was published (see `settle_state`), so a
  failed or partial publish is retried by the next import of the same snapshot.
- Numbers are read within bounds (`parse_decimal`, `parse_count`): a numeric text of more than
  `NUMBER_TEXT_MAX` characters, an exponent beyond `NUMBER_EXPONENT_MAX` or a count that is not
  a plain whole number of at most `COUNT_DIGITS_MAX` digits is refused before any arithmetic.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from hashlib import sha256
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hub.core.charte import check_new_offer
from hub.core.contribution import FieldGroupsChanged, OfferCreated, OfferWithdrawn
from hub.core.offer import (
    Accessibility,
    Capacity,
    DiffusionStatus,
    FieldGroup,
    OfferFields,
    OfferType,
    Prices,
    PrivateBlock,
)
from hub.core.territory import Territory
from producers.publisher import Change

STATE_FORMAT = 1

# The empty value of each group that has one: what a change carries when the source stopped
# giving a group (None would mean "untouched"). Location and diffusion cannot be emptied.
_EMPTY_GROUP: Mapping[FieldGroup, object] = {
    FieldGroup.NAMES: (),
    FieldGroup.DESCRIPTIONS: (),
    FieldGroup.CONTACTS: (),
    FieldGroup.OPENING: (),
    FieldGroup.EVENT_DATES: (),
    FieldGroup.PRICES: Prices(),
    FieldGroup.CLASSIFICATIONS: (),
    FieldGroup.ACCESSIBILITY: Accessibility(),
    FieldGroup.CAPACITY: Capacity(),
    FieldGroup.MEDIA: (),
    FieldGroup.EXTERNAL_IDS: (),
    FieldGroup.PRIVATE: PrivateBlock(),
}


class SnapshotError(ValueError):
    """A snapshot file or a state file that cannot be read at all (not one bad record)."""


@dataclass(frozen=True)
class RecordProblem:
    """Something wrong in one exported record: which record, which source field, what to do.

    `skipped` says whether the whole record was left out (True) or only the value was ignored
    and the rest of the record imported (False). `file` names the file of the snapshot the record
    is in, when the adapter knows it.
    """

    record_id: str
    field: str
    reason: str
    skipped: bool = True
    file: str = ""

    def describe(self) -> str:
        outcome = "record skipped" if self.skipped else "value ignored"
        where = f", {self.field}" if self.field else ""
        in_file = f"{self.file}: " if self.file and self.file != self.record_id else ""
        return f"{in_file}{self.record_id}{where}: {self.reason} ({outcome})"


@dataclass(frozen=True)
class FileFailure:
    """A file of a snapshot that could not be read at all (unreadable, truncated, refused).

    Which offers it held is unknown, so an import with a failed file plans no withdrawal of the
    offers missing from the snapshot (unless the operator allows a partial snapshot).
    """

    file: str
    reason: str

    def describe(self) -> str:
        return f"{self.file}: {self.reason}"


@dataclass(frozen=True)
class SnapshotOffer:
    """One offer as a snapshot gives it: its full content and when the source last changed it."""

    offer_id: str
    offer_type: OfferType
    fields: OfferFields
    occurred_at: datetime  # timezone-aware
    source_id: str


@dataclass(frozen=True)
class ParsedSnapshot:
    """What an adapter made of a snapshot: the usable offers, every problem and every file that
    could not be read, in file order."""

    offers: tuple[SnapshotOffer, ...]
    problems: tuple[RecordProblem, ...] = ()
    failed_files: tuple[FileFailure, ...] = ()

    @property
    def present_ids(self) -> frozenset[str]:
        """Ids of every record the snapshot holds, usable or not (those must not be withdrawn)."""
        return frozenset(
            {offer.offer_id for offer in self.offers}
            | {problem.record_id for problem in self.problems}
        )


class SnapshotCollector:
    """Gathers an adapter's parsed records in file order into a `ParsedSnapshot`.

    A snapshot must hold one record per offer: a record repeating the id of an earlier one is
    reported against `id_field` and left out, the first is kept (the order of the file decides,
    never a set's).
    """

    def __init__(self, id_field: str) -> None:
        self.id_field = id_field
        self._offers: list[SnapshotOffer] = []
        self._problems: list[RecordProblem] = []
        self._seen: set[str] = set()
        self._failed: list[FileFailure] = []

    def problem(self, problem: RecordProblem) -> None:
        self._problems.append(problem)

    def failed(self, file: str, reason: str) -> None:
        """A file that could not be read at all: its records are unknown."""
        self._failed.append(FileFailure(file, reason))

    def add(
        self,
        offer: SnapshotOffer | None,
        problems: Sequence[RecordProblem],
        repeated: str,
        *,
        file: str = "",
    ) -> None:
        """One record's outcome; `repeated` says which record it is if its id was seen before.

        `file` is the file the record came from: its problems are marked with it.
        """
        self._problems += [replace(p, file=p.file or file) for p in problems]
        if offer is None:
            return
        if offer.offer_id in self._seen:
            self._problems.append(
                RecordProblem(
                    offer.offer_id,
                    self.id_field,
                    f"{repeated} repeats an id an earlier record has; the first is kept",
                    file=file,
                )
            )
            return
        self._seen.add(offer.offer_id)
        self._offers.append(offer)

    def parsed(self) -> ParsedSnapshot:
        return ParsedSnapshot(tuple(self._offers), tuple(self._problems), tuple(self._failed))


@dataclass(frozen=True)
class KnownOffer:
    """What the previous import left of an offer: enough to diff, not its content."""

    offer_type: OfferType
    source_id: str
    digests: tuple[tuple[FieldGroup, str], ...]  # in FieldGroup order, set groups only
    withdrawn: bool = False

    def digest(self, group: FieldGroup) -> str | None:
        return dict(self.digests).get(group)


SnapshotState = Mapping[str, KnownOffer]


# ---------------------------------------------------------------- digests


def _canonical(value: object) -> object:
    """A JSON-ready form of a field value that is equal exactly when the contents are equal."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        # 10, 10.0 and 10,00 in an export are the same price.
        return format(value.normalize(), "f") if value.is_finite() else str(value)
    if isinstance(value, date):  # datetimes included
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        return {item.name: _canonical(getattr(value, item.name)) for item in fields(value)}
    if isinstance(value, tuple | list):
        return [_canonical(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"no canonical form for {type(value).__name__}")


def group_digest(group: FieldGroup, value: object) -> str:
    """sha256 of the canonical JSON of one group's value (hex)."""
    text = json.dumps(
        [group.value, _canonical(value)],
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
        allow_nan=True,
    )
    return sha256(text.encode("utf-8")).hexdigest()


def group_digests(offer_fields: OfferFields) -> tuple[tuple[FieldGroup, str], ...]:
    """One digest per group that is set, in `FieldGroup` order."""
    return tuple(
        (group, group_digest(group, getattr(offer_fields, group.value)))
        for group in offer_fields.groups()
    )


# ---------------------------------------------------------------- the diff


def withdrawal_reason(source_system: str, taken_at: datetime) -> str:
    return f"absent from the {source_system} snapshot of {taken_at.date().isoformat()}"


def diff_snapshot(
    previous: SnapshotState,
    current: Sequence[SnapshotOffer],
    *,
    source_system: str,
    taken_at: datetime,
    keep: Collection[str] = (),
    withdraw_missing: bool = True,
) -> tuple[list[Change], dict[str, KnownOffer]]:
    """The changes that bring the hub from `previous` to `current`, and the state after them.

    `keep` names offers that are in the snapshot but unusable this time: they are neither changed
    nor withdrawn, and keep their previous state; with `withdraw_missing` False, so does every
    offer missing from `current` (the snapshot is known to be incomplete). `taken_at`
    (timezone-aware) is when the snapshot was taken: withdrawals happen then. A known offer keeps
    the type it was created with (`plan_import` reports records that try to change it). If an id
    appears twice in `current`, the first one counts. Changes come in snapshot order, then
    withdrawals by offer id.
    """
    changes: list[Change] = []
    next_state: dict[str, KnownOffer] = {}
    for offer in current:
        if offer.offer_id in next_state:
            continue
        digests = group_digests(offer.fields)
        known = previous.get(offer.offer_id)
        if known is None:
            payload: OfferCreated | FieldGroupsChanged = OfferCreated(
                offer.offer_type, offer.fields
            )
            next_state[offer.offer_id] = KnownOffer(offer.offer_type, offer.source_id, digests)
        else:
            change_fields, digests = _changed_groups(known, offer.fields, digests)
            next_state[offer.offer_id] = KnownOffer(known.offer_type, offer.source_id, digests)
            if change_fields is None:
                continue
            payload = FieldGroupsChanged(change_fields)
        changes.append(
            Change(
                offer_id=offer.offer_id,
                payload=payload,
                occurred_at=offer.occurred_at,
                source_system=source_system,
                source_id=offer.source_id,
            )
        )
    reason = withdrawal_reason(source_system, taken_at)
    for offer_id in sorted(previous):
        if offer_id in next_state:
            continue
        known = previous[offer_id]
        if known.withdrawn or offer_id in keep or not withdraw_missing:
            next_state[offer_id] = known
            continue
        changes.append(
            Change(
                offer_id=offer_id,
                payload=OfferWithdrawn(reason),
                occurred_at=taken_at,
                source_system=source_system,
                source_id=known.source_id,
            )
        )
        next_state[offer_id] = replace(known, withdrawn=True)
    return changes, next_state


def _changed_groups(
    known: KnownOffer, current: OfferFields, digests: tuple[tuple[FieldGroup, str], ...]
) -> tuple[OfferFields | None, tuple[tuple[FieldGroup, str], ...]]:
    """The change for a known offer (None if nothing changed) and the digests to remember."""
    now = dict(digests)
    values: dict[str, Any] = {}  # group name -> its value, as OfferFields takes them
    remembered: dict[FieldGroup, str] = {}
    for group in FieldGroup:
        before, after = known.digest(group), now.get(group)
        if after is not None:
            remembered[group] = after
            if after != before:
                values[group.value] = getattr(current, group.value)
        elif before is not None:
            if group in _EMPTY_GROUP:
                values[group.value] = _EMPTY_GROUP[group]
            else:
                # Nothing can say "no location any more": the hub keeps what it has.
                remembered[group] = before
    if known.withdrawn:
        values[FieldGroup.DIFFUSION.value] = current.diffusion or DiffusionStatus.PUBLISHED
    ordered = tuple((g, remembered[g]) for g in FieldGroup if g in remembered)
    if not values:
        return None, ordered
    return replace(OfferFields(), **values), ordered


# ---------------------------------------------------------------- planning an import


@dataclass(frozen=True)
class ImportPlan:
    """What an import would publish, what it could not use, and the state once published.

    `withheld` lists the offers missing from the snapshot that were not withdrawn because a file
    of it failed (`failed_files`); with a partial snapshot allowed they are in `withdrawn`.
    """

    source_system: str
    taken_at: datetime
    changes: tuple[Change, ...]
    next_state: Mapping[str, KnownOffer]
    problems: tuple[RecordProblem, ...]
    failed_files: tuple[FileFailure, ...] = ()
    created: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    republished: tuple[str, ...] = ()
    withdrawn: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    withheld: tuple[str, ...] = ()

    @property
    def warnings(self) -> tuple[RecordProblem, ...]:
        return tuple(problem for problem in self.problems if not problem.skipped)

    @property
    def bad_records(self) -> tuple[RecordProblem, ...]:
        return tuple(problem for problem in self.problems if problem.skipped)


def plan_import(
    previous: SnapshotState,
    snapshot: ParsedSnapshot,
    *,
    source_system: str,
    taken_at: datetime,
    territory: Territory,
    allow_partial: bool = False,
) -> ImportPlan:
    """Judge each offer of the snapshot against the charte, then diff the usable ones.

    If a file of the snapshot failed, the offers it held are unknown: none of the offers missing
    from the snapshot is withdrawn (they are `withheld`) unless `allow_partial` is given.
    """
    problems = list(snapshot.problems)
    usable: list[SnapshotOffer] = []
    for offer in snapshot.offers:
        known = previous.get(offer.offer_id)
        if known is not None and known.offer_type is not offer.offer_type:
            problems.append(
                RecordProblem(
                    offer.offer_id,
                    "type",
                    f"the offer was imported as {known.offer_type.value} and is now "
                    f"{offer.offer_type.value}; an offer cannot change type: delete it and "
                    "create it again under a new id",
                )
            )
            continue
        violations = check_new_offer(offer.offer_id, offer.offer_type, offer.fields, territory)
        if violations:
            problems += [
                RecordProblem(offer.offer_id, v.field, f"{v.message} [{v.rule}]")
                for v in violations
            ]
            continue
        usable.append(offer)
    keep = snapshot.present_ids - {offer.offer_id for offer in usable}
    withdraw_missing = allow_partial or not snapshot.failed_files
    changes, next_state = diff_snapshot(
        previous,
        usable,
        source_system=source_system,
        taken_at=taken_at,
        keep=keep,
        withdraw_missing=withdraw_missing,
    )
    current = {offer.offer_id for offer in usable} | keep
    withheld = (
        ()
        if withdraw_missing
        else tuple(
            offer_id
            for offer_id, known in sorted(previous.items())
            if not known.withdrawn and offer_id not in current
        )
    )
    touched = {change.offer_id for change in changes}
    created, changed, republished, withdrawn = [], [], [], []
    for change in changes:
        if isinstance(change.payload, OfferCreated):
            created.append(change.offer_id)
        elif isinstance(change.payload, OfferWithdrawn):
            withdrawn.append(change.offer_id)
        elif previous[change.offer_id].withdrawn:
            republished.append(change.offer_id)
        else:
            changed.append(change.offer_id)
    unchanged: list[str] = []
    for offer in usable:
        if offer.offer_id not in touched and offer.offer_id not in unchanged:
            unchanged.append(offer.offer_id)
    skipped = sorted({p.record_id for p in problems if p.skipped} - {o.offer_id for o in usable})
    return ImportPlan(
        source_system=source_system,
        taken_at=taken_at,
        changes=tuple(changes),
        next_state=next_state,
        problems=tuple(problems),
        failed_files=snapshot.failed_files,
        created=tuple(created),
        changed=tuple(changed),
        republished=tuple(republished),
        withdrawn=tuple(withdrawn),
        unchanged=tuple(unchanged),
        skipped=tuple(skipped),
        withheld=withheld,
    )


def settle_state(
    previous: SnapshotState, plan: ImportPlan, published: Iterable[str]
) -> dict[str, KnownOffer]:
    """The state to save after publishing `plan`: only published changes move it forward.

    An offer whose change was not published keeps its previous entry (or stays unknown if it
    was new), so the next import plans that change again. Offers without a change take their
    planned entry.
    """
    done = set(published)
    pending = {change.offer_id for change in plan.changes} - done
    settled: dict[str, KnownOffer] = {}
    for offer_id, planned in sorted(plan.next_state.items()):
        if offer_id not in pending:
            settled[offer_id] = planned
        elif offer_id in previous:
            settled[offer_id] = previous[offer_id]
    return settled


# ---------------------------------------------------------------- the state file


def state_path(home: Path, org: str, source_system: str) -> Path:
    """`<home>/snapshots/<org>/<source>.json`."""
    return home / "snapshots" / org / f"{source_system}.json"


def load_state(path: Path) -> dict[str, KnownOffer]:
    """The state a previous import saved; empty if there was none."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise SnapshotError(f"cannot read the snapshot state {path}: {error}") from error
    try:
        document = json.loads(text)
        if document.get("format") != STATE_FORMAT:
            raise ValueError(f"format {document.get('format')!r}, expected {STATE_FORMAT}")
        return {
            offer_id: KnownOffer(
                offer_type=OfferType(entry["type"]),
                source_id=str(entry["source_id"]),
                digests=tuple(
                    (group, str(entry["groups"][group.value]))
                    for group in FieldGroup
                    if group.value in entry["groups"]
                ),
                withdrawn=bool(entry.get("withdrawn", False)),
            )
            for offer_id, entry in document["offers"].items()
        }
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise SnapshotError(
            f"the snapshot state {path} is damaged ({error}); move it away to import the next "
            "snapshot as if it were the first (every offer is then sent again as a creation)"
        ) from error


def save_state(path: Path, state: SnapshotState) -> None:
    """Write the state atomically: a reader sees the old file or the new one, never half."""
    document = {
        "format": STATE_FORMAT,
        "offers": {
            offer_id: {
                "type": known.offer_type.value,
                "source_id": known.source_id,
                "withdrawn": known.withdrawn,
                "groups": {group.value: digest for group, digest in known.digests},
            }
            for offer_id, known in sorted(state.items())
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(document, handle, ensure_ascii=False, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------- values as exports write them

# Exports from French software write local times without an offset.
SOURCE_TIME_ZONE = ZoneInfo("Europe/Paris")

_DAY_FIRST = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")


# A number in an export is a price, a coordinate or a count: a few dozen characters and an
# exponent of a few units cover every real one. Longer texts and larger exponents are refused by a
# regular expression before any arithmetic, because Decimal and int of a text such as "1e800000"
# take seconds and megabytes (and the canonical form of a price would print every digit).
NUMBER_TEXT_MAX = 40
NUMBER_EXPONENT_MAX = 24  # |adjusted exponent|: up to 10^24, down to 10^-24
# A count (persons, rooms, pitches) below a million: the largest festival is far from it.
COUNT_DIGITS_MAX = 6

_NUMBER_NOISE = re.compile(r"[\s\u00a0\u202f€]")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_COUNT = re.compile(r"([0-9]+)(?:\.0*)?")


def parse_decimal(text: str) -> Decimal:
    """A number written with '.' or ',' decimals, spaces between thousands, maybe a euro sign.

    Texts longer than `NUMBER_TEXT_MAX` or with an exponent beyond `NUMBER_EXPONENT_MAX` are
    refused before any arithmetic, so a hostile value costs microseconds.
    """
    if len(text) > NUMBER_TEXT_MAX:
        raise ValueError(
            f"{_number_shown(text)} is not a number: longer than {NUMBER_TEXT_MAX} characters"
        )
    cleaned = _NUMBER_NOISE.sub("", text).replace(",", ".")
    if _NUMBER.fullmatch(cleaned) is None:
        raise ValueError(f"{text!r} is not a number")
    try:
        number = Decimal(cleaned)
        if abs(number.adjusted()) > NUMBER_EXPONENT_MAX:
            raise ArithmeticError
    except ArithmeticError:  # an exponent beyond even Decimal's range, too
        raise ValueError(
            f"{text!r} is not a number the hub keeps: its magnitude is beyond "
            f"10^±{NUMBER_EXPONENT_MAX}; write the amount in plain digits"
        ) from None
    return number


def parse_count(text: str) -> int:
    """A count (persons, rooms, pitches): a whole number of 0 or more, in plain digits.

    Spaces between thousands and a zero decimal part ("12,0") are accepted; anything else, and
    more than `COUNT_DIGITS_MAX` digits, is refused before any arithmetic.
    """
    count = None
    if len(text) <= NUMBER_TEXT_MAX:
        count = _COUNT.fullmatch(_NUMBER_NOISE.sub("", text).replace(",", "."))
    if count is None or len(count.group(1).lstrip("0")) > COUNT_DIGITS_MAX:
        raise ValueError(
            f"{_number_shown(text)} is not a count; expected a whole number of 0 or more in "
            f"plain digits (at most {COUNT_DIGITS_MAX}), such as 12"
        )
    return int(count.group(1))


def _number_shown(text: str) -> str:
    return repr(text) if len(text) <= NUMBER_TEXT_MAX else f"{text[:20]!r}... ({len(text)} chars)"


def parse_coordinate(value: object) -> float:
    """Decimal degrees from a number or a string with '.' or ',' decimals."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"{value!r} is not a number")
    if isinstance(value, str):
        return float(parse_decimal(value))
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(f"{value!r} is not a number")
    return number


def parse_day(text: str) -> date:
    """A day written dd/mm/yyyy or ISO (yyyy-mm-dd, or a timestamp whose day is taken)."""
    written = text.strip()
    day_first = _DAY_FIRST.fullmatch(written)
    try:
        if day_first:
            day, month, year = (int(part) for part in day_first.group(1, 2, 3))
            return date(year, month, day)
        if len(written) == 10:
            return date.fromisoformat(written)
        return datetime.fromisoformat(written).date()
    except ValueError:
        raise ValueError(f"{text!r} is not a date; expected dd/mm/yyyy or yyyy-mm-dd") from None


def parse_instant(text: str) -> datetime:
    """A timezone-aware time from ISO or dd/mm/yyyy [hh:mm[:ss]]; local French time if no offset."""
    written = text.strip()
    day_first = _DAY_FIRST.fullmatch(written)
    try:
        if day_first:
            day, month, year = (int(part) for part in day_first.group(1, 2, 3))
            hour, minute, second = (int(part or 0) for part in day_first.group(4, 5, 6))
            moment = datetime(year, month, day, hour, minute, second)  # noqa: DTZ001 - zoned below
        else:
            moment = datetime.fromisoformat(written)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date and time; expected ISO 8601 (2024-03-12T10:15:00+01:00) "
            "or dd/mm/yyyy hh:mm"
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        moment = moment.replace(tzinfo=SOURCE_TIME_ZONE)
    return moment


# ---------------------------------------------------------------- communes by name


def fold(text: str) -> str:
    """Text compared loosely: no accents, no case, punctuation and runs of spaces as one space."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return re.sub(r"[^0-9a-z]+", " ", bare.casefold()).strip()


# How exports abbreviate the saints communes are named after.
_ABBREVIATIONS = ((re.compile(r"\bste\b"), "sainte"), (re.compile(r"\bst\b"), "saint"))


def _commune_key(name: str) -> str:
    key = fold(name)
    for pattern, full in _ABBREVIATIONS:
        key = pattern.sub(full, key)
    return key


class CommuneNames:
    """Finds a commune's INSEE code from its name and the department of its postal code."""

    def __init__(self, territory: Territory) -> None:
        self.territory = territory
        self._codes: dict[tuple[str, str], list[str]] = {}
        for insee, commune in territory.items():
            for department in (commune.department, ""):  # "": anywhere in the territory
                key = (department, _commune_key(commune.name))
                self._codes.setdefault(key, []).append(insee)

    def resolve(self, name: str, postal_code: str | None) -> tuple[str | None, str | None]:
        """(INSEE code, None), or (None, why no single commune fits)."""
        department = ""
        where = "Normandy"
        if postal_code:
            department = postal_code.strip()[:2]
            where = f"department {department}"
            if department not in self.territory.departments:
                return None, (
                    f"postal code {postal_code!r} is not in Normandy's departments "
                    f"({', '.join(self.territory.departments)})"
                )
        codes = self._codes.get((department, _commune_key(name)), [])
        if len(codes) == 1:
            return codes[0], None
        if not codes:
            return None, (
                f"no commune named {name!r} in {where}; give the commune's official name or "
                "its INSEE code"
            )
        return None, (
            f"{name!r} names {len(codes)} communes in {where} ({', '.join(codes)}); "
            "give the postal code or the INSEE code"
        )
