"""`sitn replay readjudicate [--dry-run]`: judge contributions again with the registry as it is.

Reads the contribution topics and the hub's outputs with a progress bar, judges again what the
worker has judged (`hub.readjudicate`, `hub.core.readjudication`), and prints one row per offer
whose verdicts change: its current and new version, what changes (offer accepted or withdrawn,
status, field groups gained, lost or replaced) and why (the authority that now allows a group, the
rule that now refuses a contribution). Without `--dry-run` it then emits the corrections to
`sitn.regional.changes`; the worker must be stopped (it is refused otherwise) and takes them in at
its next start, with the store and the diffusers' feeds.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from aiokafka.errors import KafkaError
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from hub.cli.console import err, fail, out, settings
from hub.core.readjudication import Correction, CorrectionKind, GroupChangeKind
from hub.readjudicate import WORKER_GROUP, Outcome, ReadjudicationError, run_readjudication
from hub.registry.topic import RegistryTopicError
from hub.topics import REGIONAL_CHANGES


def readjudicate(
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print what would change and emit nothing."),
    ] = False,
    group: Annotated[
        str,
        typer.Option(
            "--group",
            help="The worker's consumer group (its app id): what it judged is re-judged, and "
            "nothing runs while the group has members.",
        ),
    ] = WORKER_GROUP,
) -> None:
    """Re-judge the contributions with the registry as it now stands; emit the corrections.

    Stop the worker first: it takes the corrections in at its next start, with store and feeds.
    """
    bootstrap = settings().bootstrap_servers
    bar = Progress(
        TextColumn("reading topics"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("records"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
    with bar:
        task = bar.add_task("read", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            outcome = asyncio.run(
                run_readjudication(bootstrap, group=group, dry_run=dry_run, progress=progress)
            )
        except (ReadjudicationError, RegistryTopicError) as error:
            fail(str(error))
        except (KafkaError, OSError) as error:
            fail(
                f"Kafka at {bootstrap} failed ({error}); is it running (`sitn kafka start`) and "
                "are the hub's topics there (`sitn topics ensure`)?"
            )
    _report(outcome, group, dry_run)


def _report(outcome: Outcome, group: str, dry_run: bool) -> None:
    result = outcome.result
    if not outcome.group_committed and outcome.contributions:
        err.print(
            f"warning: consumer group {group!r} has committed no offset on the contribution "
            "topics; only contributions the hub's outputs name are re-judged. If the worker runs "
            "under another app id, pass it with --group.",
            markup=False,
        )
    if result.corrections:
        out.print(_table(result.corrections))
    out.print(
        f"re-judged {result.judged} contributions of {len(outcome.topics)} topics with the "
        f"registry as it now stands ({result.accepted} accepted, {result.partially_rejected} "
        f"partly, {result.rejected} refused, {result.no_effect} without effect); "
        f"{outcome.not_judged} not judged by the worker yet are left to it",
        markup=False,
    )
    if not result.corrections:
        out.print("no correction: the registry as it stands gives the same verdicts", markup=False)
        return
    kinds = [c.kind for c in result.corrections]
    counted = ", ".join(
        f"{kinds.count(kind)} {label}"
        for kind, label in (
            (CorrectionKind.ACCEPTED, "offer(s) now accepted"),
            (CorrectionKind.WITHDRAWN, "offer(s) withdrawn"),
            (CorrectionKind.STATUS, "status change(s)"),
            (CorrectionKind.GROUPS, "with field groups changed"),
        )
        if kind in kinds
    )
    if dry_run:
        out.print(
            f"dry run: {_count(len(kinds), 'correction')} ({counted}) would be emitted; nothing "
            "was. Run without --dry-run, with the worker stopped, to emit them.",
            markup=False,
        )
    else:
        out.print(
            f"emitted {_count(outcome.emitted, 'correction')} ({counted}) to {REGIONAL_CHANGES}. "
            "Start the worker (`sitn worker`): it takes them in, with the store and the "
            "diffusers' feeds.",
            markup=False,
        )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _table(corrections: tuple[Correction, ...]) -> Table:
    table = Table(title=Text("Corrections"), title_justify="left")
    table.add_column("offer", no_wrap=True)
    table.add_column("version", no_wrap=True)
    table.add_column("change", overflow="fold")
    table.add_column("why", overflow="fold", ratio=1)
    for correction in corrections:
        previous = correction.previous
        table.add_row(
            Text(correction.change.offer_id),
            Text(f"{previous.version if previous else '-'} -> {correction.change.version}"),
            Text("\n".join(changes(correction))),
            Text("\n".join(reasons(correction))),
        )
    return table


_SIGNS = {
    GroupChangeKind.GAINED: "+",
    GroupChangeKind.LOST: "-",
    GroupChangeKind.REPLACED: "~",
    GroupChangeKind.REAUTHORISED: "=",
}


def changes(correction: Correction) -> list[str]:
    """What the correction changes, one line per item (offer, status, field groups)."""
    change, previous = correction.change, correction.previous
    kind = correction.kind
    if kind is CorrectionKind.ACCEPTED:
        groups = ", ".join(g.group.value for g in correction.groups)
        return [f"now accepted: {change.offer_type.value} offer, {change.status.value}", groups]
    if kind is CorrectionKind.WITHDRAWN:
        return ["withdrawn: no contribution of it is accepted now (deleted from the base)"]
    lines = []
    if previous is not None and change.status is not previous.status:
        lines.append(f"status {previous.status.value} -> {change.status.value}")
    for group in correction.groups:
        line = f"{_SIGNS[group.kind]} {group.group.value}"
        if group.kind is GroupChangeKind.REPLACED and group.after is not None:
            line += f" (now {group.after.contributor}'s)"
        elif group.kind is GroupChangeKind.REAUTHORISED:
            line += " (other authority)"
        lines.append(line)
    return lines


def reasons(correction: Correction) -> list[str]:
    """Why: the authority that now allows each group, the rule that now refuses a contribution.

    Groups with the same reason share one line.
    """
    allowed: dict[tuple[str, str], list[str]] = {}
    refused: dict[tuple[str, str, str], list[str]] = {}
    dropped: dict[str, list[str]] = {}
    for group in correction.groups:
        name = group.group.value
        if group.after is not None and group.kind is not GroupChangeKind.LOST:
            allowed.setdefault((group.after.authority, group.after.contributor), []).append(name)
        if group.refusal is not None:
            r = group.refusal
            refused.setdefault((r.event_id, ", ".join(r.rule_ids), r.message), []).append(name)
        elif group.kind is GroupChangeKind.LOST and group.before is not None:
            dropped.setdefault(group.before.event_id, []).append(name)
    lines = [
        f"{', '.join(groups)}: allowed by {authority} ({contributor})"
        for (authority, contributor), groups in allowed.items()
    ]
    lines += [
        f"{', '.join(groups)}: {event} now refused [{rules}]: {message}"
        for (event, rules, message), groups in refused.items()
    ]
    lines += [
        f"{', '.join(groups)}: {event} no longer applies" for event, groups in dropped.items()
    ]
    return lines
