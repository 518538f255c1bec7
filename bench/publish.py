"""How fast `Publisher.publish` sends offers, next to raw aiokafka sending the same bytes.

Generates N demo offers (default 60,000, Normandy's base; generation is timed apart and is not
part of the rates), turns their creations into publisher `Change`s, then runs R rounds (default 3),
each on fresh 6-partition topics, of three arms in a rotating order:

- publisher: `Publisher.publish` of every change (validation, versioning in its SQLite ledger,
  Avro encoding, transactional acks=all send in chunks that never split an offer);
- raw: `hub.kafka_clients.make_producer` (idempotent, acks=all) sending the same bytes, encoded
  once beforehand with the same event ids and versions, with the same keys: `send`, then gather
  the futures every 2,000 records;
- raw-txn: the same bytes with the publisher's own producer settings (transactional, its linger
  and batch size) and its 2,000-record transactions, so `publisher - raw-txn` is the cost of the
  publisher's Python work alone and `raw-txn - raw` the cost of transactions and batching.

Each arm is timed from producer start to producer stop. Validation and encoding are also timed
alone over all changes, as shares of the publisher's time. After each publisher round a
read_committed consumer counts the topic's records, which must be exactly N (end offsets also
count the transactions' commit markers, so they are shown beside it). Prints only; writes nothing.

Uses KAFKA_BOOTSTRAP_SERVERS if set, else a local broker on free ports in a temporary folder.
Usage: `python -m bench.publish [--offers N] [--seed S] [--rounds R]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaProducer, TopicPartition

from hub.broker import LocalBroker
from hub.codec import current_schema, encode_contribution
from hub.core.territory import Territory
from hub.kafka_clients import ensure_topics, make_consumer, make_producer, security_options
from hub.reference import load_normandy_territory
from hub.topics import OFFER_PARTITIONS, contrib_topic, contributor_topic_spec
from producers.demo import as_change, as_contribution, creations, generate_offers
from producers.publisher import DEFAULT_CHUNK, Change, Publisher, validate
from tests.conftest import broker_login, make_test_broker

ARMS = ("publisher", "raw", "raw-txn")
WARMUP_EVENTS = 2_000


@dataclass(frozen=True)
class Workload:
    """The changes the publisher gets and the bytes the raw arms send for them."""

    changes: list[Change]
    keys: list[bytes]
    values: list[bytes]  # encoded with a contributor id as long as each round's
    encoding_seconds: float  # to encode all of them, as the publisher does (envelope, then Avro)

    def head(self, count: int) -> Workload:
        share = self.encoding_seconds * count / len(self.changes)
        return Workload(self.changes[:count], self.keys[:count], self.values[:count], share)


@dataclass(frozen=True)
class Names:
    """One run's ids: every round gets fresh topics, all ids the same length (same bytes)."""

    tag: str

    def contributor(self, arm: str, round_no: int) -> str:
        letter = {"publisher": "p", "raw": "r", "raw-txn": "t"}[arm]
        return f"bench-{self.tag}-{letter}{round_no:02d}"


@dataclass(frozen=True)
class Check:
    """What the topic holds after a publisher round."""

    committed_records: int
    end_offsets: int


# ---------------------------------------------------------------- the three arms


async def run_publisher(
    bootstrap: str, contributor: str, work: Workload, territory: Territory, state_dir: Path
) -> float:
    publisher = Publisher(
        bootstrap=bootstrap, contributor=contributor, state_dir=state_dir, territory=territory
    )
    started = time.perf_counter()
    report = await publisher.publish(work.changes)
    seconds = time.perf_counter() - started
    if not report.ok or len(report.sent) != len(work.changes):
        reasons = report.error or "; ".join(r.describe() for r in report.refused[:5])
        raise SystemExit(
            f"publisher round on {publisher.topic} sent {len(report.sent)} of "
            f"{len(work.changes)} events: {reasons}"
        )
    return seconds


async def run_raw(bootstrap: str, topic: str, work: Workload) -> float:
    started = time.perf_counter()
    producer = make_producer(bootstrap, client_id="sitn-bench-raw")
    await producer.start()
    try:
        for start in range(0, len(work.values), DEFAULT_CHUNK):
            await _send_batch(producer, topic, work, start)
    finally:
        await producer.stop()
    return time.perf_counter() - started


async def run_raw_transactional(bootstrap: str, topic: str, work: Workload) -> float:
    started = time.perf_counter()
    # The settings of `Publisher._start_producer`, so only the publisher's own work differs.
    producer = AIOKafkaProducer(
        **security_options(),
        bootstrap_servers=bootstrap,
        client_id="sitn-bench-raw-txn",
        acks="all",
        enable_idempotence=True,
        transactional_id=f"sitn-bench-{topic}",
        linger_ms=10,
        max_batch_size=1 << 20,
        request_timeout_ms=15000,
    )
    await producer.start()
    try:
        for start in range(0, len(work.values), DEFAULT_CHUNK):
            async with producer.transaction():
                await _send_batch(producer, topic, work, start)
    finally:
        await producer.stop()
    return time.perf_counter() - started


async def _send_batch(producer: AIOKafkaProducer, topic: str, work: Workload, start: int) -> None:
    end = start + DEFAULT_CHUNK
    futures = [
        await producer.send(topic, value=value, key=key)
        for key, value in zip(work.keys[start:end], work.values[start:end], strict=True)
    ]
    await asyncio.gather(*futures)


# ---------------------------------------------------------------- checks


async def wait_for_leaders(bootstrap: str, topic: str) -> None:
    """Returns once every partition's leader answers (a fresh topic's first sends would retry)."""
    consumer = make_consumer(bootstrap, group_id=None, client_id="sitn-bench-leaders")
    await consumer.start()
    try:
        # ListOffsets needs each partition's leader, and aiokafka retries it until they answer.
        await consumer.end_offsets([TopicPartition(topic, p) for p in range(OFFER_PARTITIONS)])
    finally:
        await consumer.stop()


async def topic_check(bootstrap: str, topic: str) -> Check:
    """Records a read_committed consumer reads from `topic`, and the sum of its end offsets."""
    consumer = make_consumer(bootstrap, group_id=None, client_id="sitn-bench-count")
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(OFFER_PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        count = 0
        deadline = time.monotonic() + 120
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            if time.monotonic() > deadline:
                raise SystemExit(f"{topic}: could not read up to the end offsets in 120s")
            batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
            count += sum(len(records) for records in batches.values())
        return Check(count, sum(ends.values()))
    finally:
        await consumer.stop()


# ---------------------------------------------------------------- the run


def prepare(count: int, seed: int, names: Names) -> Workload:
    communes = tuple(load_normandy_territory().values())
    started = time.perf_counter()
    offers = generate_offers(count, seed, communes)
    generated = time.perf_counter() - started
    print(f"generated {count:,} offers in {generated:.1f}s (not part of the rates)")
    demo = creations(offers)
    template = names.contributor("publisher", 0)
    current_schema("Contribution")  # the schemas are parsed on first use: not part of the time
    started = time.perf_counter()
    values = [encode_contribution(as_contribution(template, change)) for _, change in demo]
    encoded = time.perf_counter() - started
    size = sum(len(value) for value in values)
    print(
        f"encoded once for the raw arms in {encoded:.1f}s: {size / 1e6:,.1f} MB, "
        f"{size / count:,.0f} bytes per event on average"
    )
    return Workload(
        changes=[as_change(change) for _, change in demo],
        keys=[change.offer_id.encode() for _, change in demo],
        values=values,
        encoding_seconds=encoded,
    )


def time_validation(changes: Sequence[Change], territory: Territory) -> float:
    started = time.perf_counter()
    problems = sum(1 for change in changes if validate(change, territory))
    seconds = time.perf_counter() - started
    assert problems == 0, f"{problems} generated creations fail validation"
    return seconds


async def measure(bootstrap: str, work: Workload, names: Names, rounds: int, state: Path) -> None:
    territory = load_normandy_territory()
    count = len(work.changes)

    async def fresh_topic(arm: str, round_no: int) -> str:
        contributor = names.contributor(arm, round_no)
        await ensure_topics(bootstrap, [contributor_topic_spec(contributor)])
        topic = contrib_topic(contributor)
        await wait_for_leaders(bootstrap, topic)
        return topic

    def arm_runner(arm: str, round_no: int, part: Workload) -> Callable[[str], Awaitable[float]]:
        if arm == "publisher":
            return lambda _: run_publisher(
                bootstrap,
                names.contributor(arm, round_no),
                part,
                territory,
                state / f"round-{round_no}",
            )
        if arm == "raw":
            return lambda topic: run_raw(bootstrap, topic, part)
        return lambda topic: run_raw_transactional(bootstrap, topic, part)

    # A short untimed pass first: the broker's JIT and the clients' imports warm up.
    warm = work.head(min(count, WARMUP_EVENTS))
    for arm in ARMS:
        await arm_runner(arm, 99, warm)(await fresh_topic(arm, 99))

    seconds: dict[str, list[float]] = {arm: [] for arm in ARMS}
    print(f"\n{'round':<6}{'order':<30}" + "".join(f"{arm + ' ev/s':>16}" for arm in ARMS))
    for round_no in range(1, rounds + 1):
        shift = (round_no - 1) % len(ARMS)
        order = ARMS[shift:] + ARMS[:shift]
        checks: list[Check] = []
        for arm in order:
            topic = await fresh_topic(arm, round_no)
            elapsed = await arm_runner(arm, round_no, work)(topic)
            seconds[arm].append(elapsed)
            if arm == "publisher":
                check = await topic_check(bootstrap, topic)
                if check.committed_records != count:
                    raise SystemExit(
                        f"{topic} holds {check.committed_records:,} committed records, "
                        f"expected {count:,}"
                    )
                checks.append(check)
            elif arm == "raw":
                raw_end = (await topic_check(bootstrap, topic)).end_offsets
                if raw_end != count:
                    raise SystemExit(f"{topic}: end offsets sum to {raw_end:,}, expected {count:,}")
        print(
            f"{round_no:<6}{', '.join(order):<30}"
            + "".join(f"{count / seconds[arm][-1]:>16,.0f}" for arm in ARMS)
        )
        for check in checks:
            print(
                f"{'':<6}publisher topic: {check.committed_records:,} committed records "
                f"(end offsets sum to {check.end_offsets:,}: the rest are commit markers)"
            )

    mean = {arm: statistics.fmean(values) for arm, values in seconds.items()}
    rate = {arm: count / mean[arm] for arm in ARMS}
    print(f"\nover {rounds} rounds of {count:,} events (rate = N / mean time; min-max of rounds):")
    for arm in ARMS:
        low, high = count / max(seconds[arm]), count / min(seconds[arm])
        print(
            f"  {arm:<10}{rate[arm]:>10,.0f} ev/s  {mean[arm]:6.2f}s  "
            f"({low:,.0f}-{high:,.0f})  {mean[arm] / count * 1e6:7.1f} µs/event"
        )
    per_event = {arm: mean[arm] / count * 1e6 for arm in ARMS}
    print(f"  ratio publisher / raw:      {rate['publisher'] / rate['raw']:.2f}")
    print(f"  ratio publisher / raw-txn:  {rate['publisher'] / rate['raw-txn']:.2f}")
    print(f"  publisher - raw:      {per_event['publisher'] - per_event['raw']:+7.1f} µs/event")
    print(f"  publisher - raw-txn:  {per_event['publisher'] - per_event['raw-txn']:+7.1f} µs/event")

    validation = time_validation(work.changes, territory) / count * 1e6
    encoding = work.encoding_seconds / count * 1e6
    print("within the publisher's time, measured alone over the same changes:")
    for label, cost in (("validation", validation), ("encoding", encoding)):
        share = cost / per_event["publisher"]
        print(f"  {label:<11}{cost:7.1f} µs/event  ({share:.0%} of the publisher's time)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--offers", type=int, default=60_000, help="offers to publish")
    parser.add_argument("--seed", type=int, default=1, help="seed of the demo generator")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the three arms")
    args = parser.parse_args()
    if args.offers < 1 or not 1 <= args.rounds <= 98:
        parser.error("--offers must be at least 1 and --rounds between 1 and 98")
    names = Names(secrets.token_hex(3))
    work = prepare(args.offers, args.seed, names)
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    with tempfile.TemporaryDirectory(prefix="sitn-bench-publish-") as home:
        broker: LocalBroker | None = None
        if configured:
            bootstrap = configured
        else:
            broker = make_test_broker(Path(home))
            outcome = broker.start()
            os.environ.update(broker_login(broker))  # the bench's clients log in to it
            bootstrap = broker.bootstrap
            print(f"local broker on {bootstrap}, ready in {outcome.ready_seconds:.1f}s")
        try:
            print(f"broker {bootstrap}; topics bench-{names.tag}-*, {OFFER_PARTITIONS} partitions")
            asyncio.run(measure(bootstrap, work, names, args.rounds, Path(home) / "publisher"))
        finally:
            if broker is not None:
                broker.stop()


if __name__ == "__main__":
    main()
