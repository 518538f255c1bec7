"""How fast `sitn replay rebuild` rebuilds the store, next to raw consume-and-decode of the topic.

Writes N regional changes (default 1,000,000) to a dedicated 6-partition topic
`sitn.bench.rebuild.<N>.s<seed>` on the local broker (KAFKA_BOOTSTRAP_SERVERS, else the broker
`sitn kafka start` runs on SITN_KAFKA_PORT). They are real `RegionalChange` records: the demo
generator's offers (N / V of them, V = `--versions`, default 5) and follow-up changes by CDTs,
OTs, federators and the CRT, judged by the hub's `CollectionProcessor` and encoded as the worker
encodes them, keyed by offer id; so each offer has several versions, in order in its partition.
Generation runs in P processes (`--processes`, default 2), each on its own share of the offers
(offer numbers shifted per share so that ids never collide), each with its own idempotent
producer; it is not part of the rates. A topic that already holds exactly N records is reused,
so a second run measures at once (`--fresh` writes it again).

Then, in one run, on that topic:
1. (a) raw: one consumer reads it from the beginning to its end offsets and decodes every value
   into a `RegionalChange` (`decode_regional_change`), the least any rebuild has to do;
2. (b) `hub.replay.rebuild.rebuild` into a fresh SQLite file opened as `sitn replay rebuild` opens
   it (`hub.replay.target.open_target`);
3. (c) the same into a fresh PostgreSQL database: `--postgres URL` (an empty database), else a
   throw-away server started as the tests start theirs (`tests.support.postgres_server`: fsync off);
4. (a) again, to show how much the raw rate moves within the run.
Each rebuild is timed from its call to its return (the final digest is timed apart); the two
rebuilt stores must have the same digest. Prints only; asserts nothing about time.
Usage: `python -m bench.rebuild [--changes N] [--versions V] [--seed S] [--processes P]
[--batch B] [--fresh] [--postgres URL | --no-postgres]`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import statistics
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaError

from hub.codec import encode_contribution
from hub.collection_processor import CollectionProcessor, Inbound
from hub.kafka_clients import (
    TopicSpec,
    ensure_topics,
    make_admin,
    make_consumer,
    make_producer,
    topic_partitions,
)
from hub.reference import load_normandy_territory
from hub.registry.format import load_normandy_registry
from hub.replay.rebuild import BATCH_RECORDS, Progress, Streams, rebuild
from hub.replay.target import open_target
from hub.settings import Settings
from hub.store.sql import SqlStore
from hub.topics import OFFER_PARTITIONS, REGIONAL_CHANGES, contrib_topic
from hub.wire import decode_regional_change
from producers.demo import (
    DemoChange,
    DemoOffer,
    as_contribution,
    creations,
    generate_changes,
    generate_offers,
)
from tests.support.postgres_server import PostgresServer

SEND_CHUNK = 2_000  # records sent before their delivery is awaited
SHARE_NUMBERING = 20_000  # offer numbers of share k start at k * 20,000 (ids have 5 digits)
MAX_PROCESSES = 4  # 4 shares of 20,000 numbers fit in 5 digits
CHANGE_MARGIN = 1.05  # follow-ups generated beyond need, in case some have no effect


@dataclass(frozen=True)
class Measure:
    label: str
    records: int
    seconds: float
    cpu_seconds: float  # of this process, every thread: steadier than wall time on a busy host
    split: str = ""  # where a rebuild's writing thread spent its time

    @property
    def rate(self) -> float:
        return self.records / self.seconds


# ---------------------------------------------------------------- the topic


def topic_name(changes: int, seed: int) -> str:
    return f"sitn.bench.rebuild.{changes}.s{seed}"


def renumbered(offer: DemoOffer, share: int) -> DemoOffer:
    """The offer with its number moved into the share's range (`<TYPE>NOR0<dd>V5<5 digits>`)."""
    prefix, number = offer.offer_id[:-5], int(offer.offer_id[-5:])
    if number >= SHARE_NUMBERING:
        raise SystemExit(
            f"share {share} numbers {offer.offer_id} beyond {SHARE_NUMBERING:,}: too many offers "
            "per share; use more --processes (at most 4) or fewer --changes"
        )
    return replace(offer, offer_id=f"{prefix}{number + share * SHARE_NUMBERING:05d}")


def generate_share(
    bootstrap: str, topic: str, share: int, offers: int, wanted: int, seed: int
) -> tuple[int, float]:
    """In a worker process: judge one share's stream and send its first `wanted` regional
    changes; returns (records sent, seconds)."""
    started = time.perf_counter()
    processor, stream = share_stream(share, offers, wanted, seed)
    sent = asyncio.run(judge_and_send(bootstrap, topic, processor, stream, wanted))
    return sent, time.perf_counter() - started


def share_stream(
    share: int, offers: int, wanted: int, seed: int
) -> tuple[CollectionProcessor, list[tuple[str, DemoChange]]]:
    """One share's offers' creations and enough follow-ups for `wanted` regional changes, and a
    processor to judge them."""
    registry, territory = load_normandy_registry(), load_normandy_territory()
    made = generate_offers(offers, seed * 100 + share, tuple(territory.values()))
    made = [renumbered(offer, share) for offer in made]
    follow_ups = generate_changes(
        made,
        int((wanted - offers) * CHANGE_MARGIN) + 1,
        seed * 100 + share,
        invalid_ratio=0.0,
        registry=registry,
    )
    return CollectionProcessor(registry, territory), creations(made) + follow_ups


async def judge_and_send(
    bootstrap: str,
    topic: str,
    processor: CollectionProcessor,
    stream: Sequence[tuple[str, DemoChange]],
    wanted: int,
    latest: dict[str, bytes] | None = None,
) -> int:
    """Judges the stream in order and sends each regional change as it comes (bounded memory);
    `latest`, if given, gets each offer's last change sent, by offer id."""
    producer = make_producer(bootstrap, client_id="sitn-bench-rebuild-generate")
    await producer.start()
    sent = 0
    try:
        pending: list[asyncio.Future[object]] = []
        for offset, (contributor, change) in enumerate(stream):
            contribution = as_contribution(contributor, change)
            inbound = Inbound(
                topic=contrib_topic(contributor),
                partition=0,
                offset=offset,
                timestamp_ms=int(contribution.occurred_at.timestamp() * 1000),
                key=contribution.offer_id.encode(),
                value=encode_contribution(contribution),
            )
            for out in processor.process(inbound):
                if out.topic == REGIONAL_CHANGES and sent < wanted:
                    pending.append(await producer.send(topic, key=out.key, value=out.value))
                    sent += 1
                    if latest is not None:
                        latest[out.key.decode()] = out.value
            if len(pending) >= SEND_CHUNK:
                await asyncio.gather(*pending)
                pending = []
            if sent >= wanted:
                break
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent


async def topic_total(bootstrap: str, topic: str) -> int | None:
    """Records on `topic` (no transactions: end offsets count records), None if it is absent."""
    admin = make_admin(bootstrap, client_id="sitn-bench-admin")
    await admin.start()
    try:
        if topic not in await admin.list_topics():
            return None
    finally:
        await admin.close()
    consumer = make_consumer(bootstrap, group_id=None, client_id="sitn-bench-rebuild-count")
    await consumer.start()
    try:
        partitions = await topic_partitions(bootstrap, [topic])
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        return sum(ends.values())
    finally:
        await consumer.stop()


async def delete_topic(bootstrap: str, topic: str) -> None:
    admin = make_admin(bootstrap, client_id="sitn-bench-admin")
    await admin.start()
    try:
        await admin.delete_topics([topic])
    finally:
        await admin.close()
    for _ in range(100):  # deletion is asynchronous on the broker
        if await topic_total(bootstrap, topic) is None:
            return
        await asyncio.sleep(0.2)
    raise SystemExit(f"{topic} was not deleted within 20 s")


def write_topic(bootstrap: str, streams: Streams, args: argparse.Namespace) -> None:
    topic = streams.regional_changes
    total = asyncio.run(topic_total(bootstrap, topic))
    if total == args.changes and not args.fresh:
        print(f"reusing {topic}: it holds {total:,} regional changes (--fresh writes it again)")
        return
    if total is not None:
        print(f"{topic} holds {total:,} records, not {args.changes:,}: writing it again")
        asyncio.run(delete_topic(bootstrap, topic))
    asyncio.run(
        ensure_topics(
            bootstrap,
            [TopicSpec(name, partitions=OFFER_PARTITIONS) for name in streams.topics],
        )
    )
    shares = args.processes
    offers = max(1, args.changes // args.versions)
    print(
        f"writing {args.changes:,} regional changes of {offers:,} offers to {topic} "
        f"in {shares} processes (not part of the rates) ..."
    )
    started = time.perf_counter()
    # Shares as even as possible; the first ones take the remainders.
    wanted = [args.changes // shares + (k < args.changes % shares) for k in range(shares)]
    share_offers = [offers // shares + (k < offers % shares) for k in range(shares)]
    context = multiprocessing.get_context("spawn")  # no broker connection or loop is inherited
    with ProcessPoolExecutor(max_workers=shares, mp_context=context) as pool:
        futures = [
            pool.submit(generate_share, bootstrap, topic, k, share_offers[k], wanted[k], args.seed)
            for k in range(shares)
        ]
        results = [future.result() for future in futures]
    sent = sum(count for count, _ in results)
    seconds = time.perf_counter() - started
    print(f"  wrote {sent:,} records in {seconds:,.0f}s ({sent / seconds:,.0f}/s, not rated)")
    if sent != args.changes:
        raise SystemExit(
            f"the generator made {sent:,} regional changes, not {args.changes:,}: "
            "some follow-ups had no effect; raise CHANGE_MARGIN"
        )


# ---------------------------------------------------------------- the arms


async def consume_and_decode(bootstrap: str, topic: str, label: str) -> Measure:
    consumer = make_consumer(bootstrap, group_id=None, client_id="sitn-bench-rebuild-raw")
    await consumer.start()
    try:
        partitions = await topic_partitions(bootstrap, [topic])
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        decoded = 0
        started, cpu = time.perf_counter(), time.process_time()
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000, max_records=10_000)
            for tp, records in batch.items():
                for record in records:
                    decode_regional_change(record.value)
                decoded += len(records)
                if records and records[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await consumer.stop()
    assert decoded == sum(ends.values()), f"decoded {decoded:,} of {sum(ends.values()):,}"
    return Measure(label, decoded, seconds, cpu)


def rebuild_into(
    bootstrap: str, streams: Streams, url: str, label: str, batch: int
) -> tuple[Measure, str, float]:
    """One rebuild into the empty database at `url`: its measure, digest and digest seconds."""
    store = open_target(url, live_url=None)
    try:
        ends = asyncio.run(_end_positions(bootstrap, streams))
        last_print = [0.0]

        def show(progress: Progress) -> None:
            now = time.perf_counter()
            if now - last_print[0] >= 30:
                last_print[0] = now
                print(f"    {progress.done:,} of {progress.total:,} events", flush=True)

        started, cpu = time.perf_counter(), time.process_time()
        outcome = asyncio.run(
            rebuild(store, bootstrap, ends, streams=streams, batch_records=batch, on_progress=show)
        )
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        assert outcome.finished, "the rebuild reached the end"
        assert outcome.reached == ends, "the rebuild stopped at the end offsets"
        digest_started = time.perf_counter()
        digest = store.digest()
        digest_seconds = time.perf_counter() - digest_started
    finally:
        store.close()
    p = outcome.progress
    split = (
        f"decoding {p.decode_seconds:,.0f}s, store writes {p.write_seconds:,.0f}s "
        f"({p.write_seconds / p.records * 1e6:,.0f} us per record)"
    )
    return Measure(label, p.records, seconds, cpu, split), digest, digest_seconds


async def _end_positions(bootstrap: str, streams: Streams) -> dict[tuple[str, int], int]:
    consumer = make_consumer(bootstrap, group_id=None, client_id="sitn-bench-rebuild-ends")
    await consumer.start()
    try:
        ends = await consumer.end_offsets(await topic_partitions(bootstrap, streams.topics))
        return {(tp.topic, tp.partition): end for tp, end in ends.items() if end > 0}
    finally:
        await consumer.stop()


def require_empty(url: str) -> None:
    with SqlStore(url) as store:
        store.migrate()
        if store.positions() or store.counts():
            raise SystemExit(
                f"--postgres {url}: the database already holds a store; give an empty one"
            )


# ---------------------------------------------------------------- the run


def report(measures: Sequence[Measure], digests: dict[str, tuple[str, float]]) -> None:
    raws = [m for m in measures if m.label.startswith("(a)")]
    raw_rate = statistics.fmean(m.rate for m in raws)
    raw_cpu = statistics.fmean(m.cpu_seconds / m.records for m in raws)
    print(
        f"\n{'measure':<30}{'records':>11}{'seconds':>9}{'rate/s':>9}{'/(a)':>7}"
        f"{'cpu us/rec':>12}{'/(a)':>7}"
    )
    for m in measures:
        per_record = m.cpu_seconds / m.records
        ratio = "" if m in raws else f"{m.rate / raw_rate:>7.3f}"
        cpu_ratio = "" if m in raws else f"{per_record / raw_cpu:>7.2f}"
        print(
            f"{m.label:<30}{m.records:>11,}{m.seconds:>9.1f}{m.rate:>9,.0f}{ratio:>7}"
            f"{per_record * 1e6:>12,.0f}{cpu_ratio:>7}"
        )
        if m.split:
            print(f"{'':<30}{m.split}")
    print(
        "/(a): rate over the mean of the two raw rates; CPU time per record over the raw one's "
        "(same topic, same run)."
    )
    for label, (digest, seconds) in digests.items():
        print(f"{label} digest {digest[:16]}... computed in {seconds:.1f}s (not in the rate)")
    if len({digest for digest, _ in digests.values()}) > 1:
        raise SystemExit("the rebuilt stores' digests differ: the rebuild is wrong somewhere")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--changes", type=int, default=1_000_000, help="regional changes")
    parser.add_argument("--versions", type=int, default=5, help="versions per offer (mean)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the demo generator")
    parser.add_argument("--processes", type=int, default=2, help="generating processes (1-4)")
    parser.add_argument(
        "--batch", type=int, default=BATCH_RECORDS, help="records per rebuild transaction"
    )
    parser.add_argument("--fresh", action="store_true", help="write the topic even if present")
    parser.add_argument("--postgres", metavar="URL", help="an empty PostgreSQL database to use")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL arm")
    args = parser.parse_args()
    if args.changes < 1 or args.versions < 1 or not 1 <= args.processes <= MAX_PROCESSES:
        parser.error("--changes and --versions must be at least 1, --processes 1 to 4")
    if args.postgres and args.no_postgres:
        parser.error("--postgres and --no-postgres contradict each other")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    bootstrap = Settings.from_env().bootstrap_servers
    topic = topic_name(args.changes, args.seed)
    streams = Streams(topic, f"{topic}.rejections", f"{topic}.customer-data")
    try:
        write_topic(bootstrap, streams, args)
        measures = [asyncio.run(consume_and_decode(bootstrap, topic, "(a) consume+decode"))]
        print(f"(a) {measures[-1].rate:,.0f} records/s")
        digests: dict[str, tuple[str, float]] = {}
        with tempfile.TemporaryDirectory(prefix="sitn-bench-rebuild-") as temp:
            sqlite_url = f"sqlite:///{Path(temp) / 'rebuilt.db'}"
            measure, digest, seconds = rebuild_into(
                bootstrap, streams, sqlite_url, "(b) rebuild into SQLite", args.batch
            )
            measures.append(measure)
            digests["SQLite"] = (digest, seconds)
            print(f"(b) {measure.rate:,.0f} records/s")
        if not args.no_postgres:
            server: PostgresServer | None = None
            url = args.postgres
            if url is None:
                server = PostgresServer()
                server.start()
                url = server.create_database("sitn_bench_rebuild")
            try:
                require_empty(url)
                measure, digest, seconds = rebuild_into(
                    bootstrap, streams, url, "(c) rebuild into PostgreSQL", args.batch
                )
            finally:
                if server is not None:
                    server.stop()
            measures.append(measure)
            digests["PostgreSQL"] = (digest, seconds)
            print(f"(c) {measure.rate:,.0f} records/s")
        measures.append(asyncio.run(consume_and_decode(bootstrap, topic, "(a) again")))
    except KafkaConnectionError as error:
        raise SystemExit(
            f"no Kafka broker at {bootstrap} ({error}): start the local one with "
            "`sitn kafka start`, or set KAFKA_BOOTSTRAP_SERVERS"
        ) from None
    except KafkaError as error:
        raise SystemExit(f"Kafka at {bootstrap} failed: {error}") from None
    report(measures, digests)


if __name__ == "__main__":
    main()
