"""`sitn deadletter list|show|redrive`: inspect `sitn.deadletter` and redrive what it holds.

A dead letter is named by its offset on `sitn.deadletter` (`list` shows them). `show` prints one
with its original bytes (hex and base64) and what decoding says of them now; `redrive` sends the
original key and value back to where they came from, for the worker to judge afresh. A dead letter
is redriven at most once: the marks on `sitn.deadletter.redrives` say which were (`hub.deadletter`).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Coroutine
from datetime import datetime
from typing import Annotated, Any, TypeVar

import typer
from aiokafka.errors import KafkaError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hub.cli.console import err, fail, out, settings
from hub.deadletter import (
    DeadLetter,
    DeadLetterError,
    RedriveOutcome,
    diagnose,
    read_dead_letters,
    redrive,
)
from hub.topics import CONTRIB_PREFIX, DEADLETTER, contrib_topic

app = typer.Typer(
    help="Dead letters: records the hub could not judge, kept with their bytes and origin.",
    no_args_is_help=True,
)

T = TypeVar("T")
_PREVIEW = 256  # bytes of the original value `show` prints

TopicOption = Annotated[
    str | None,
    typer.Option(
        "--topic",
        help="Only dead letters from this origin topic (a contributor's id stands for its "
        f"topic {CONTRIB_PREFIX}ID).",
    ),
]


def _run(work: Coroutine[Any, Any, T]) -> T:
    bootstrap = settings().bootstrap_servers
    try:
        return asyncio.run(work)
    except DeadLetterError as error:
        fail(str(error))
    except (KafkaError, OSError) as error:
        fail(f"cannot reach Kafka at {bootstrap} ({error}); is it running? try `sitn kafka start`")


def _origin_topic(topic: str | None) -> str | None:
    if topic is None or topic.startswith("sitn."):
        return topic
    try:
        return contrib_topic(topic)
    except ValueError as error:
        fail(f"--topic {topic!r}: {error}; or give a full topic name (sitn.…)", code=2)


def _when(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


@app.command("list")
def list_letters(
    topic: TopicOption = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="Show the latest N dead letters at most.")
    ] = 50,
) -> None:
    """List dead letters, oldest first: offset, origin, kind, reason, size, redrive."""
    origin = _origin_topic(topic)
    bootstrap = settings().bootstrap_servers
    letters = _run(read_dead_letters(bootstrap, origin_topic=origin))
    shown = letters[-limit:]
    table = Table("offset", "dead-lettered", "origin", "kind", "size", "redriven", "reason")
    for letter in shown:
        table.add_row(
            str(letter.offset),
            _when(letter.dead_lettered_at),
            letter.origin,
            letter.kind,
            f"{letter.size} B",
            _when(letter.redriven.redriven_at) if letter.redriven else "-",
            letter.reason,
        )
    out.print(table)
    waiting = sum(1 for letter in letters if letter.redriven is None)
    where = f" from {origin}" if origin else ""
    out.print(
        f"{len(letters)} dead letters{where} on {DEADLETTER} ({waiting} not redriven), "
        f"{len(shown)} shown; `sitn deadletter show OFFSET` for one"
    )


@app.command()
def show(
    offset: Annotated[int, typer.Argument(min=0, help="The dead letter's offset (see `list`).")],
) -> None:
    """Show one dead letter: its origin, reason, bytes, and what decoding says of them now."""
    bootstrap = settings().bootstrap_servers
    letters = {d.offset: d for d in _run(read_dead_letters(bootstrap))}
    letter = letters.get(offset)
    if letter is None:
        span = f"offsets {min(letters)} to {max(letters)}" if letters else "no dead letter"
        fail(f"no dead letter at offset {offset} of {DEADLETTER} (it holds {span}); see `list`")
    _print_letter(letter)


def _print_letter(letter: DeadLetter) -> None:
    value = letter.value or b""
    rows = [
        ("offset", f"{letter.offset} on {DEADLETTER}"),
        ("dead-lettered at", _when(letter.dead_lettered_at)),
        ("origin", letter.origin),
        ("origin record at", _when(letter.failed_at)),
        ("kind", letter.kind),
        ("reason", letter.reason),
        ("key", "none" if letter.key is None else repr(letter.key)),
        ("value", "none (a tombstone)" if letter.value is None else f"{letter.size} bytes"),
        ("decoding now", diagnose(letter.value)),
    ]
    if letter.redriven is None:
        rows.append(("redriven", "no; `sitn deadletter redrive OFFSET` sends it back"))
    else:
        mark = letter.redriven
        rows.append(
            (
                "redriven",
                f"at {_when(mark.redriven_at)} to {mark.to_topic}[{mark.to_partition}]"
                f"@{mark.to_offset}; it is not redriven again",
            )
        )
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    for name, text in rows:
        table.add_row(name, text)
    out.print(table)
    if value:
        more = f" (first {_PREVIEW} of {len(value)})" if len(value) > _PREVIEW else ""
        out.print(f"[bold]hex{more}:[/]")
        preview = value[:_PREVIEW]
        for start in range(0, len(preview), 32):
            out.print(f"  {start:04x}  {preview[start : start + 32].hex(' ')}", markup=False)
        out.print(f"[bold]base64{more}:[/]")
        out.print(base64.b64encode(preview).decode(), markup=False)


@app.command("redrive")
def redrive_letters(
    offsets: Annotated[
        list[int] | None,
        typer.Argument(help="Offsets of the dead letters to redrive (see `list`)."),
    ] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Redrive every dead letter not redriven yet.")
    ] = False,
    topic: TopicOption = None,
) -> None:
    """Send dead letters back to their origin topic, for the worker to judge them afresh.

    The original key and value go, unchanged, to the partition they came from. A dead letter
    already redriven is not sent again; one that fails again comes back as a new dead letter.
    """
    if bool(offsets) == every:
        fail("give the offsets of dead letters to redrive, or --all (not both)", code=2)
    if any(offset < 0 for offset in offsets or ()):
        fail("offsets are 0 or more; `sitn deadletter list` shows them", code=2)
    origin = _origin_topic(topic)
    bootstrap = settings().bootstrap_servers
    with Progress(
        TextColumn("redriving"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("redrive", total=len(offsets) if offsets else None)
        outcomes = _run(
            redrive(
                bootstrap,
                None if every else offsets,
                origin_topic=origin,
                progress=lambda done: bar.advance(task, done),
            )
        )
    _report(outcomes)


def _report(outcomes: list[RedriveOutcome]) -> None:
    if not outcomes:
        out.print("nothing to redrive: no dead letter chosen waits for it")
        return
    for outcome in outcomes:
        mark = outcome.mark
        to = f"{mark.to_topic}[{mark.to_partition}]@{mark.to_offset}"
        if outcome.published:
            out.print(f"{outcome.letter.offset}: redriven to {to}")
        else:
            out.print(
                f"{outcome.letter.offset}: already redriven at {_when(mark.redriven_at)} to {to}; "
                "not sent again"
            )
    sent = sum(1 for outcome in outcomes if outcome.published)
    out.print(
        f"{sent} redriven, {len(outcomes) - sent} already redriven; the worker judges them as "
        "fresh records (`sitn deadletter list` shows any that come back)"
    )
