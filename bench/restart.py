"""How long each stage takes to be ready when it starts on a long history, and its memory.

On a broker of its own (in a temporary folder), writes what a hub that has run for a while leaves:
N regional changes (default 1,000,000) of N / V offers (`--versions`, default 5) on
`sitn.regional.changes`, judged by the hub's `CollectionProcessor` from the demo generator's
offers and follow-up changes (as `bench.rebuild` makes them, in P processes), each offer's ledger
entry on `sitn.collection.state` with its boundary facts on `sitn.collection.boundaries`, and an
SQLite store whose store and feed positions are at the topics' ends, with each offer's diffusion
timeline row. Writing is not timed.

Then starts each stage alone, as an operator does (`sitn worker --stage NAME`, a child process),
and times it from the start of the process to the line of its log that says it is ready (its
partitions restored: the collection tasks' ledgers, the diffusion timeline, the scheduler's offers;
for the store, which keeps nothing but its positions, its partitions assigned), with its peak
resident memory by then (VmHWM); each stage is started K times in a row (`--starts`, default 1),
since one start on a shared machine may be slowed by others. Side by side in the same run: the
diffusion stage again on the same database with its timeline rows removed (so it reads the history,
as every stage did before the ledger and the rows existed; timed to its log line, which then
includes saving every offer's row, and gives the read alone), unless `--no-history`; and the
scheduler again with `sitn.collection.boundaries` deleted (an older hub's ledger alone: it decodes
every entry), unless `--no-older-ledger`.
Prints only; asserts nothing about time.
With `--keep DIR`, the history is written into DIR once and reused by later runs given the same
DIR and sizes (the broker restarts on its data), so stage starts can be timed again on a quiet
machine without writing for a quarter of an hour; the two runs that alter it are then skipped.
Usage: `python -m bench.restart [--changes N] [--versions V] [--seed S] [--processes P]
[--starts K] [--no-history] [--no-older-ledger] [--keep DIR]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from aiokafka.errors import KafkaError
from sqlalchemy import delete

from bench.rebuild import SEND_CHUNK, judge_and_send, share_stream
from consumers.feeds.port import TimelineRow
from consumers.feeds.sql import SqlFeedStore
from hub.collection_processor import CollectionProcessor, ledger_outputs
from hub.demo_run import end_offsets, prepare
from hub.kafka_clients import ensure_topics, make_admin, make_producer
from hub.registry.format import load_normandy_registry
from hub.store.schema import diffusion_timeline
from hub.store.sql import SqlStore
from hub.topics import (
    COLLECTION_BOUNDARIES,
    DIFFUSION_TICKS,
    OFFER_PARTITIONS,
    REGIONAL_CHANGES,
    expected_partition,
    hub_topics,
)
from hub.wire import decode_regional_change
from tests.conftest import broker_login, make_test_broker

STAGES = ("collection", "store", "diffusion", "scheduler")
ROWS_CHUNK = 5_000
READY_WITHIN = 1_800.0  # seconds: a bound on waiting, not a rate
# The log line that says a stage is ready, and how many of them it takes.
READY: dict[str, tuple[re.Pattern[str], int]] = {
    "collection": (re.compile(r"task \d+: [\d,]+ offers read back"), OFFER_PARTITIONS),
    "store": (re.compile(r"sitn-store: \d+ partition\(s\) assigned"), 1),
    "diffusion": (re.compile(r"diffusion: timeline of \d+ partitions restored"), 1),
    # With no timeline rows: ready once the history is read (the line gives read and save times).
    "diffusion, from history": (re.compile(r"without timeline rows read from"), 1),
    "scheduler": (re.compile(r"scheduler: \d+ partitions; "), 1),
    # With no boundary facts beside the ledger (an older hub's): it decodes the ledger entries.
    "scheduler, older ledger": (re.compile(r"scheduler: \d+ partitions; "), 1),
}


# ---------------------------------------------------------------- writing the history


def write_share(
    bootstrap: str, database_url: str, share: int, offers: int, wanted: int, seed: int
) -> tuple[int, int, float]:
    """In a worker process: judge one share's stream, send its first `wanted` regional changes,
    then each offer's ledger entry, and save each offer's timeline row; returns (changes,
    offers, seconds)."""
    started = time.perf_counter()
    processor, stream = share_stream(share, offers, wanted, seed)
    latest: dict[str, bytes] = {}
    sent = asyncio.run(
        judge_and_send(bootstrap, REGIONAL_CHANGES, processor, stream, wanted, latest)
    )
    asyncio.run(_send_ledger(bootstrap, processor, sorted(latest)))
    _save_timeline(database_url, latest)
    return sent, len(latest), time.perf_counter() - started


async def _send_ledger(
    bootstrap: str, processor: CollectionProcessor, offer_ids: Sequence[str]
) -> None:
    """Each offer's ledger entry on the state topic and its latest change's boundary facts, as
    the collection stage leaves them."""
    producer = make_producer(bootstrap, client_id="sitn-bench-restart-ledger")
    await producer.start()
    try:
        pending: list[asyncio.Future[object]] = []
        for offer_id in offer_ids:
            for out in ledger_outputs(processor.entry(offer_id)):
                pending.append(
                    await producer.send(
                        out.topic, key=out.key, value=out.value, headers=list(out.headers)
                    )
                )
            if len(pending) >= SEND_CHUNK:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


def _save_timeline(database_url: str, latest: dict[str, bytes]) -> None:
    """Each offer's timeline row, as the diffusion stage saves it after projecting the change."""
    rows = [
        TimelineRow(
            offer_id,
            expected_partition(offer_id.encode(), OFFER_PARTITIONS),
            (change := decode_regional_change(value)).version,
            value,
            change.occurred_at,
            (),
        )
        for offer_id, value in sorted(latest.items())
    ]
    with SqlFeedStore(database_url) as feeds:
        for start in range(0, len(rows), ROWS_CHUNK):
            feeds.append([], {}, rows[start : start + ROWS_CHUNK])


def write_history(bootstrap: str, database_url: str, args: argparse.Namespace) -> int:
    asyncio.run(prepare(bootstrap, load_normandy_registry()))
    with SqlStore(database_url) as store, SqlFeedStore(database_url) as feeds:
        store.migrate()
        feeds.migrate()
    shares = args.processes
    offers = max(1, args.changes // args.versions)
    print(
        f"writing {args.changes:,} regional changes of {offers:,} offers, their ledger and "
        f"timeline rows, in {shares} processes (not timed) ..."
    )
    started = time.perf_counter()
    wanted = [args.changes // shares + (k < args.changes % shares) for k in range(shares)]
    share_offers = [offers // shares + (k < offers % shares) for k in range(shares)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=shares, mp_context=context) as pool:
        futures = [
            pool.submit(
                write_share, bootstrap, database_url, k, share_offers[k], wanted[k], args.seed
            )
            for k in range(shares)
        ]
        results = [future.result() for future in futures]
    sent, made = sum(r[0] for r in results), sum(r[1] for r in results)
    # The store and the feeds stand at the topics' ends, as after a hub that kept up.
    ends = asyncio.run(end_offsets(bootstrap, [REGIONAL_CHANGES, DIFFUSION_TICKS]))
    with SqlStore(database_url) as store, SqlFeedStore(database_url) as feeds:
        store.apply([], {k: v for k, v in ends.items() if k[0] == REGIONAL_CHANGES})
        feeds.append([], ends)
    print(f"  wrote {sent:,} changes of {made:,} offers in {time.perf_counter() - started:,.0f}s")
    return made


async def drop_boundary_facts(bootstrap: str) -> None:
    """`sitn.collection.boundaries` deleted and created again empty, as a hub older than it
    left things: its partitions were never written, so the scheduler decodes ledger entries."""
    print("deleting the boundary facts (not timed) ...")
    admin = make_admin(bootstrap, client_id="sitn-bench-restart")
    await admin.start()
    try:
        await admin.delete_topics([COLLECTION_BOUNDARIES])
    finally:
        await admin.close()
    spec = next(spec for spec in hub_topics() if spec.name == COLLECTION_BOUNDARIES)
    for _ in range(120):  # deletion completes in the background
        try:
            if await ensure_topics(bootstrap, [spec]):
                return
        except KafkaError:
            pass
        await asyncio.sleep(0.5)
    raise SystemExit(f"{COLLECTION_BOUNDARIES} could not be created again after its deletion")


# ---------------------------------------------------------------- starting a stage


@dataclass(frozen=True)
class Start:
    stage: str
    label: str
    seconds: float
    peak_mib: float
    said: str


def peak_mib(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    found = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(found.group(1)) / 1024 if found else 0.0


def start_stage(stage: str, label: str, env: dict[str, str], home: Path, nth: int = 1) -> Start:
    log = home / f"{label} {nth}.log"
    pattern, wanted = READY[label]
    started = time.perf_counter()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "worker", "--stage", stage],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        peak, lines = 0.0, []
        while time.perf_counter() - started < READY_WITHIN:
            peak = max(peak, peak_mib(process.pid))
            lines = [line for line in log.read_text().splitlines() if pattern.search(line)]
            if len(lines) >= wanted:
                seconds = time.perf_counter() - started
                return Start(stage, label, seconds, max(peak, peak_mib(process.pid)), lines[-1])
            if process.poll() is not None:
                raise SystemExit(f"{label} stopped before it was ready; see {log}")
            time.sleep(0.05)
        raise SystemExit(f"{label} was not ready within {READY_WITHIN:g}s; see {log}")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)


def report(starts: Sequence[Start], offers: int, changes: int) -> None:
    print(f"\nready after a start, on {changes:,} regional changes of {offers:,} offers:")
    for start in starts:
        said = start.said.split(": ", 1)[-1]
        said = said if len(said) <= 110 else said[:107] + "..."
        print(
            f"  {start.label:<28} {start.seconds:7.1f} s  peak {start.peak_mib:7.0f} MiB   {said}"
        )
    facts = next((s for s in starts if s.label == "scheduler"), None)
    older = next((s for s in starts if s.label == "scheduler, older ledger"), None)
    if facts and older:
        print(
            "  scheduler from the boundary facts / from the ledger entries:"
            f" {facts.seconds / older.seconds:.2f}"
        )
    rows = next((s for s in starts if s.label == "diffusion"), None)
    history = next((s for s in starts if s.label.startswith("diffusion, from")), None)
    if rows and history:
        print(f"  diffusion from its rows / from the history: {rows.seconds / history.seconds:.2f}")


def kept_or_written(home: Path, bootstrap: str, database_url: str, args: argparse.Namespace) -> int:
    """The offers of the history in `home`: written now, or by an earlier run of the same size."""
    marker = home / "history.txt"
    wanted = f"{args.changes} changes, {args.versions} versions, seed {args.seed}"
    if marker.exists():
        kept, count = marker.read_text().rsplit(": ", 1)
        if kept != wanted:
            raise SystemExit(f"{home} holds {kept}, not {wanted}: give another --keep folder")
        print(f"reusing the history in {home} ({kept}: {int(count):,} offers; not timed)")
        return int(count)
    offers = write_history(bootstrap, database_url, args)
    if args.keep is not None:
        marker.write_text(f"{wanted}: {offers}")
    return offers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=1_000_000)
    parser.add_argument("--versions", type=int, default=5, help="regional versions per offer")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--processes", type=int, default=2, help="writers (not timed)")
    parser.add_argument("--starts", type=int, default=1, help="starts of each stage in a row")
    parser.add_argument(
        "--no-history", action="store_true", help="skip the diffusion stage read from history"
    )
    parser.add_argument(
        "--no-older-ledger",
        action="store_true",
        help="skip the scheduler on a ledger without boundary facts beside it",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="write the history into DIR once and reuse it later (skips the runs that alter it)",
    )
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        if args.keep is None:
            home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sitn-bench-")))
        else:
            home = args.keep.absolute()
            home.mkdir(parents=True, exist_ok=True)
            args.no_history = args.no_older_ledger = True
        broker = make_test_broker(home / "kafka")
        broker.start()
        os.environ.update(broker_login(broker))  # this bench's clients and stages log in to it
        try:
            database_url = f"sqlite:///{home / 'store.db'}"
            offers = kept_or_written(home, broker.bootstrap, database_url, args)
            env = {
                **os.environ,
                "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
                "SITN_DATABASE_URL": database_url,
                "SITN_HOME": str(home / "hub"),
            }
            starts = [
                start_stage(stage, stage, env, home, nth)
                for stage in STAGES
                for nth in range(1, args.starts + 1)
            ]
            if not args.no_history:
                with SqlFeedStore(database_url) as feeds, feeds.engine.begin() as conn:
                    conn.execute(delete(diffusion_timeline))
                starts.append(start_stage("diffusion", "diffusion, from history", env, home))
            if not args.no_older_ledger:
                asyncio.run(drop_boundary_facts(broker.bootstrap))
                starts.append(start_stage("scheduler", "scheduler, older ledger", env, home))
            report(starts, offers, args.changes)
        finally:
            broker.stop()


if __name__ == "__main__":
    main()
