"""`sitn store digest|counts` and `sitn rejections`: read the regional store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from hub.cli.console import out, settings
from hub.store.port import StoredRejection
from hub.store.sql import SqlStore

app = typer.Typer(help="Read the regional store (SITN_DATABASE_URL).", no_args_is_help=True)


def open_store() -> SqlStore:
    store = SqlStore(settings().database_url)
    store.migrate()
    return store


@app.command()
def digest() -> None:
    """Print the digest of the store's public content (independent of row order)."""
    store = open_store()
    try:
        out.print(store.digest())
    finally:
        store.close()


@app.command()
def counts() -> None:
    """Offers per type, department and status."""
    store = open_store()
    try:
        rows = sorted(store.counts().items(), key=lambda item: tuple(str(k) for k in item[0]))
    finally:
        store.close()
    table = Table("type", "department", "status", "offers")
    for (offer_type, department, status), count in rows:
        table.add_row(offer_type.value, department or "-", status.value, str(count))
    out.print(table)
    out.print(f"{sum(count for _, count in rows)} offers")


def rejections(
    contributor: Annotated[
        str | None, typer.Option("--contributor", help="Only this organisation's rejections.")
    ] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
) -> None:
    """Show the contributions the collection rules refused, newest first, with what to fix."""
    store = open_store()
    try:
        found = store.rejections(contributor, limit)
    finally:
        store.close()
    out.print(rejection_table(found))
    who = f" of {contributor}" if contributor else ""
    out.print(f"{len(found)} rejections{who} shown")


def _minute(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def rejection_table(found: Sequence[StoredRejection]) -> Table:
    """Newest first, one block per rejection: the ids on their own lines, never cut (a
    contributor looks them up), and the message below them, folded to the screen."""
    table = Table(show_header=False, show_lines=True, box=box.SQUARE)
    table.add_column("rejection", overflow="fold")
    for r in found:
        # When the hub judged it (what `sitn status` counts by), and the source's event time.
        when = f"judged {_minute(r.judged_at)}" if r.judged_at is not None else ""
        event = f"event {_minute(r.occurred_at)}"
        groups = ", ".join(g.value for g in r.field_groups) or "no group in particular"
        table.add_row(
            Text.assemble(
                (r.offer_id, "bold"),
                f"  {r.contributor}\n",
                f"{when}{', ' if when else ''}{event}\n",
                *(f"{rule}\n" for rule in r.rule_ids),
                f"groups: {groups}\n",
                r.message,
            )
        )
    return table
