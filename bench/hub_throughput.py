"""How many contributions/s the hub judges and stores, next to raw consume-and-decode of the same.

Generates N demo offers (default 5,000) and M follow-up changes (default 10,000, 5% built to be
rejected), encodes them once as contributions (generation and encoding are not part of the rates)
and, in each round, on a broker whose hub topics are empty:

1. applies the Normandy registry and publishes the bytes, creations first, with a raw idempotent
   producer (`hub.kafka_clients.make_producer`) to each contributor's topic, keyed by offer id
   (the publish time is shown, not part of the rates);
2. (a) raw: one consumer assigned to every partition of the written topics reads them from the
   beginning to their end offsets and decodes every value with `decode_contribution`;
3. (b) hub: a `hub.worker.Worker` on a fresh store and a fresh consumer group, timed from the
   moment it is ready until `hub.demo_run.wait_until_stored` returns for all N + M records;
   the time to the first judged record (the stages joining their groups) and to the last judged one
   (the rest is the store catching up) are shown beside it;
4. (a) again, to show how much the raw rate moves within one round.

A round's stages restore their state from the hub's topics, so every round needs hub topics
nobody wrote to: with the benchmark's own broker each round gets a fresh one; with
KAFKA_BOOTSTRAP_SERVERS only one round runs, and the benchmark refuses topics that hold records.
Rounds on SQLite come first, then one on PostgreSQL if `--postgres URL` names an empty database.
Prints only; asserts nothing about time.
With `--plaintext`, each SQLite round is followed by the same on a broker without authentication,
and the SASL / PLAINTEXT ratios of both rates are printed: what authenticating every client costs.
Usage: `python -m bench.hub_throughput [--offers N] [--changes M] [--rounds R] [--postgres URL]
[--plaintext]`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import TopicPartition
from aiokafka.errors import UnknownTopicOrPartitionError

from hub.broker import LocalBroker
from hub.codec import decode_contribution, encode_contribution
from hub.demo_run import end_offsets, prepare, wait_until_stored
from hub.kafka_clients import make_consumer, make_producer, topic_partitions
from hub.reference import load_normandy_territory
from hub.registry.format import load_normandy_registry
from hub.settings import Settings
from hub.store.sql import SqlStore
from hub.topics import (
    CUSTOMER_DATA,
    DEADLETTER,
    REGIONAL_CHANGES,
    REJECTIONS,
    contrib_topic,
)
from hub.worker import Worker
from producers.demo import as_contribution, creations, generate_changes, generate_offers
from tests.conftest import broker_login, make_test_broker

SEND_CHUNK = 2_000  # records sent before their delivery is awaited
READ_DEADLINE = 600.0  # seconds the raw reader may take before the run is declared stuck
OUTPUT_TOPICS = (REGIONAL_CHANGES, REJECTIONS, DEADLETTER, CUSTOMER_DATA)


@dataclass(frozen=True)
class Workload:
    """The encoded records in publish order (creations first) and what the generator expects."""

    records: list[tuple[str, bytes, bytes]]  # (topic, key, value)
    built_to_be_rejected: Counter[str]

    @property
    def topics(self) -> list[str]:
        return sorted({topic for topic, _, _ in self.records})


@dataclass(frozen=True)
class Measure:
    """One timed arm: how many records and how long."""

    label: str
    records: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.records / self.seconds


@dataclass(frozen=True)
class HubMeasure(Measure):
    """The hub arm, with the milestones inside its time (seconds from ready)."""

    first_judged: float = 0.0
    all_judged: float = 0.0
    summary: str = ""


@dataclass
class Round:
    number: int
    store: str
    broker: str = "SASL"  # how its clients reached the broker: SASL/SCRAM, or PLAINTEXT
    raw: list[Measure] = field(default_factory=list)
    hub: HubMeasure | None = None


# ---------------------------------------------------------------- the workload


def build_workload(offers: int, changes: int, seed: int) -> Workload:
    registry = load_normandy_registry()
    started = time.perf_counter()
    generated = generate_offers(offers, seed, tuple(load_normandy_territory().values()))
    follow_ups = generate_changes(generated, changes, seed, invalid_ratio=0.05, registry=registry)
    stream = creations(generated) + follow_ups
    made = time.perf_counter()
    records = [
        (
            contrib_topic(contributor),
            change.offer_id.encode(),
            encode_contribution(as_contribution(contributor, change)),
        )
        for contributor, change in stream
    ]
    encoded = time.perf_counter()
    size = sum(len(value) for _, _, value in records)
    print(
        f"generated {offers:,} offers and {changes:,} changes in {made - started:.1f}s, "
        f"encoded in {encoded - made:.1f}s ({size / len(records):,.0f} bytes per record); "
        "neither is part of the rates"
    )
    rejected = Counter(
        change.expected_rejection.value
        for _, change in follow_ups
        if change.expected_rejection is not None
    )
    return Workload(records, rejected)


# ---------------------------------------------------------------- broker side


async def refuse_written_topics(bootstrap: str, topics: Sequence[str]) -> None:
    """Stop if a topic the round relies on being empty already holds records."""
    for attempt in range(50):
        try:
            ends = await end_offsets(bootstrap, topics)
            break
        except UnknownTopicOrPartitionError:
            # Topics `prepare` just created can take a moment to show in the brokers' metadata.
            if attempt == 49:
                raise
            await asyncio.sleep(0.2)
    written = sorted({topic for (topic, _), end in ends.items() if end > 0})
    if written:
        raise SystemExit(
            f"{', '.join(written)} already hold records on {bootstrap}: the benchmark's worker "
            "would restore or re-read them. Unset KAFKA_BOOTSTRAP_SERVERS to let the benchmark "
            "start its own broker, or point it at a broker whose hub topics are empty."
        )


async def publish(bootstrap: str, work: Workload) -> float:
    """Send every record with a raw idempotent producer, creations first; return the seconds."""
    started = time.perf_counter()
    producer = make_producer(bootstrap, client_id="sitn-bench-hub-publish")
    await producer.start()
    try:
        for start in range(0, len(work.records), SEND_CHUNK):
            chunk = work.records[start : start + SEND_CHUNK]
            futures = [
                await producer.send(topic, key=key, value=value) for topic, key, value in chunk
            ]
            await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return time.perf_counter() - started


# ---------------------------------------------------------------- (a) raw consume-and-decode


async def consume_and_decode(bootstrap: str, topics: Sequence[str], label: str) -> Measure:
    consumer = make_consumer(bootstrap, group_id=None, client_id="sitn-bench-hub-raw")
    await consumer.start()
    try:
        partitions = await topic_partitions(bootstrap, topics)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining: set[TopicPartition] = {tp for tp in partitions if ends[tp] > 0}
        decoded = 0
        started = time.perf_counter()
        while remaining:
            if time.perf_counter() - started > READ_DEADLINE:
                raise SystemExit(
                    f"the raw reader did not reach the end offsets in {READ_DEADLINE}s"
                )
            batch = await consumer.getmany(*remaining, timeout_ms=1000, max_records=10_000)
            for tp, records in batch.items():
                for record in records:
                    decode_contribution(record.value)
                    decoded += 1
                if records and records[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
        seconds = time.perf_counter() - started
    finally:
        await consumer.stop()
    assert decoded == sum(ends.values()), f"decoded {decoded:,} of {sum(ends.values()):,}"
    return Measure(label, decoded, seconds)


# ---------------------------------------------------------------- (b) through the hub


async def _milestones(worker: Worker, total: int, marks: dict[str, float]) -> None:
    """Note when the first and the last record were judged (polled every 10 ms)."""
    while "all" not in marks:
        if worker.collection is not None:
            tally = worker.collection.totals()
            judged = (
                tally.accepted
                + tally.partially_rejected
                + tally.rejected
                + tally.no_effect
                + tally.dead_lettered
                + tally.customer_records
            )
            if judged and "first" not in marks:
                marks["first"] = time.perf_counter()
            if judged >= total:
                marks["all"] = time.perf_counter()
        await asyncio.sleep(0.01)


async def through_hub(bootstrap: str, home: Path, database_url: str, total: int) -> HubMeasure:
    settings = Settings.from_env(
        {
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "SITN_HOME": str(home),
            "SITN_DATABASE_URL": database_url,
        }
    )
    # A consumer group nobody used: the collection agent reads every topic from the beginning.
    worker = Worker(settings, app_id=f"sitn-bench-{secrets.token_hex(4)}")
    marks: dict[str, float] = {}
    ready = asyncio.Event()

    def on_ready(_: Worker) -> None:
        marks["ready"] = time.perf_counter()
        ready.set()

    task = asyncio.create_task(worker.run(on_ready=on_ready), name="bench-worker")
    waiter = asyncio.create_task(ready.wait())
    done, _ = await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        waiter.cancel()
        task.result()
        raise SystemExit("the worker stopped before it was ready")
    watcher = asyncio.create_task(_milestones(worker, total, marks))
    try:
        await wait_until_stored(worker.settings, worker.app_id, within=max(300.0, total / 20))
        stored = time.perf_counter()
    finally:
        watcher.cancel()
        assert worker.stop is not None
        worker.stop.set()
        await asyncio.wait_for(task, 120)
    start = marks["ready"]
    return HubMeasure(
        "(b) rules -> store",
        total,
        stored - start,
        first_judged=marks.get("first", stored) - start,
        all_judged=marks.get("all", stored) - start,
        summary=worker.summary(),
    )


# ---------------------------------------------------------------- rounds


async def run_round(
    bootstrap: str, work: Workload, round_: Round, home: Path, database_url: str
) -> None:
    registry = load_normandy_registry()
    await prepare(bootstrap, registry)
    contributor_topics = [contrib_topic(org) for org in sorted(registry.organisations)]
    await refuse_written_topics(bootstrap, [*OUTPUT_TOPICS, *contributor_topics])
    seconds = await publish(bootstrap, work)
    total = len(work.records)
    print(f"  published {total:,} records in {seconds:.1f}s ({total / seconds:,.0f}/s, not rated)")
    round_.raw.append(await consume_and_decode(bootstrap, work.topics, "(a) consume+decode"))
    print(f"  (a) {round_.raw[-1].rate:,.0f} records/s")
    round_.hub = await through_hub(bootstrap, home, database_url, total)
    print(f"  (b) {round_.hub.rate:,.0f} contributions/s")
    round_.raw.append(await consume_and_decode(bootstrap, work.topics, "(a) again"))
    print(f"  (a) {round_.raw[-1].rate:,.0f} records/s")


def require_empty_database(url: str) -> None:
    store = SqlStore(url)
    try:
        store.migrate()
        positions, counts = store.positions(), store.counts()
    finally:
        store.close()
    if positions or counts:
        raise SystemExit(
            f"--postgres {url}: the database already holds a regional store "
            f"({len(positions)} positions, {sum(counts.values()):,} offers); give an empty one"
        )


def report(rounds: Sequence[Round], work: Workload) -> None:
    print(
        f"\n{'round':<6}{'store':<9}{'broker':<11}{'measure':<22}{'records':>9}{'seconds':>9}"
        f"{'rate/s':>10}{'(b)/(a)':>9}"
    )
    for r in rounds:
        assert r.hub is not None
        raw_rate = statistics.fmean(m.rate for m in r.raw)
        ordered: list[Measure] = [r.raw[0], r.hub, *r.raw[1:]]
        for m in ordered:
            ratio = f"{m.rate / raw_rate:>9.3f}" if m is r.hub else ""
            print(
                f"{r.number:<6}{r.store:<9}{r.broker:<11}{m.label:<22}{m.records:>9,}"
                f"{m.seconds:>9.2f}"
                f"{m.rate:>10,.0f}{ratio}"
            )
        hub = r.hub
        steady = hub.records / (hub.seconds - hub.first_judged)
        judging = hub.records / (hub.all_judged - hub.first_judged)
        print(
            f"{'':<15}ready -> first judged {hub.first_judged:.2f}s, -> all judged "
            f"{hub.all_judged:.2f}s, -> all stored {hub.seconds:.2f}s"
        )
        print(
            f"{'':<15}from the first judged record: {steady:,.0f}/s into the store "
            f"({steady / raw_rate:.3f} of (a)); judging alone {judging:,.0f}/s"
        )
    print(
        "\n(b)/(a): the hub's rate over the mean of the round's two raw rates, on the same topics."
    )
    for r in rounds:
        assert r.hub is not None
        print(f"round {r.number} ({r.store}, {r.broker}) worker: {r.hub.summary}")
    by_way = {
        way: [r for r in rounds if r.broker == way and r.store == "sqlite"]
        for way in ("SASL", "PLAINTEXT")
    }
    if all(by_way.values()):

        def mean(way: str, rate: Callable[[Round], float]) -> float:
            return statistics.fmean(rate(r) for r in by_way[way])

        for label, rate in (
            ("raw consume+decode", lambda r: statistics.fmean(m.rate for m in r.raw)),
            ("rules -> store", lambda r: r.hub.rate if r.hub else 0.0),
        ):
            print(
                f"SASL / PLAINTEXT, {label}: {mean('SASL', rate) / mean('PLAINTEXT', rate):.3f} "
                f"({mean('SASL', rate):,.0f} / {mean('PLAINTEXT', rate):,.0f} per s, SQLite rounds)"
            )
    built = ", ".join(
        f"{count} {rule}" for rule, count in sorted(work.built_to_be_rejected.items())
    )
    print(
        f"the generator built {sum(work.built_to_be_rejected.values())} changes to be rejected "
        f"({built}); a change judged before its offer's creation (another contributor's topic) "
        "is rejected too"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--offers", type=int, default=5_000, help="offers created (default 5000)")
    parser.add_argument(
        "--changes", type=int, default=10_000, help="follow-up changes (default 10000)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the demo generator")
    parser.add_argument(
        "--rounds", type=int, default=2, help="rounds on SQLite, each on a fresh broker"
    )
    parser.add_argument("--postgres", metavar="URL", help="also one round on this empty database")
    parser.add_argument(
        "--plaintext",
        action="store_true",
        help="follow each round on a broker of its own by the same on a broker without "
        "authentication, to show what SASL costs",
    )
    args = parser.parse_args()
    if args.offers < 1 or args.changes < 0 or args.rounds < 0:
        parser.error("--offers must be at least 1, --changes and --rounds at least 0")
    stores = ["sqlite"] * args.rounds + (["postgres"] if args.postgres else [])
    brokers = ["SASL", "PLAINTEXT"] if args.plaintext else ["SASL"]
    if not stores:
        parser.error("nothing to measure: give --rounds 1 or more, or --postgres URL")
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured and len(stores) > 1:
        parser.error(
            "with KAFKA_BOOTSTRAP_SERVERS set only one round can run (a second worker would "
            "find the first one's regional changes): use --rounds 1 without --postgres, or "
            "--rounds 0 --postgres URL, or unset the variable"
        )
    if args.postgres:
        require_empty_database(args.postgres)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    work = build_workload(args.offers, args.changes, args.seed)
    rounds: list[Round] = []
    with tempfile.TemporaryDirectory(prefix="sitn-bench-hub-") as temp:
        plan = [(store, way) for store in stores for way in brokers]
        plan = [(store, way) for store, way in plan if store == "sqlite" or way == "SASL"]
        for number, (store, way) in enumerate(plan, start=1):
            home = Path(temp) / f"round-{number}"
            home.mkdir()
            url = args.postgres if store == "postgres" else f"sqlite:///{home / 'store.db'}"
            round_ = Round(number, store, way)
            broker: LocalBroker | None = None
            if configured:
                bootstrap, where = configured, "KAFKA_BOOTSTRAP_SERVERS"
            else:
                broker = make_test_broker(home / "kafka", secured=way == "SASL")
                ready = broker.start().ready_seconds
                os.environ.update(broker_login(broker))  # the round's clients log in to it
                bootstrap, where = broker.bootstrap, f"a fresh broker ready in {ready:.1f}s"
            print(f"round {number} ({store}, {way}) on {bootstrap}, {where}")
            try:
                asyncio.run(run_round(bootstrap, work, round_, home, url))
            finally:
                if broker is not None:
                    broker.stop()
            rounds.append(round_)
    report(rounds, work)


if __name__ == "__main__":
    main()
