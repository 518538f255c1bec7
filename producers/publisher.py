"""`Publisher`: what a departmental system, tourist office or federator uses to publish changes.

Guarantees:
- Validation first: every change of a batch is checked (offer id, time zone, the *charte de saisie*)
  before anything is sent; with `skip_invalid=False` (the default) one invalid change means nothing
  is sent, and the report names each refused record, field and rule.
- Source versions are monotonic per offer: the publisher assigns `last + 1` (or checks a version the
  caller gives is newer) and records them in a local SQLite file *before* sending, so a crash or a
  retry can leave gaps but never reuses a version for different content. A version whose send is
  not known to have committed stays pending with its content's digest: the same change sent again
  gets that version again (given or numbered), any other content a newer one. Event ids are derived
  from (contributor, offer, version): re-sending the same change is a duplicate the hub drops.
- Each record is keyed by offer id on `sitn.contrib.<contributor>` and sent by an idempotent,
  transactional producer (acks=all). A batch is committed in chunks that never split one offer's
  changes, so consumers reading committed data never see half of an offer's batch; the report lists
  exactly which events were committed, at which partition and offset.
- A broker that cannot be reached is retried with backoff, then reported with nothing sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, UnknownTopicOrPartitionError

from hub.codec import encode_contribution, encode_customer_record
from hub.core.charte import Violation, check_change, check_new_offer
from hub.core.contribution import (
    Contribution,
    CustomerRecord,
    FieldGroupsChanged,
    OfferCreated,
    OfferDeleted,
    OfferWithdrawn,
    Payload,
)
from hub.core.territory import Territory
from hub.kafka_clients import security_options, topic_partitions
from hub.topics import contrib_topic, publisher_transactional_id

DEFAULT_CHUNK = 2000


@dataclass(frozen=True)
class Change:
    """One change to publish; the publisher gives it an event id and a source version."""

    offer_id: str
    payload: Payload
    occurred_at: datetime  # timezone-aware: rules are judged at this time
    source_system: str
    source_id: str
    source_version: int | None = None  # None: the publisher assigns the next one


@dataclass(frozen=True)
class Refusal:
    """A change refused before sending: its position in the batch and what is wrong."""

    position: int
    offer_id: str
    violations: tuple[Violation, ...]

    def describe(self) -> str:
        details = "; ".join(f"{v.field}: {v.message} [{v.rule}]" for v in self.violations)
        return f"offer {self.offer_id}: {details}"


@dataclass(frozen=True)
class SentEvent:
    event_id: str
    offer_id: str
    source_version: int
    partition: int
    offset: int


@dataclass(frozen=True)
class PublishReport:
    """Exactly what happened: committed events, refused changes, changes not sent, the error."""

    topic: str
    sent: tuple[SentEvent, ...] = ()
    refused: tuple[Refusal, ...] = ()
    unsent: tuple[Change, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not self.refused


@dataclass
class _Chunk:
    contributions: list[Contribution] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)


class VersionLedger:
    """The last source version used per offer, in `<state_dir>/<contributor>.versions.sqlite`,
    and the versions reserved for a send not known to have committed, with a digest of what was
    to be sent: the same content may be sent again under its version (a retry of one event),
    other content never (a version never names two contents)."""

    def __init__(self, state_dir: Path, contributor: str) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / f"{contributor}.versions.sqlite"
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        with self._db:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS versions (offer_id TEXT PRIMARY KEY, version INTEGER)"
            )
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS pending (offer_id TEXT, version INTEGER, digest TEXT, "
                "PRIMARY KEY (offer_id, version))"
            )

    def last_versions(self, offer_ids: Iterable[str]) -> dict[str, int]:
        return dict(self._rows("versions", "", offer_ids))

    def pending(self, offer_ids: Iterable[str]) -> dict[tuple[str, int], str]:
        """(offer id, version) -> digest of each reservation of `offer_ids` not confirmed."""
        rows = self._rows("pending", ", digest", offer_ids)
        return {(offer_id, version): digest for offer_id, version, digest in rows}

    def _rows(self, table: str, more: str, offer_ids: Iterable[str]) -> list[tuple[Any, ...]]:
        """(offer_id, version{more}) of `table`'s rows for `offer_ids`, 500 ids a query."""
        wanted = sorted(set(offer_ids))
        found: list[tuple[Any, ...]] = []
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            marks = ",".join("?" * len(part))
            found += self._db.execute(
                f"SELECT offer_id, version{more} FROM {table} WHERE offer_id IN ({marks})",  # noqa: S608 - our table names and placeholders only
                part,
            )
        return found

    def reserve(self, contributions: Sequence[Contribution], encoded: Sequence[bytes]) -> None:
        """Before a send: the versions are used, and pending with what they are to carry (the
        contributions' bytes, `encoded`, as they are sent)."""
        last: dict[str, int] = {}
        for c in contributions:
            last[c.offer_id] = max(last.get(c.offer_id, 0), c.source_version)
        with self._db:
            self._db.executemany(
                "INSERT INTO versions (offer_id, version) VALUES (?, ?) "
                "ON CONFLICT(offer_id) DO UPDATE SET version = excluded.version "
                "WHERE excluded.version > versions.version",
                sorted(last.items()),
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO pending (offer_id, version, digest) VALUES (?, ?, ?)",
                [
                    (c.offer_id, c.source_version, _digest(value))
                    for c, value in zip(contributions, encoded, strict=True)
                ],
            )

    def confirm(self, contributions: Sequence[Contribution]) -> None:
        """After a send committed: its versions are no longer pending."""
        with self._db:
            self._db.executemany(
                "DELETE FROM pending WHERE offer_id = ? AND version = ?",
                [(c.offer_id, c.source_version) for c in contributions],
            )

    def close(self) -> None:
        self._db.close()


def _is_retry(pending: dict[tuple[str, int], str], contribution: Contribution) -> bool:
    """Whether `contribution` is what a reserved version not known to be sent was to carry: then
    sending it again under that version is a retry of one event, not a second content."""
    digest = pending.get((contribution.offer_id, contribution.source_version))
    if digest is None or digest != content_digest(contribution):
        return False
    del pending[(contribution.offer_id, contribution.source_version)]  # one retry per file
    return True


def content_digest(contribution: Contribution) -> str:
    """What a version carries, as its encoded bytes' digest (the encoding is deterministic)."""
    return _digest(encode_contribution(contribution))


def _digest(value: bytes) -> str:
    return hashlib.sha256(value).hexdigest()


def validate(change: Change, territory: Territory) -> tuple[Violation, ...]:
    """Everything that can be checked before sending, as values."""
    problems: list[Violation] = []
    if change.occurred_at.tzinfo is None or change.occurred_at.utcoffset() is None:
        problems.append(
            Violation(
                "envelope.occurred_at",
                "occurred_at",
                f"{change.occurred_at.isoformat()} has no time zone; give an offset such as +01:00",
            )
        )
    if not change.source_system.strip() or not change.source_id.strip():
        problems.append(
            Violation(
                "envelope.source", "source_system", "source_system and source_id are required"
            )
        )
    if change.source_version is not None and change.source_version < 1:
        problems.append(
            Violation(
                "envelope.source_version",
                "source_version",
                f"{change.source_version} is not a positive version number",
            )
        )
    payload = change.payload
    if isinstance(payload, OfferCreated):
        problems += check_new_offer(change.offer_id, payload.offer_type, payload.fields, territory)
    elif isinstance(payload, FieldGroupsChanged):
        if not payload.fields.groups():
            problems.append(
                Violation(
                    "envelope.empty_change", "payload.fields", "the change sets no field group"
                )
            )
        problems += check_change(change.offer_id, None, payload.fields, territory)
    elif isinstance(payload, OfferWithdrawn | OfferDeleted) and not payload.reason.strip():
        problems.append(
            Violation(
                "envelope.reason", "payload.reason", "a withdrawal or deletion needs a reason"
            )
        )
    return tuple(problems)


def event_id_for(contributor: str, offer_id: str, version: int) -> str:
    return f"{contributor}/{offer_id}/{version}"


class Publisher:
    """Publishes one contributor's changes to its topic (see the module's guarantees)."""

    def __init__(
        self,
        *,
        bootstrap: str,
        contributor: str,
        state_dir: Path,
        territory: Territory,
        connect_attempts: int = 5,
        chunk_size: int = DEFAULT_CHUNK,
    ) -> None:
        self.bootstrap = bootstrap
        self.contributor = contributor
        self.topic = contrib_topic(contributor)
        self.state_dir = state_dir
        self.territory = territory
        self.connect_attempts = connect_attempts
        self.chunk_size = chunk_size

    async def publish(
        self,
        changes: Sequence[Change],
        *,
        skip_invalid: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> PublishReport:
        """Validate, number and send `changes`; `progress(n)` is told of each committed chunk."""
        refused = tuple(
            Refusal(position, change.offer_id, violations)
            for position, change in enumerate(changes, start=1)
            if (violations := validate(change, self.territory))
        )
        if refused and not skip_invalid:
            return PublishReport(self.topic, refused=refused, unsent=tuple(changes))
        refused_positions = {refusal.position for refusal in refused}
        valid = [c for i, c in enumerate(changes, start=1) if i not in refused_positions]
        if not valid:
            return PublishReport(self.topic, refused=refused)
        ledger = await asyncio.to_thread(VersionLedger, self.state_dir, self.contributor)
        try:
            chunks, version_refusals = await asyncio.to_thread(self._number, ledger, valid)
            refused += version_refusals
            if version_refusals and not skip_invalid:
                return PublishReport(self.topic, refused=refused, unsent=tuple(changes))
            return await self._send(ledger, chunks, refused, progress)
        finally:
            await asyncio.to_thread(ledger.close)

    def _number(
        self, ledger: VersionLedger, changes: list[Change]
    ) -> tuple[list[_Chunk], tuple[Refusal, ...]]:
        """Give each change its version; group changes by offer into chunks of ~chunk_size."""
        last = ledger.last_versions(change.offer_id for change in changes)
        pending = ledger.pending(change.offer_id for change in changes)
        by_offer: dict[str, list[Contribution]] = {}
        originals: dict[str, list[Change]] = {}
        refusals: list[Refusal] = []
        for position, change in enumerate(changes, start=1):
            previous = last.get(change.offer_id, 0)
            retried = False
            if change.source_version is not None:
                version = change.source_version
            elif _is_retry(pending, self._contribution(change, previous)):
                # What a send that did not commit reserved, the same again: its version.
                version, retried = previous, True
            else:
                version = previous + 1
            contribution = self._contribution(change, version)
            if version <= previous and not (retried or _is_retry(pending, contribution)):
                refusals.append(
                    Refusal(
                        position,
                        change.offer_id,
                        (
                            Violation(
                                "envelope.source_version",
                                "source_version",
                                f"version {version} is not newer than {previous}, the last one "
                                f"published for this offer; omit it to let the publisher number it",
                            ),
                        ),
                    )
                )
                continue
            last[change.offer_id] = max(version, previous)
            by_offer.setdefault(change.offer_id, []).append(contribution)
            originals.setdefault(change.offer_id, []).append(change)
        chunks: list[_Chunk] = [_Chunk()]
        for offer_id, contributions in by_offer.items():
            if len(chunks[-1].contributions) >= self.chunk_size:
                chunks.append(_Chunk())
            chunks[-1].contributions.extend(contributions)
            chunks[-1].changes.extend(originals[offer_id])
        return [chunk for chunk in chunks if chunk.contributions], tuple(refusals)

    def _contribution(self, change: Change, version: int) -> Contribution:
        return Contribution(
            event_id=event_id_for(self.contributor, change.offer_id, version),
            contributor=self.contributor,
            offer_id=change.offer_id,
            source_version=version,
            occurred_at=change.occurred_at,
            source_system=change.source_system,
            source_id=change.source_id,
            payload=change.payload,
        )

    async def _start_producer(self) -> AIOKafkaProducer:
        delay = 0.5
        for attempt in range(1, self.connect_attempts + 1):
            producer = AIOKafkaProducer(
                **security_options(),
                bootstrap_servers=self.bootstrap,
                client_id=f"sitn-publisher-{self.contributor}",
                acks="all",
                enable_idempotence=True,
                # One transactional id per contributor fences a second publisher of the same
                # contributor that would otherwise interleave with this one.
                transactional_id=publisher_transactional_id(self.contributor),
                linger_ms=10,
                max_batch_size=1 << 20,
                request_timeout_ms=15000,
            )
            try:
                await producer.start()
                return producer
            except (KafkaError, OSError):
                await producer.stop()
                if attempt == self.connect_attempts:
                    raise
                await asyncio.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    async def _missing_topic(self) -> str | None:
        """Why the contributor's topic cannot be written, if it does not exist: checked before any
        version is reserved, since a producer would only retry its metadata for a minute."""
        for attempt in range(1, self.connect_attempts + 1):
            try:
                await topic_partitions(self.bootstrap, [self.topic])
                return None
            except UnknownTopicOrPartitionError:
                break
            except (KafkaError, OSError) as error:
                # A topic just created may have no leader yet: retriable, like a broker restart.
                if attempt == self.connect_attempts:
                    return (
                        f"could not check the topic {self.topic} on Kafka at {self.bootstrap} "
                        f"({type(error).__name__}: {error}); nothing was published"
                    )
                await asyncio.sleep(0.5 * attempt)
        return (
            f"there is no topic {self.topic} on Kafka at {self.bootstrap}: "
            f"{self.contributor!r} is not an organisation registered with this hub (check "
            "--as; an operator registers an organisation with `sitn registry apply`, which "
            "creates its topic); nothing was published"
        )

    async def _send(
        self,
        ledger: VersionLedger,
        chunks: list[_Chunk],
        refused: tuple[Refusal, ...],
        progress: Callable[[int], None] | None,
    ) -> PublishReport:
        try:
            producer = await self._start_producer()
        except (KafkaError, OSError) as error:
            return PublishReport(
                self.topic,
                refused=refused,
                unsent=tuple(c for chunk in chunks for c in chunk.changes),
                error=f"could not reach Kafka at {self.bootstrap} after "
                f"{self.connect_attempts} attempts ({error}); nothing was published",
            )
        try:
            missing = await self._missing_topic()
        except BaseException:
            await producer.stop()
            raise
        if missing is not None:
            await producer.stop()
            return PublishReport(
                self.topic,
                refused=refused,
                unsent=tuple(c for chunk in chunks for c in chunk.changes),
                error=missing,
            )
        sent: list[SentEvent] = []
        try:
            for index, chunk in enumerate(chunks):
                # Reserve the versions before sending: a crash after the commit must not lead
                # to the same version being reused for different content.
                encoded = [encode_contribution(c) for c in chunk.contributions]
                await asyncio.to_thread(ledger.reserve, chunk.contributions, encoded)
                try:
                    sent += await self._send_chunk(producer, chunk, encoded)
                    await asyncio.to_thread(ledger.confirm, chunk.contributions)
                    if progress is not None:
                        progress(len(chunk.contributions))
                except (KafkaError, OSError) as error:
                    return PublishReport(
                        self.topic,
                        sent=tuple(sent),
                        refused=refused,
                        unsent=tuple(c for later in chunks[index:] for c in later.changes),
                        error=f"publishing to {self.topic} failed after {len(sent)} events "
                        f"({type(error).__name__}: {error}); the events listed as sent are "
                        "committed, the others were not published",
                    )
        finally:
            await producer.stop()
        return PublishReport(self.topic, sent=tuple(sent), refused=refused)

    async def _send_chunk(
        self, producer: AIOKafkaProducer, chunk: _Chunk, encoded: Sequence[bytes]
    ) -> list[SentEvent]:
        async with producer.transaction():
            futures = [
                await producer.send(self.topic, value=value, key=contribution.offer_id.encode())
                for contribution, value in zip(chunk.contributions, encoded, strict=True)
            ]
            metadata = await asyncio.gather(*futures)
        return [
            SentEvent(c.event_id, c.offer_id, c.source_version, m.partition, m.offset)
            for c, m in zip(chunk.contributions, metadata, strict=True)
        ]

    async def publish_customer_records(self, records: Sequence[CustomerRecord]) -> PublishReport:
        """Send customer data collected by this member (web forms, reception tools).

        They travel on the member's own topic, keyed by their event id, and the hub moves them to
        its private customer-data topic and table: they never join an offer. Each record must name
        this member as its collector.
        """
        foreign = [r.event_id for r in records if r.collector != self.contributor]
        if foreign:
            return PublishReport(
                self.topic,
                error=f"customer records {', '.join(foreign)} were not collected by "
                f"{self.contributor}; nothing was published",
            )
        try:
            producer = await self._start_producer()
        except (KafkaError, OSError) as error:
            return PublishReport(
                self.topic, error=f"could not reach Kafka at {self.bootstrap} ({error})"
            )
        try:
            async with producer.transaction():
                futures = [
                    await producer.send(
                        self.topic, value=encode_customer_record(r), key=r.event_id.encode()
                    )
                    for r in records
                ]
                metadata = await asyncio.gather(*futures)
        except (KafkaError, OSError) as error:
            return PublishReport(self.topic, error=f"publishing customer records failed: {error}")
        finally:
            await producer.stop()
        return PublishReport(
            self.topic,
            sent=tuple(
                SentEvent(r.event_id, "", 0, m.partition, m.offset)
                for r, m in zip(records, metadata, strict=True)
            ),
        )
