"""`sitn diffusion export|resync`: a diffuser's current scope to a file, or re-sent to its feed.

Both work on the store of SITN_DATABASE_URL (migrated first). `export` writes the upserts the
diffuser's feed holds now (`consumers.exports`), atomically, and says which feed cursor the file
reflects. `resync` recomputes the diffuser's scope at `--at` (default: now, UTC) from the
regional store with the registry in force, read from `sitn.registry` or from `--registry FILE`,
and appends it to the feed (`consumers.resync`). The wall clock is read here, never in the rules.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from aiokafka.errors import KafkaError
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from consumers.exports import EXPORT_FORMATS, ExportError, ExportFormat, export_scope
from consumers.feeds import FeedError, SqlFeedStore
from consumers.feeds.cursor import START
from consumers.resync import ResyncError, resync
from hub.cli.console import err, fail, load_registry_or_exit, out, settings
from hub.core.registry import Registry
from hub.registry.topic import RegistryTopicError, read_registry_topic
from hub.store.sql import SqlStore
from hub.topics import REGISTRY

app = typer.Typer(
    help="A diffuser's scope: export it to a file, or re-send it to its feed.",
    no_args_is_help=True,
)

DiffuserArgument = Annotated[
    str, typer.Argument(help="The diffuser's id (see `sitn registry show`).", show_default=False)
]


@app.command()
def export(
    diffuser: DiffuserArgument,
    out_file: Annotated[
        Path, typer.Option("--out", help="File to write (replaced atomically).", show_default=False)
    ],
    fmt: Annotated[
        str,
        typer.Option("--format", help=f"One of: {', '.join(EXPORT_FORMATS)}."),
    ] = "jsonl",
) -> None:
    """Write the offers DIFFUSER currently receives: JSON lines, or one JSON-LD document."""
    if fmt not in EXPORT_FORMATS:
        fail(f"--format {fmt!r} is unknown; use one of {', '.join(EXPORT_FORMATS)}", code=2)
    chosen: ExportFormat = "jsonld" if fmt == "jsonld" else "jsonl"
    feeds = SqlFeedStore(settings().database_url)
    try:
        feeds.migrate()
        if feeds.head(diffuser) == START:
            fail(
                f"the feed of diffuser {diffuser!r} has no entry, so there is nothing to export: "
                "check the id (`sitn registry show` lists the diffusers) or run the hub first "
                "(`sitn worker`)",
                code=2,
            )
        with _progress("exporting", total=None) as bar:
            task = bar.add_task("export", total=None)
            summary = export_scope(
                feeds, diffuser, chosen, out_file, progress=lambda n: bar.advance(task, n)
            )
    except (ExportError, OSError) as error:
        fail(f"cannot export the scope of {diffuser!r} to {out_file}: {error}")
    finally:
        feeds.close()
    out.print(
        f"exported {summary.offers} offers of {diffuser} to {out_file} ({summary.format}); "
        f"the file reflects the feed at cursor {summary.cursor}",
        markup=False,
    )


@app.command("resync")
def resync_command(
    diffuser: DiffuserArgument,
    at: Annotated[
        str | None,
        typer.Option(
            help="Time of the resync, ISO-8601 (UTC if it has no offset); default: now.",
            show_default=False,
        ),
    ] = None,
    registry_file: Annotated[
        Path | None,
        typer.Option(
            "--registry", help="Registry file to use instead of the registry topic (TOML)."
        ),
    ] = None,
) -> None:
    """Re-send DIFFUSER's whole current scope to its feed; remove what left it."""
    moment = _moment(at)
    registry = _registry(registry_file)
    url = settings().database_url
    store = SqlStore(url)
    feeds = SqlFeedStore(url)
    try:
        store.migrate()
        total = sum(store.counts().values())
        with _progress("judging offers", total=total) as bar:
            task = bar.add_task("resync", total=total)
            summary = resync(
                feeds, store, registry, diffuser, moment, progress=lambda n: bar.advance(task, n)
            )
    except (ResyncError, FeedError) as error:
        fail(str(error), code=2)
    finally:
        feeds.close()
        store.close()
    if summary.unknown:
        shown = ", ".join(summary.unknown[:10]) + (", ..." if len(summary.unknown) > 10 else "")
        err.print(
            f"warning: the feed of {diffuser} holds {len(summary.unknown)} offer(s) the regional "
            f"store does not know ({shown}); they were left as they are: check SITN_DATABASE_URL",
            markup=False,
        )
    out.print(
        f"resync of {diffuser} at {moment.isoformat()}: {summary.upserts} upserts, "
        f"{summary.removals} removals; the feed took {summary.appended} new entries "
        f"(cursor {summary.cursor_before} -> {summary.cursor_after})",
        markup=False,
    )


def _moment(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"--at {text!r} is not an ISO-8601 time; write e.g. 2026-05-01T09:00:00+02:00", code=2)
    # The rules read a time without offset as UTC; the feed keeps aware times only.
    return moment.replace(tzinfo=UTC) if moment.utcoffset() is None else moment


def _registry(path: Path | None) -> Registry:
    if path is not None:
        return load_registry_or_exit(path)
    bootstrap = settings().bootstrap_servers
    try:
        return asyncio.run(read_registry_topic(bootstrap)).registry
    except RegistryTopicError as error:
        fail(f"{error}; or pass --registry FILE")
    except (KafkaError, OSError) as error:
        fail(
            f"cannot read the registry from {REGISTRY} at {bootstrap} ({error}): start the broker "
            "(`sitn kafka start`) or pass --registry FILE"
        )


def _progress(label: str, total: int | None) -> Progress:
    # Without a total (an export does not count its offers first) the bar pulses.
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn() if total is not None else TextColumn("{task.completed} offers"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
