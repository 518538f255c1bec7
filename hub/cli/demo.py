"""`sitn demo generate`: synthetic Normandy contributions, one JSON-lines file per contributor.

The files hold the owner CDTs' creations of the generated offers, then the follow-up changes, each
line a contribution in the JSON shape of `hub.records` (what `sitn publish` reads), in
non-decreasing event time. `manifest.json` beside them records the arguments, the line count per
file and every contribution the hub is expected to reject with its rule family, so the demo and
the tests can count rejections. Same arguments, byte-identical files.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hub.cli.console import err, fail, out
from hub.cli.demo_run import run
from hub.core.contribution import Contribution
from hub.records import contribution_to_json
from hub.reference import ReferenceDataError, load_normandy_territory
from producers.demo import (
    DemoChange,
    DemoOffer,
    as_contribution,
    creations,
    generate_changes,
    generate_offers,
)

MANIFEST = "manifest.json"
PROGRESS_FROM = 10_000  # offers + changes from which a progress bar is worth showing

app = typer.Typer(
    help="The demo: generate synthetic Normandy offers and changes, or run them through the hub.",
    no_args_is_help=True,
)
app.command(name="run")(run)


@app.command()
def generate(
    offers: Annotated[
        int, typer.Option("--offers", min=0, help="How many offers the CDTs create.")
    ],
    seed: Annotated[int, typer.Option("--seed", help="Seed: same seed, same files.")],
    out_dir: Annotated[
        Path,
        typer.Option("--out", file_okay=False, help="Folder for <org>.jsonl and manifest.json."),
    ],
    changes: Annotated[
        int, typer.Option("--changes", min=0, help="How many follow-up changes to add.")
    ] = 0,
    invalid_ratio: Annotated[
        float,
        typer.Option(
            "--invalid-ratio",
            min=0.0,
            max=1.0,
            help="Share of the changes built to be rejected by the hub (0 to 1).",
        ),
    ] = 0.0,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace the .jsonl files already in --out.")
    ] = False,
) -> None:
    """Generate offers and changes and write one JSON-lines file per contributor."""
    try:
        communes = tuple(load_normandy_territory().values())
    except ReferenceDataError as error:
        fail(str(error))
    _prepare(out_dir, overwrite)
    with _progress(offers + changes >= PROGRESS_FROM) as track:
        made = generate_offers(offers, seed, communes, progress=track("offers", offers))
        follow_ups = generate_changes(
            made, changes, seed, invalid_ratio=invalid_ratio, progress=track("changes", changes)
        )
        stream = creations(made) + follow_ups
        files = write_contribution_files(out_dir, stream, progress=track("writing", len(stream)))
    _write_manifest(out_dir, offers, seed, changes, invalid_ratio, files, stream)
    _summarise(made, follow_ups, files, out_dir)


def contribution_line(contribution: Contribution) -> str:
    """One line of a contributor's file: the `hub.records` JSON shape, keys in model order."""
    return json.dumps(contribution_to_json(contribution), ensure_ascii=False, separators=(",", ":"))


def write_contribution_files(
    out_dir: Path,
    stream: Sequence[tuple[str, DemoChange]],
    *,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Writes `<out_dir>/<contributor>.jsonl` in stream order; returns lines per file, by name."""
    lines: dict[str, list[str]] = {}
    for done, (contributor, change) in enumerate(stream, start=1):
        lines.setdefault(contributor, []).append(
            contribution_line(as_contribution(contributor, change))
        )
        if progress is not None and (done % 1000 == 0 or done == len(stream)):
            progress(done % 1000 or 1000)
    for contributor in sorted(lines):
        text = "\n".join(lines[contributor]) + "\n"
        (out_dir / f"{contributor}.jsonl").write_text(text, encoding="utf-8")
    return {contributor: len(lines[contributor]) for contributor in sorted(lines)}


def _prepare(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        fail(f"--out {out_dir} is a file; give a folder for the contributors' .jsonl files")
    existing = sorted(out_dir.glob("*.jsonl")) if out_dir.exists() else []
    if existing and not overwrite:
        fail(
            f"--out {out_dir} already holds {len(existing)} .jsonl file(s) ({existing[0].name}, "
            "...); choose an empty folder or pass --overwrite to replace them"
        )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for path in existing:
            path.unlink()
    except OSError as error:
        fail(f"cannot prepare --out {out_dir}: {error}")


@contextmanager
def _progress(
    shown: bool,
) -> Iterator[Callable[[str, int], Callable[[int], None] | None]]:
    """Yields `track(label, total)`, which returns a progress callback (None when hidden)."""
    if not shown:
        yield lambda label, total: None
        return
    bar = Progress(
        TextColumn("{task.description:<8}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )

    def track(label: str, total: int) -> Callable[[int], None]:
        task = bar.add_task(label, total=total)
        return lambda advance: bar.advance(task, advance)

    with bar:
        yield track


def _write_manifest(
    out_dir: Path,
    offers: int,
    seed: int,
    changes: int,
    invalid_ratio: float,
    files: dict[str, int],
    stream: Sequence[tuple[str, DemoChange]],
) -> None:
    expected = [
        {
            "event_id": as_contribution(contributor, change).event_id,
            "contributor": contributor,
            "offer_id": change.offer_id,
            "rule_family": change.expected_rejection.value,
            "intent": change.intent,
        }
        for contributor, change in stream
        if change.expected_rejection is not None
    ]
    manifest = {
        "generator": "sitn demo generate",
        "offers": offers,
        "seed": seed,
        "changes": changes,
        "invalid_ratio": invalid_ratio,
        "files": {f"{contributor}.jsonl": count for contributor, count in files.items()},
        "expected_rejections": expected,
    }
    text = json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"
    (out_dir / MANIFEST).write_text(text, encoding="utf-8")


def _summarise(
    offers: Sequence[DemoOffer],
    changes: Sequence[tuple[str, DemoChange]],
    files: dict[str, int],
    out_dir: Path,
) -> None:
    by_type = Counter(offer.offer_type.value for offer in offers)
    by_department = Counter(offer.department for offer in offers)
    rejected = Counter(
        contributor for contributor, change in changes if change.expected_rejection is not None
    )
    families = Counter(
        change.expected_rejection.value
        for _, change in changes
        if change.expected_rejection is not None
    )
    types = Table("type", "offers", title="Offers per type")
    for offer_type, count in sorted(by_type.items(), key=lambda item: (-item[1], item[0])):
        types.add_row(offer_type, str(count))
    departments = Table("department", "offers", title="Offers per department")
    for department, count in sorted(by_department.items()):
        departments.add_row(department, str(count))
    written = Table("file", "contributions", "expected rejections", title=f"Files in {out_dir}")
    for contributor, count in files.items():
        written.add_row(f"{contributor}.jsonl", str(count), str(rejected[contributor]))
    for table in (types, departments, written):
        out.print(table)
    family_text = ", ".join(f"{family} {count}" for family, count in sorted(families.items()))
    out.print(
        f"{len(offers)} offers, {len(changes)} changes "
        f"({sum(families.values())} expected rejections{': ' + family_text if families else ''}); "
        f"{len(files)} files and {MANIFEST} written to {out_dir}"
    )
