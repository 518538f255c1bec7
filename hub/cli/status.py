"""`sitn status`: the hub on one screen, from the broker and the store (`hub.operations.status`).

It only reads. If the broker does not answer, the store's figures are still shown, the missing
parts are named on stderr, and the exit code is 1 (0 when every figure was gathered).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from hub.cli.console import err, out, settings
from hub.operations.status import (
    DEFAULT_THROUGHPUT_WINDOW,
    ConsumerLag,
    HubStatus,
    gather_status,
    sql_sources,
)

_MOST_BEHIND = 4  # partitions named per (consumer, topic) row


def status(
    group: Annotated[
        list[str] | None,
        typer.Option(
            "--group",
            help="Report this Kafka consumer group (repeatable). Default: every group with "
            "committed offsets on the hub's topics.",
        ),
    ] = None,
    minutes: Annotated[
        int,
        typer.Option(
            "--minutes",
            min=1,
            help="Throughput window: regional changes appended in the last N minutes.",
        ),
    ] = int(DEFAULT_THROUGHPUT_WINDOW.total_seconds() // 60),
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.5, help="Seconds to wait for the broker.")
    ] = 10.0,
) -> None:
    """Lag per consumer and partition, rejections (24 h), dead letters, deliveries, store.

    Read-only. If the broker does not answer, the store's figures are still shown, what is
    missing is said on stderr, and the exit code is 1.
    """
    config = settings()
    out.print(f"state: {config.home} ({config.home_origin})")
    with sql_sources(config) as sources:
        taken = asyncio.run(
            gather_status(
                sources,
                groups=tuple(group) if group else None,
                throughput_window=timedelta(minutes=minutes),
                kafka_timeout=timeout,
            )
        )
    show(taken)
    if taken.problems:
        raise typer.Exit(1)


def show(taken: HubStatus) -> None:
    """Print a status on the console, one section per figure."""
    out.print(f"[bold]SITN Hub status[/] at {taken.taken_at.isoformat(timespec='seconds')}")
    if taken.throughput is not None:
        t = taken.throughput
        out.print(
            f"throughput: {t.regional_changes} regional changes in the last "
            f"{t.window.total_seconds() / 60:g} min ({t.per_minute:.1f}/min)"
        )
    if taken.dead_letters is not None:
        d = taken.dead_letters
        hint = "; `sitn deadletter list`" if d.waiting else ""
        out.print(f"dead letters: {d.total} ({d.redriven} redriven, {d.waiting} waiting){hint}")
    _lags(taken.lags)
    _rejections(taken)
    _diffusers(taken)
    _store(taken)
    for problem in taken.problems:
        err.print(f"[bold yellow]not shown:[/] {problem}", markup=True)


def _lags(lags: tuple[ConsumerLag, ...]) -> None:
    out.print(lag_table(lags))


def lag_table(lags: tuple[ConsumerLag, ...]) -> Table:
    """One row per consumer and topic, the partitions most behind under the topic. Ids are never
    cut (six contributor topics cut to `sitn.contrib.c…` read alike), so the table fits 80
    columns with the longest topic name whole."""
    table = Table(title="lag", box=box.SIMPLE_HEAD)
    table.add_column("consumer", overflow="fold")
    table.add_column("source", overflow="fold")
    table.add_column("parts", no_wrap=True, justify="right")
    table.add_column("lag", no_wrap=True, justify="right")
    # Last, taking the width left: a topic longer than that folds onto the next line rather
    # than lose its end.
    table.add_column("topic (most behind)", overflow="fold", ratio=1)
    for lag in lags:
        topics = sorted({p.topic for p in lag.partitions})
        for topic in topics:
            parts = [p for p in lag.partitions if p.topic == topic]
            behind = sorted((p for p in parts if p.lag), key=lambda p: (-p.lag, p.partition))
            most = ", ".join(f"p{p.partition}: {p.lag}" for p in behind[:_MOST_BEHIND])
            table.add_row(
                lag.consumer,
                lag.source,
                str(len(parts)),
                str(sum(p.lag for p in parts)),
                Text.assemble(topic, *((f"\n  {most}", "dim") for _ in [0] if most)),
            )
    return table


def _rejections(taken: HubStatus) -> None:
    since = taken.rejections_since.isoformat(timespec="minutes")
    table = Table("contributor", "rejections", title=f"rejections since {since}")
    for item in taken.rejections:
        table.add_row(item.contributor, str(item.rejections))
    out.print(table)
    if taken.rejections:
        out.print("`sitn rejections --contributor ORG` says what to fix")


def _diffusers(taken: HubStatus) -> None:
    table = Table(
        "diffuser", "feed head", "last entry", "webhook", "delivered", "backlog", "failures",
        title="deliveries",
    )  # fmt: skip
    for d in taken.diffusers:
        last = (
            f"{d.last_offer_id} v{d.last_version} {d.last_kind} "
            f"{d.last_occurred_at.isoformat(timespec='minutes')}"
            if d.last_offer_id is not None and d.last_occurred_at is not None
            else "-"
        )
        hook = d.webhook
        if hook is None:
            table.add_row(d.diffuser_id, str(d.head), last, "-", "-", "-", "-")
            continue
        state = hook.state if hook.last_error is None else f"{hook.state}: {hook.last_error}"
        table.add_row(
            d.diffuser_id,
            str(d.head),
            last,
            state,
            str(hook.delivered),
            str(hook.backlog),
            str(hook.failures),
        )
    out.print(table)


def _store(taken: HubStatus) -> None:
    departments = sorted({c.department or "-" for c in taken.store_counts})
    by_cell: dict[tuple[str, str], int] = {}
    statuses: dict[str, int] = {}
    for c in taken.store_counts:
        cell = (c.offer_type.value, c.department or "-")
        by_cell[cell] = by_cell.get(cell, 0) + c.offers
        statuses[c.status.value] = statuses.get(c.status.value, 0) + c.offers
    table = Table("type", *departments, "all", title="store: offers by type and department")
    for offer_type in sorted({t for t, _ in by_cell}):
        row = [by_cell.get((offer_type, d), 0) for d in departments]
        table.add_row(offer_type, *(str(n) if n else "." for n in row), str(sum(row)))
    out.print(table)
    split = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
    out.print(f"{taken.offers} offers" + (f" ({split})" if split else ""))
