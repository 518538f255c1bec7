"""`sitn import tourinsoft|datatourisme`: publish what changed since a contributor's last export.

Each command reads a full snapshot, compares it with the state the previous import of the same
contributor and source left in `<SITN_HOME>/snapshots/<org>/<source>.json` (see
`producers.snapshot`), and publishes only the differences on `sitn.contrib.<org>`. Bad records are
listed with their id, field and reason, and the rest is imported. The state moves forward only for
the offers whose change was published, so after a failure the same command can simply be run
again. `--dry-run` prints what would be published and changes nothing. When a file of a flux
cannot be read (unreadable, truncated, refused by the bounds on zip members or JSON nesting), the
offers read are still published but none missing from the flux is withdrawn, since the failed
file may hold them; `--allow-partial` withdraws them anyway, and says so. Exit status: 0 when
every record was imported and every planned change published, 4 when a file of the flux failed
(the rest was imported; the files are listed and the withdrawals not planned counted), 3 when bad
records were left out (the rest was imported; they are listed, and counted by source field), 1
when publishing failed or refused a change (the output says what was and was not published), 2
for unusable input.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from hub.cli.console import err, fail, out, settings
from hub.core.contribution import FieldGroupsChanged, OfferCreated, OfferWithdrawn
from hub.core.territory import Territory
from hub.reference import ReferenceDataError, load_normandy_territory
from hub.settings import Settings
from hub.topics import contrib_topic
from producers import datatourisme, tourinsoft
from producers.publisher import Publisher, PublishReport
from producers.snapshot import (
    ImportPlan,
    ParsedSnapshot,
    SnapshotError,
    SnapshotState,
    load_state,
    plan_import,
    save_state,
    settle_state,
    state_path,
)

# (path, territory, taken_at=...) -> the parsed snapshot
SnapshotReader = Callable[..., ParsedSnapshot]

app = typer.Typer(
    help="Import a full snapshot exported by departmental software; publish only what changed.",
    no_args_is_help=True,
)

OrgOption = Annotated[
    str,
    typer.Option(
        "--as",
        help="The contributing organisation's id (publishes to sitn.contrib.<org>).",
        show_default=False,
    ),
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Print what would be published; publish nothing.")
]
TakenAtOption = Annotated[
    str | None,
    typer.Option(
        "--taken-at",
        help="When the snapshot was taken (ISO 8601 with offset); default: the file's "
        "modification time. Withdrawals happen at this time.",
    ),
]


AllowPartialOption = Annotated[
    bool,
    typer.Option(
        "--allow-partial",
        help="When a file of the flux cannot be read, withdraw the offers missing from the flux "
        "anyway (by default none is withdrawn, since the failed file may hold them).",
    ),
]


@app.command("tourinsoft")
def import_tourinsoft(
    export: Annotated[
        Path, typer.Argument(help='The syndication export: OData JSON {"value": [...]}.')
    ],
    org: OrgOption,
    dry_run: DryRunOption = False,
    taken_at: TakenAtOption = None,
) -> None:
    """Import a Tourinsoft syndication export: ORG's whole snapshot.

    Only what changed since ORG's last import is published. The export replaces the previous
    snapshot as a whole: an offer of an earlier import that it no longer holds is withdrawn from
    every diffuser, so import a complete export, never part of one (--dry-run lists what would be
    withdrawn).
    """
    run_import(tourinsoft.SOURCE_SYSTEM, tourinsoft.read_export, export, org, dry_run, taken_at)


@app.command("datatourisme")
def import_datatourisme(
    path: Annotated[
        Path, typer.Argument(help="A JSON-LD object file, a folder of them or a .zip of them.")
    ],
    org: OrgOption,
    dry_run: DryRunOption = False,
    taken_at: TakenAtOption = None,
    allow_partial: AllowPartialOption = False,
) -> None:
    """Import a DATAtourisme JSON-LD flux: ORG's whole snapshot.

    Only what changed since ORG's last import is published. The flux replaces the previous
    snapshot as a whole: an offer of an earlier import that it no longer holds is withdrawn from
    every diffuser, so give the whole flux (its folder or .zip), never one file of it
    (--dry-run lists what would be withdrawn).

    If a file of the flux cannot be read (unreadable, truncated, a zip member too large or
    inflating too much, JSON nested too deep), the offers of the other files are still published
    but no offer is withdrawn, and the exit status is 4: fix the file and import again, or give
    --allow-partial to withdraw the offers missing from the flux anyway.
    """
    run_import(
        datatourisme.SOURCE_SYSTEM,
        datatourisme.read_flux,
        path,
        org,
        dry_run,
        taken_at,
        allow_partial=allow_partial,
    )


def run_import(
    source_system: str,
    reader: SnapshotReader,
    path: Path,
    org: str,
    dry_run: bool,
    taken_at_text: str | None,
    *,
    allow_partial: bool = False,
) -> None:
    config = settings()
    try:
        contrib_topic(org)
    except ValueError as error:
        fail(f"--as: {error}", code=2)
    if not path.exists():
        fail(f"{path} does not exist; give the path of the {source_system} snapshot", code=2)
    taken_at = _taken_at(path, taken_at_text)
    try:
        territory = load_normandy_territory()
        parsed = reader(path, territory, taken_at=taken_at)
        store = state_path(config.home, org, source_system)
        previous = load_state(store)
    except (SnapshotError, ReferenceDataError) as error:
        fail(str(error), code=2)
    if not parsed.offers and not parsed.problems and parsed.failed_files:
        files = "; ".join(failure.describe() for failure in parsed.failed_files)
        fail(f"no file of {path} could be read, nothing was imported: {files}", code=2)
    if not parsed.offers and not parsed.problems:
        fail(
            f"{path} holds no record; nothing was imported (an empty snapshot would withdraw all "
            f"{len(previous)} offers known from earlier imports). Check the export.",
            code=2,
        )
    plan = plan_import(
        previous,
        parsed,
        source_system=source_system,
        taken_at=taken_at,
        territory=territory,
        allow_partial=allow_partial,
    )
    _print_problems(plan)
    if dry_run:
        _print_changes(plan)
        _print_summary(plan, org, "would publish")
        out.print("dry run: nothing was published and the snapshot state is unchanged")
        _exit_if_input_left_out(plan, allow_partial=allow_partial)
        return
    if not plan.changes:
        _save_if_changed(store, previous, settle_state(previous, plan, ()))
        _print_summary(plan, org, "published")
        _exit_if_input_left_out(plan, allow_partial=allow_partial)
        return
    report = asyncio.run(publish_plan(plan, config=config, org=org, territory=territory))
    published = (event.offer_id for event in report.sent)
    _save_if_changed(store, previous, settle_state(previous, plan, published))
    _print_summary(plan, org, "planned")
    _print_report(plan, report)
    if report.error is not None or report.refused or report.unsent:
        raise typer.Exit(1)
    _exit_if_input_left_out(plan, allow_partial=allow_partial)


def _exit_if_input_left_out(plan: ImportPlan, *, allow_partial: bool) -> None:
    """Exit 4 when a file failed, 3 when bad records were left out: a script must notice them."""
    if plan.failed_files:
        files = ", ".join(failure.file for failure in plan.failed_files)
        if allow_partial:
            outcome = (
                f"--allow-partial: the {len(plan.withdrawn)} offer(s) missing from the flux are "
                "withdrawn all the same, though the failed file(s) may hold them. Fix the "
                "file(s) and import again to publish their offers"
            )
        else:
            outcome = (
                f"no withdrawal was planned: the {len(plan.withheld)} offer(s) missing from the "
                "flux are left as they were, since the failed file(s) may hold them. Fix the "
                "file(s) and import again, or give --allow-partial to withdraw them"
            )
        err.print(
            escape(
                f"{len(plan.failed_files)} file(s) of the snapshot could not be read ({files}); "
                f"the rest was imported and {outcome}."
            )
        )
        raise typer.Exit(4)
    if not plan.bad_records:
        return
    by_field: dict[str, int] = {}
    for problem in plan.bad_records:
        by_field[problem.field or "the record"] = by_field.get(problem.field or "the record", 0) + 1
    counted = ", ".join(f"{field}: {n}" for field, n in sorted(by_field.items()))
    err.print(
        escape(
            f"{len(plan.bad_records)} bad record(s) were left out (by source field: {counted}); "
            "the rest was imported. Fix them in the source and import again."
        )
    )
    raise typer.Exit(3)


async def publish_plan(
    plan: ImportPlan, *, config: Settings, org: str, territory: Territory
) -> PublishReport:
    """Publish the plan's changes as `org`; changes the publisher refuses are skipped, reported."""
    publisher = Publisher(
        bootstrap=config.bootstrap_servers,
        contributor=org,
        state_dir=publisher_state_dir(config),
        territory=territory,
    )
    return await publisher.publish(plan.changes, skip_invalid=True)


def publisher_state_dir(config: Settings) -> Path:
    """Where the publisher keeps each contributor's source versions (shared by every command)."""
    return config.home / "publisher"


def _save_if_changed(path: Path, previous: SnapshotState, settled: SnapshotState) -> None:
    if settled != previous:
        save_state(path, settled)


def _taken_at(path: Path, text: str | None) -> datetime:
    if text is None:
        return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"--taken-at {text!r} is not an ISO 8601 time such as 2024-05-02T06:00:00+02:00", 2)
    if moment.tzinfo is None:
        fail(f"--taken-at {text!r} has no offset; add one such as +02:00 or Z", code=2)
    return moment


def _print_problems(plan: ImportPlan) -> None:
    if plan.failed_files:
        err.print(f"{len(plan.failed_files)} file(s) could not be read, their offers unknown:")
        for failure in plan.failed_files:
            err.print(f"  {escape(failure.describe())}")
    if plan.bad_records:
        err.print(f"{len(plan.skipped)} bad record(s), not imported:")
        for problem in plan.bad_records:
            err.print(f"  {escape(problem.describe())}")
    if plan.warnings:
        err.print(f"{len(plan.warnings)} value(s) ignored in imported records:")
        for problem in plan.warnings:
            err.print(f"  {escape(problem.describe())}")


def _print_changes(plan: ImportPlan) -> None:
    for change in plan.changes:
        payload = change.payload
        if isinstance(payload, OfferCreated):
            groups = ", ".join(g.value for g in payload.changed_groups)
            line = f"create   {change.offer_id} ({payload.offer_type.value}): {groups}"
        elif isinstance(payload, FieldGroupsChanged):
            groups = ", ".join(g.value for g in payload.changed_groups)
            line = f"change   {change.offer_id}: {groups}"
        elif isinstance(payload, OfferWithdrawn):
            line = f"withdraw {change.offer_id}: {payload.reason}"
        else:
            line = f"delete   {change.offer_id}: {payload.reason}"
        out.print(escape(line))
    for offer_id in plan.withheld:
        out.print(
            escape(f"keep     {offer_id}: missing from the flux, not withdrawn (a file failed)")
        )


def _print_summary(plan: ImportPlan, org: str, verb: str) -> None:
    failed = ""
    if plan.failed_files:
        failed = (
            f"; {len(plan.failed_files)} failed file(s), {len(plan.withheld)} withdrawal(s) "
            "not planned"
        )
    out.print(
        escape(
            f"{plan.source_system} snapshot of {plan.taken_at.isoformat(timespec='seconds')} "
            f"as {org}: {verb} "
            f"{len(plan.changes)} change(s): {len(plan.created)} created, {len(plan.changed)} "
            f"changed, {len(plan.republished)} republished, {len(plan.withdrawn)} withdrawn; "
            f"{len(plan.unchanged)} unchanged; {len(plan.skipped)} bad record(s){failed}"
        )
    )


def _print_report(plan: ImportPlan, report: PublishReport) -> None:
    out.print(f"published {len(report.sent)} of {len(plan.changes)} change(s) to {report.topic}")
    for refusal in report.refused:
        err.print(f"  refused: {escape(refusal.describe())}")
    if report.unsent:
        ids = ", ".join(change.offer_id for change in report.unsent)
        err.print(escape(f"not published ({len(report.unsent)}): {ids}"))
    if report.error is not None:
        err.print(f"[bold red]error:[/] {escape(report.error)}")
    if report.error is not None or report.refused or report.unsent:
        saved = "moved forward for the published changes only" if report.sent else "unchanged"
        err.print(f"the snapshot state is {saved}; run the same import again to publish the rest")
