"""`sitn publish --as ORG FILE`: publish a JSON-lines file of changes for one organisation.

Exit status: 0 when everything was published; 1 when the broker failed part-way (the output says
which events were committed and which were not); 2 when the file holds invalid changes (nothing is
sent unless `--skip-invalid`, and every problem is listed with its line, field and rule).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from hub.cli.console import err, fail, out, settings
from hub.reference import load_normandy_territory
from hub.topics import contrib_topic
from producers.jsonlines import read_changes
from producers.publisher import Publisher, PublishReport


def publish(
    contributor: Annotated[
        str, typer.Option("--as", help="Your organisation id (publishes to sitn.contrib.<org>).")
    ],
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            help="JSON lines, one change per line, in UTF-8 (the format: docs/publishing.md).",
        ),
    ],
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Publish the valid changes, report the others.")
    ] = False,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write what was sent (JSON) to this file.")
    ] = None,
) -> None:
    """Validate every change of FILE, then publish them to the hub (keyed by offer id)."""
    try:
        topic = contrib_topic(contributor)
    except ValueError as error:
        fail(str(error), code=2)
    config = settings()
    try:
        # utf-8-sig: a byte-order mark some editors write is not part of the first line.
        with file.open(encoding="utf-8-sig") as lines:
            numbered, problems = read_changes(lines, contributor)
    except UnicodeDecodeError:
        fail(
            f"{file} is not UTF-8 text ({_first_bad_byte(file)}): sitn publish reads JSON "
            "lines, one change per line, in UTF-8 "
            "(docs/publishing.md); for a DATAtourisme or Tourinsoft export use "
            "`sitn import`",
            code=2,
        )
    if not numbered and not problems:
        if report is not None:
            report.write_text(json.dumps(report_json(PublishReport(topic)), indent=2) + "\n")
        out.print(f"{file} holds no change (no line with a JSON object): nothing to publish")
        return
    for problem in problems:
        err.print(f"[red]refused[/] {escape(problem.describe())}")
    if problems and not skip_invalid:
        fail(f"{len(problems)} invalid lines in {file}; nothing was published", code=2)
    changes = [change for _, change in numbered]
    publisher = Publisher(
        bootstrap=config.bootstrap_servers,
        contributor=contributor,
        state_dir=config.home / "publisher",
        territory=load_normandy_territory(),
    )
    with Progress(
        TextColumn("publishing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("publish", total=len(changes))
        result = asyncio.run(
            publisher.publish(
                changes,
                skip_invalid=skip_invalid,
                progress=lambda n: bar.advance(task, n),
            )
        )
    line_of = {index: number for index, (number, _) in enumerate(numbered, start=1)}
    for refusal in result.refused:
        err.print(f"[red]refused[/] line {line_of[refusal.position]}: {escape(refusal.describe())}")
    if report is not None:
        report.write_text(json.dumps(report_json(result), indent=2) + "\n")
    out.print(
        f"{len(result.sent)} events published to {result.topic}; "
        f"{len(result.refused) + len(problems)} refused; {len(result.unsent)} not sent"
    )
    if result.error is not None:
        fail(result.error, code=1)
    if result.refused and not skip_invalid:
        fail("invalid changes: nothing was published", code=2)


def _first_bad_byte(file: Path) -> str:
    """Where the file stops being UTF-8 (the reader's error counts from its last chunk only)."""
    data = file.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        return f"byte {data[error.start]:#04x} at offset {error.start}, line {line}"
    return "its encoding changed while it was read"


def report_json(result: PublishReport) -> dict[str, object]:
    return {
        "topic": result.topic,
        "sent": [
            {
                "event_id": e.event_id,
                "offer_id": e.offer_id,
                "source_version": e.source_version,
                "partition": e.partition,
                "offset": e.offset,
            }
            for e in result.sent
        ],
        "refused": [f"change {r.position}: {r.describe()}" for r in result.refused],
        "unsent": [c.offer_id for c in result.unsent],
        "error": result.error,
    }
