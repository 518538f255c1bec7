"""Kafka side of `sitn replay readjudicate`: read the topics, judge again, emit the corrections.

The judging is `hub.core.readjudication` (pure); this module reads what it needs and produces what
it returns:
1. refuses to run while the worker's consumer group (`--group`, the worker's app id) has members;
2. reads the registry in force from `sitn.registry`, then, in one pass from their beginning to the
   end offsets they have when it starts, `sitn.regional.changes` (each offer's latest change, and
   when the hub produced each accepted change), `sitn.rejections` (when it produced each refusal)
   and every `sitn.contrib.<org>` topic on the broker (records that do not decode as a
   contribution, dead-lettered by the worker, and customer records are skipped);
3. keeps, per contribution partition, what the worker has judged (`judged_prefix`: its committed
   offset, or further if an output names a later event): the rest is the worker's to judge, with
   the registry it will then follow;
4. judges them again in `merge_order` with the registry as it now stands (in a worker thread);
5. unless it is a dry run, checks again that the group has no member and that
   `sitn.regional.changes` has not grown since it was read, then produces each correction,
   keyed by offer id, with the hub's idempotent acks=all producer, and waits for every ack.

Why this is safe with a single writer: the worker is the only other writer of
`sitn.regional.changes` and numbers versions from the state it restored at start. A correction
takes the offer's next version from the history read in step 2 while no worker runs, and is
produced in one transaction with the offer's collection ledger entry moved to it
(`sitn.collection.state`, and its boundary facts on `sitn.collection.boundaries` for the
scheduler), which the collection stage reads back at its next start; the store
projector and the diffusion projector read it like any regional change, so the store and the
diffusers' feeds show it. The checks of step 5 close the window to the time between them and the
last ack; do not start a worker while this command runs. Running it twice
emits nothing the second time: the first run's corrections are in the history the second one reads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from hub.codec import DecodeError, decode_contribution, writer_schema_of
from hub.collection_processor import ledger_outputs
from hub.core.ledger import OfferEntry
from hub.core.readjudication import (
    ContributionRecord,
    EventKey,
    Position,
    Readjudication,
    judged_prefix,
    merge_order,
    readjudicate,
)
from hub.core.regional import RegionalChange
from hub.core.registry import Registry
from hub.core.territory import Territory
from hub.kafka_clients import make_admin, make_consumer, security_options, topic_partitions
from hub.record_error import RecordError
from hub.reference import load_normandy_territory
from hub.registry.topic import read_registry_topic
from hub.stages.groups import COLLECTION_GROUP
from hub.topic_reader import read_prefix
from hub.topics import COLLECTION_STATE, CONTRIB_PREFIX, REGIONAL_CHANGES, REJECTIONS
from hub.wire import (
    decode_offer_entry,
    decode_regional_change,
    decode_rejection,
    encode_regional_change,
)

log = logging.getLogger("sitn.readjudicate")

WORKER_GROUP = COLLECTION_GROUP  # the collection stage's group: its members write the history
Progress = Callable[[int, int], None]  # (records read, records to read)


class ReadjudicationError(RuntimeError):
    """Something an operator must fix before re-judging; nothing was emitted."""


@dataclass(frozen=True)
class Outcome:
    """What a run read, judged and emitted."""

    result: Readjudication
    emitted: int  # corrections produced (0 on a dry run)
    topics: tuple[str, ...]  # the contribution topics read
    contributions: int  # contribution records read (decoded)
    skipped: int  # records of contribution topics that are not contributions
    not_judged: int  # contributions the worker has not judged yet: left to it
    group_committed: bool  # False if the group had committed no offset on any of the topics


@dataclass
class _Read:
    """What the single pass over the topics gathered."""

    latest: dict[str, RegionalChange] = field(default_factory=dict)  # per offer
    judged_ms: dict[EventKey, int] = field(default_factory=dict)
    refused_ms: dict[EventKey, int] = field(default_factory=dict)
    contributions: list[ContributionRecord] = field(default_factory=list)
    skipped: int = 0
    history_ends: dict[Position, int] = field(default_factory=dict)


async def run_readjudication(
    bootstrap: str,
    *,
    group: str = WORKER_GROUP,
    dry_run: bool = False,
    at: datetime | None = None,
    progress: Progress | None = None,
) -> Outcome:
    """Re-judge the contributions the worker judged and emit the corrections (module docstring).

    `at` is the corrections' time (default: now). Raises `ReadjudicationError` (worker running,
    no registry, history moved) with nothing emitted, `RegistryTopicError` or `KafkaError`.
    """
    moment = at if at is not None else datetime.now(UTC)
    await _refuse_if_running(bootstrap, group)
    registry = (await read_registry_topic(bootstrap)).registry
    if not registry.organisations:
        raise ReadjudicationError(
            "sitn.registry holds no organisation: re-judging with it would withdraw every offer; "
            "apply the registry first (`sitn registry apply FILE`)"
        )
    topics = await _contribution_topics(bootstrap)
    committed = await _committed(bootstrap, group, topics)
    read = await _read_all(bootstrap, topics, progress or (lambda done, total: None))
    territory = await asyncio.to_thread(load_normandy_territory)
    judged = {**read.refused_ms, **read.judged_ms}  # an acceptance places it over a refusal
    cut = judged_prefix(read.contributions, committed, judged)
    kept = [r for r in read.contributions if r.offset < cut.get((r.topic, r.partition), 0)]
    result = await asyncio.to_thread(_judge, kept, judged, read.latest, registry, territory, moment)
    outcome = Outcome(
        result=result,
        emitted=0,
        topics=tuple(topics),
        contributions=len(read.contributions),
        skipped=read.skipped,
        not_judged=len(read.contributions) - len(kept),
        group_committed=bool(committed),
    )
    log.info(
        "re-judged %d contributions (%d left to the worker): %d corrections",
        len(kept),
        outcome.not_judged,
        len(result.corrections),
    )
    if dry_run or not result.corrections:
        return outcome
    await _refuse_if_running(bootstrap, group)
    if await _ends(bootstrap, [REGIONAL_CHANGES]) != read.history_ends:
        raise ReadjudicationError(
            f"{REGIONAL_CHANGES} grew while the contributions were re-judged (is a worker or "
            "another readjudication running?); nothing was emitted: stop it and run this again"
        )
    await _produce([c.change for c in result.corrections], bootstrap)
    return replace(outcome, emitted=len(result.corrections))


def _judge(
    records: list[ContributionRecord],
    judged_ms: dict[EventKey, int],
    current: dict[str, RegionalChange],
    registry: Registry,
    territory: Territory,
    at: datetime,
) -> Readjudication:
    return readjudicate(merge_order(records, judged_ms), current, registry, territory, at)


async def _refuse_if_running(bootstrap: str, group: str) -> None:
    members = await group_members(bootstrap, group)
    if members:
        raise ReadjudicationError(
            f"the worker's consumer group {group!r} has {members} active member(s): stop the "
            "worker first (a worker stopped by a crash leaves its member until the group's "
            "session times out, about a minute), then run this again"
        )


async def group_members(bootstrap: str, group: str) -> int:
    """How many members consumer group `group` has now (0 for an empty or unknown group)."""
    admin = make_admin(bootstrap, client_id="sitn-readjudicate")
    await admin.start()
    try:
        responses = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    # DescribeGroups v0+: each group is (error_code, group_id, state, protocol_type, protocol,
    # members, ...).
    return sum(len(g[5]) for response in responses for g in response.groups if g[1] == group)


async def _contribution_topics(bootstrap: str) -> list[str]:
    admin = make_admin(bootstrap, client_id="sitn-readjudicate")
    await admin.start()
    try:
        names = await admin.list_topics()
    finally:
        await admin.close()
    return sorted(name for name in names if name.startswith(CONTRIB_PREFIX))


async def _committed(bootstrap: str, group: str, topics: Sequence[str]) -> dict[Position, int]:
    admin = make_admin(bootstrap, client_id="sitn-readjudicate")
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    wanted = set(topics)
    return {
        (tp.topic, tp.partition): meta.offset
        for tp, meta in offsets.items()
        if tp.topic in wanted and meta.offset > 0
    }


async def _ends(bootstrap: str, topics: Sequence[str]) -> dict[Position, int]:
    consumer = make_consumer(bootstrap, group_id=None, client_id="sitn-readjudicate")
    await consumer.start()
    try:
        ends = await consumer.end_offsets(await topic_partitions(bootstrap, topics))
    finally:
        await consumer.stop()
    return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}


async def _read_all(bootstrap: str, topics: Sequence[str], progress: Progress) -> _Read:
    """The hub's outputs and the contribution topics, from their beginning to their current end."""
    partitions = await topic_partitions(bootstrap, [REGIONAL_CHANGES, REJECTIONS, *topics])
    consumer = make_consumer(bootstrap, group_id=None, client_id="sitn-readjudicate")
    await consumer.start()
    read = _Read()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        read.history_ends = {
            (tp.topic, tp.partition): ends[tp] for tp in partitions if tp.topic == REGIONAL_CHANGES
        }
        total = sum(ends[tp] - starts[tp] for tp in partitions)
        progress(0, total)
        remaining = [tp for tp in partitions if ends[tp] > starts[tp]]
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000, max_records=10000)
            records = [
                record
                for tp in sorted(batch)
                for record in batch[tp]
                if record.offset < ends[tp]  # what arrives meanwhile is not read
            ]
            if records:
                await asyncio.to_thread(_take, read, records)
            positions = {tp: min(await consumer.position(tp), ends[tp]) for tp in partitions}
            progress(sum(positions[tp] - starts[tp] for tp in partitions), total)
            remaining = [tp for tp in remaining if positions[tp] < ends[tp]]
    finally:
        await consumer.stop()
    return read


def _take(read: _Read, records: list[ConsumerRecord]) -> None:
    """Decode one batch into `read` (blocking: runs in a worker thread)."""
    for record in records:
        try:
            if record.topic == REGIONAL_CHANGES:
                change = decode_regional_change(record.value)
                known = read.latest.get(change.offer_id)
                if known is None or change.version > known.version:
                    read.latest[change.offer_id] = change
                _earliest(read.judged_ms, (change.contributor, change.event_id), record.timestamp)
            elif record.topic == REJECTIONS:
                rejection = decode_rejection(record.value)
                key = (rejection.contributor, rejection.event_id)
                _earliest(read.refused_ms, key, record.timestamp)
            else:
                if writer_schema_of(record.value).record_name != "Contribution":
                    read.skipped += 1  # customer data: never part of an offer
                    continue
                read.contributions.append(
                    ContributionRecord(
                        topic=record.topic,
                        partition=record.partition,
                        offset=record.offset,
                        timestamp_ms=record.timestamp,
                        topic_owner=record.topic.removeprefix(CONTRIB_PREFIX),
                        contribution=decode_contribution(record.value),
                    )
                )
        except (DecodeError, RecordError) as error:
            # The worker dead-lettered a contribution that does not decode, and skipped an
            # output of its own that does not: so is it here.
            if record.topic not in (REGIONAL_CHANGES, REJECTIONS):
                read.skipped += 1
            else:
                log.error(
                    "%s[%d]@%d skipped: %s", record.topic, record.partition, record.offset, error
                )


def _earliest(times: dict[EventKey, int], key: EventKey, timestamp: int) -> None:
    if key not in times or timestamp < times[key]:
        times[key] = timestamp


async def _produce(changes: Sequence[RegionalChange], bootstrap: str) -> None:
    """The corrections, and the collection ledger's entries of their offers moved to them, in
    one transaction: the collection stage judges what comes next against the corrected state."""
    ledger = await read_prefix(bootstrap, COLLECTION_STATE, decode_offer_entry)
    entries = {entry.offer_id: entry for entry in ledger.values}
    producer = AIOKafkaProducer(
        **security_options(),
        bootstrap_servers=bootstrap,
        client_id="sitn-readjudicate",
        transactional_id="sitn-readjudicate",
        enable_idempotence=True,
        acks="all",
    )
    await producer.start()
    try:
        async with producer.transaction():
            sent = []
            for change in changes:
                key = change.offer_id.encode()
                entry = replace(
                    entries.get(change.offer_id, OfferEntry(change.offer_id)), latest=change
                )
                sent.append(
                    await producer.send(REGIONAL_CHANGES, encode_regional_change(change), key=key)
                )
                for out in ledger_outputs(entry):
                    sent.append(
                        await producer.send(
                            out.topic, out.value, key=out.key, headers=list(out.headers)
                        )
                    )
            await asyncio.gather(*sent)
    finally:
        await producer.stop()
