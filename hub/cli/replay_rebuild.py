"""`sitn replay rebuild --into DATABASE_URL [--swap]`: rebuild the regional store from the streams.

The steps, each failing with one line that names what to fix: check the target
(`hub.replay.target`); read the live store's positions and digest in one snapshot; check that the
target is empty or a partial rebuild of these streams; rebuild up to exactly those positions
with a progress bar (`hub.replay.rebuild`); compare the digests and positions; with `--swap`,
make the rebuild live (`hub.replay.swap`). Ctrl-C keeps every batch written so far, and the same
command resumes from there.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from aiokafka.errors import KafkaError
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError

from hub.cli.console import err, fail, out, settings
from hub.replay import rebuild as rebuilding
from hub.replay.swap import SwapError, swap
from hub.replay.target import TargetError, identity, open_target, shown
from hub.store.port import PositionedDigest
from hub.store.sql import SqlStore

INTERRUPTED = 130  # what shells report for Ctrl-C


class _Rate(ProgressColumn):
    """Events per second, as rich measures them over the last seconds."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-- events/s" if speed is None else f"{speed:,.0f} events/s")


def rebuild(
    into: Annotated[
        str,
        typer.Option(
            "--into",
            metavar="DATABASE_URL",
            help="Where to rebuild: an empty database, or one an interrupted rebuild left (it "
            "resumes). Never the live store.",
            show_default=False,
        ),
    ],
    swap_in: Annotated[
        bool,
        typer.Option(
            "--swap",
            help="Once verified, make the rebuild the live store and keep the previous one. "
            "Stop the worker and `sitn api serve` first: it refuses while another process has "
            "the live store open.",
        ),
    ] = False,
) -> None:
    """Rebuild the regional store from the streams into another database, and verify it.

    Reads sitn.regional.changes, sitn.rejections and the customer-data topic into DATABASE_URL.

    It stops at the positions the live store (SITN_DATABASE_URL) holds when it starts.

    Then it compares both digests at those positions, and exits non-zero if they differ.

    The worker may run meanwhile. Interrupted (Ctrl-C, kill), the command resumes where it stopped.

    --swap needs the worker and the API stopped; it refuses while another process uses the store.

    SQLite: the live file is copied to FILE.before-rebuild-TIME, its store tables replaced.

    PostgreSQL (one server): the live database becomes NAME_before_rebuild_TIME, the rebuild NAME.

    Feeds, API keys and webhooks stay as the live store has them.
    """
    config = settings()
    live_url = config.database_url
    try:
        live_identity = identity(live_url)
    except TargetError as error:
        fail(f"SITN_DATABASE_URL: {error}", code=2)
    if live_identity[0] == "sqlite" and not Path(live_identity[1]).is_file():
        fail(
            f"the live store {live_identity[1]} does not exist: there is nothing to rebuild to; "
            "set SITN_DATABASE_URL to the hub's store",
            code=2,
        )
    try:
        target = open_target(into, live_url)
    except TargetError as error:
        fail(f"--into: {error}", code=2)
    streams = rebuilding.Streams()
    try:
        live = _read_live(live_url, streams)
        err.print(
            f"live store {shown(live_url)}: {sum(live.positions.values()):,} events consumed on "
            f"{len(live.positions)} partitions; rebuilding into {shown(into)}"
        )
        seen: list[rebuilding.Progress] = []
        started = time.perf_counter()
        try:
            outcome = asyncio.run(_rebuild(target, config.bootstrap_servers, live, seen))
        except KeyboardInterrupt:
            done = seen[0].done if seen else 0
            fail(
                f"interrupted after {done:,} events; what was written is kept: run the same "
                "command again to resume",
                code=INTERRUPTED,
            )
        _summarise(outcome, time.perf_counter() - started)
        verification = _verify(live, target, live_url, streams)
    finally:
        target.close()
    if swap_in:
        _swap(live_url, into, outcome, verification, streams)


def _read_live(live_url: str, streams: rebuilding.Streams) -> PositionedDigest:
    try:
        with SqlStore(live_url) as live:
            live.migrate()
            snapshot = live.digest_with_positions()
    except SQLAlchemyError as error:
        cause = getattr(error, "orig", None) or error
        fail(f"cannot read the live store {shown(live_url)}: {str(cause).strip().splitlines()[0]}")
    return PositionedDigest(snapshot.digest, streams.only(snapshot.positions))


async def _rebuild(
    target: SqlStore, bootstrap: str, live: PositionedDigest, seen: list[rebuilding.Progress]
) -> rebuilding.RebuildOutcome:
    """The rebuild with its progress bar; `seen` gets the run's progress (for Ctrl-C)."""
    try:
        await rebuilding.check_resumable(target, bootstrap, live.positions)
    except rebuilding.RebuildError as error:
        fail(f"--into: {error}", code=2)
    except KafkaError as error:
        _kafka_failed(bootstrap, error)
    with Progress(
        TextColumn("rebuilding"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("events"),
        _Rate(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
    ) as bar:
        task = bar.add_task("rebuild", total=None)

        def show(now: rebuilding.Progress) -> None:
            if not seen:
                seen.append(now)  # the run updates it in place
            bar.update(task, total=now.total, completed=now.done)

        try:
            return await rebuilding.rebuild(target, bootstrap, live.positions, on_progress=show)
        except rebuilding.RebuildError as error:
            fail(str(error))
        except KafkaError as error:
            _kafka_failed(bootstrap, error)


def _kafka_failed(bootstrap: str, error: KafkaError) -> NoReturn:
    fail(
        f"Kafka at {bootstrap} failed: {error}; start it (`sitn kafka start`) or set "
        "KAFKA_BOOTSTRAP_SERVERS"
    )


def _summarise(outcome: rebuilding.RebuildOutcome, seconds: float) -> None:
    p = outcome.progress
    resumed = sum(outcome.started_from.values())
    out.print(
        f"rebuilt {p.changes:,} regional changes, {p.rejections:,} rejections and "
        f"{p.customer_records:,} customer records in {seconds:,.1f}s "
        f"({p.done / max(seconds, 1e-9):,.0f} events/s)"
        + (f"; resumed after {resumed:,} events already rebuilt" if resumed else "")
    )
    if p.undecodable:
        err.print(f"{p.undecodable:,} undecodable records skipped, as the worker skips them")
    for cut in outcome.truncated:
        err.print(
            f"[yellow]warning:[/] {cut.topic}[{cut.partition}] starts at offset "
            f"{cut.starts_at:,}: records {cut.needed_from:,} to {cut.starts_at - 1:,} are past "
            "the topic's retention and exist only in the live store"
        )


def _verify(
    live: PositionedDigest, target: SqlStore, live_url: str, streams: rebuilding.Streams
) -> rebuilding.Verification:
    with SqlStore(live_url) as live_store:
        verification = rebuilding.verify(live, target, streams, live_store=live_store)
    out.print(f"live store digest    {verification.live.digest}")
    out.print(f"rebuilt store digest {verification.rebuilt.digest}")
    if verification.equal:
        out.print(
            f"[green]equal[/] at the same positions ({len(verification.live.positions)} partitions)"
        )
        return verification
    for topic, partition, theirs, ours in verification.position_differences:
        err.print(f"{topic}[{partition}]: live store at {theirs:,}, rebuilt store at {ours:,}")
    for line in verification.offer_differences:
        err.print(f"  {line}")
    if verification.position_differences:
        fail("the rebuilt store did not reach the live store's positions; run it again")
    fail(
        "the rebuilt store's digest differs from the live store's at the same positions: the "
        "live store does not hold what the streams say (see the offers above); do not swap"
    )


def _swap(
    live_url: str,
    into: str,
    outcome: rebuilding.RebuildOutcome,
    verification: rebuilding.Verification,
    streams: rebuilding.Streams,
) -> None:
    if outcome.truncated:
        fail(
            "not swapped: some records are past their topic's retention (see above), so the "
            "rebuilt store lacks what the live store still holds"
        )
    try:
        done = swap(live_url, into, verification.live.positions, streams.topics)
    except SwapError as error:
        fail(f"not swapped: {error}")
    out.print(f"[green]swapped:[/] the rebuild is the live store; the previous one is {done.kept}")
    if done.leftover:
        out.print(f"{done.leftover} is no longer needed (its content is live): delete it")
