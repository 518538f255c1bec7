"""`sitn registry check|apply|show`: the registry file, validated, published and displayed.

`check` needs no broker. `apply` never publishes a file with problems (it prints every one and
exits 2); otherwise it publishes only what differs from what `sitn.registry` holds and says how
many entries were added, changed, removed and left unchanged, then brings the broker's logins and
rights in line with it (`sitn access sync`). `show` prints what is in force at a
date, from the topic or from a file.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
from aiokafka.errors import KafkaError
from confluent_kafka import KafkaException
from rich.table import Table
from rich.text import Text

from hub.access.kafka_admin import AccessError, NotAdministrator
from hub.cli.access import print_report, sync_with_registry
from hub.cli.console import err, fail, out, settings
from hub.core.registry import Registry, Validity
from hub.core.registry_events import RegistryChanges
from hub.kafka_clients import ensure_topics
from hub.registry.format import load_registry_file
from hub.registry.topic import RegistryTopicError, apply_registry, read_registry_topic
from hub.settings import SettingsError
from hub.topics import REGISTRY, contributor_topic_spec

app = typer.Typer(
    help="Validate, publish and show the registry (who may contribute and receive what).",
    no_args_is_help=True,
)

FileArgument = Annotated[
    Path, typer.Argument(help="Registry file (TOML, see docs/registry.md).", show_default=False)
]
TopicOption = Annotated[str, typer.Option(help="Registry topic (another one for tests/staging).")]


def _load(path: Path) -> Registry:
    parsed = load_registry_file(path)
    if isinstance(parsed, tuple):
        for problem in parsed:
            err.print(str(problem), soft_wrap=True, markup=False)
        noun = "problem" if len(parsed) == 1 else "problems"
        fail(f"{len(parsed)} {noun} in {path}; fix them and run the command again", code=2)
    return parsed


@app.command()
def check(file: FileArgument) -> None:
    """Validate a registry file (no broker needed); exit 2 listing every problem."""
    registry = _load(file)
    out.print(f"{file}: valid ({_summary(registry)})", markup=False)


async def _apply(bootstrap: str, registry: Registry, topic: str) -> RegistryChanges:
    """The contributors' topics first (with the hub's partition count), so an organisation can
    publish as soon as it is registered; then the registry's changes."""
    specs = [contributor_topic_spec(org) for org in sorted(registry.organisations)]
    await ensure_topics(bootstrap, specs)
    return await apply_registry(bootstrap, registry, topic)


@app.command()
def apply(file: FileArgument, topic: TopicOption = REGISTRY) -> None:
    """Validate a registry file and publish what changed to the registry topic."""
    registry = _load(file)
    bootstrap = settings().bootstrap_servers
    try:
        changes = asyncio.run(_apply(bootstrap, registry, topic))
    except RegistryTopicError as error:
        fail(str(error))
    except (KafkaError, OSError) as error:
        fail(f"cannot reach Kafka at {bootstrap} ({error}); is it running? try `sitn kafka start`")
    _print_changes(changes)
    out.print(
        f"applied {file} to {topic}: {len(changes.added)} added, {len(changes.changed)} changed, "
        f"{len(changes.removed)} removed, {len(changes.unchanged)} unchanged",
        markup=False,
    )
    config = settings()
    if topic != REGISTRY:
        return  # a staging or test topic: the broker's logins follow the real registry only
    if not config.kafka_security_protocol.startswith("SASL"):
        out.print(
            f"the broker is reached with {config.kafka_security_protocol}, without logins: "
            "no login or right to bring in line (see README, Security)"
        )
        return
    # Who may log in and do what follows the registry at once (`sitn access sync`).
    try:
        report = sync_with_registry(config, registry)
    except NotAdministrator as error:
        err.print(f"the registry was applied; its logins and rights were not synced: {error}")
        return
    except (AccessError, SettingsError, KafkaException, OSError, TimeoutError) as error:
        fail(
            f"the registry was applied, but the broker's logins and rights were not brought in "
            f"line ({error}); run `sitn access sync` as the broker's administrator"
        )
    print_report(report, config)


@app.command()
def show(
    at: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Date to show (YYYY-MM-DD); default: today (UTC)."),
    ] = None,
    file: Annotated[
        Path | None, typer.Option(help="Read this registry file instead of the topic.")
    ] = None,
    topic: TopicOption = REGISTRY,
) -> None:
    """Show what is in force at a date, from the registry topic or from a file."""
    day = at.date() if at is not None else datetime.now(UTC).date()
    if file is not None:
        registry, origin = _load(file), str(file)
    else:
        bootstrap = settings().bootstrap_servers
        try:
            registry = asyncio.run(read_registry_topic(bootstrap, topic)).registry
        except RegistryTopicError as error:
            fail(str(error))
        except (KafkaError, OSError) as error:
            fail(f"cannot reach Kafka at {bootstrap} ({error}); is it running?")
        origin = f"{topic} on {bootstrap}"
    _print_registry(registry, day, origin)


# ---------------------------------------------------------------- output


def _summary(registry: Registry) -> str:
    exceptions = len(registry.consortium.exceptions) if registry.consortium else 0
    consortium = f"1 consortium convention with {exceptions} exception(s)"
    return (
        f"{len(registry.organisations)} organisations, "
        f"{consortium if registry.consortium else 'no consortium convention'}, "
        f"{len(registry.contribution_conventions)} contribution conventions, "
        f"{len(registry.concessions)} concessions, {len(registry.diffusers)} diffusers, "
        f"{len(registry.diffusion_conventions)} diffusion conventions"
    )


def _print_changes(changes: RegistryChanges) -> None:
    for sign, keys in (("+", changes.added), ("~", changes.changed), ("-", changes.removed)):
        for key in keys:
            out.print(f"  {sign} {key}", markup=False)


def _window(validity: Validity) -> str:
    start = validity.valid_from.isoformat() if validity.valid_from else "…"
    end = validity.valid_until.isoformat() if validity.valid_until else "…"
    return f"{start} → {end}"


def _listed(values: tuple[str, ...], empty: str) -> str:
    return ", ".join(values) if values else empty


def _table(title: str, *columns: str) -> _Rows:
    return _Rows(title, columns)


# Below this width a many-column table folds every cell into a sliver: show id | details instead.
_WIDE = 120


class _Rows:
    """A table of plain-text cells (registry names may hold `[`, never markup), laid out for
    the console's width when printed."""

    def __init__(self, title: str, columns: tuple[str, ...]) -> None:
        self.title = title
        self.columns = columns
        self.rows: list[tuple[str, ...]] = []

    def add_row(self, *cells: str) -> None:
        self.rows.append(cells)

    @property
    def table(self) -> Table:
        table = Table(title=Text(self.title), title_justify="left")
        if out.width >= _WIDE:
            for column in self.columns:
                # Ids are what operators copy and grep for: never split them across lines.
                whole = column in ("id", "contributor", "diffuser")
                table.add_column(column, overflow="fold", no_wrap=whole)
            for row in self.rows:
                table.add_row(*(Text(cell) for cell in row))
            return table
        table.add_column(self.columns[0], no_wrap=True)
        table.add_column("details", overflow="fold")
        for first, *rest in self.rows:
            details = [
                f"{name}: {cell}" for name, cell in zip(self.columns[1:], rest, strict=True) if cell
            ]
            table.add_row(Text(first), Text("\n".join(details)))
        return table


def _print_registry(registry: Registry, day: date, origin: str) -> None:
    at = datetime(day.year, day.month, day.day, tzinfo=UTC)
    live = registry.in_force(at)
    out.print(f"Registry in force on {day.isoformat()} (from {origin})", markup=False)

    organisations = _table("Organisations", "id", "kind", "name", "department", "communes")
    for org in live.organisations.values():
        organisations.add_row(
            org.org_id,
            org.kind.value,
            org.name,
            org.department or "",
            str(len(org.communes)) if org.communes else "",
        )
    out.print(organisations.table)

    if live.consortium is None:
        out.print("No consortium convention in force: the CRT collects nothing directly.")
    else:
        consortium = _table(
            f"Consortium convention {live.consortium.convention_id} "
            f"({_window(live.consortium.validity)}): CRT exceptions",
            "id",
            "offer types",
            "field groups",
            "validity",
            "note",
        )
        for exception in live.consortium.exceptions:
            consortium.add_row(
                exception.exception_id,
                _listed(exception.offer_types, "any"),
                _listed(exception.field_groups, "any"),
                _window(exception.validity),
                exception.note,
            )
        out.print(consortium.table)

    contributions = _table(
        "Contribution conventions",
        "id",
        "contributor",
        "offer types",
        "field groups",
        "territory",
        "validity",
    )
    for cc in live.contribution_conventions:
        territory = [f"dept {d}" for d in cc.departments]
        if cc.communes:
            territory.append(f"{len(cc.communes)} communes")
        contributions.add_row(
            cc.convention_id,
            cc.contributor,
            _listed(cc.offer_types, ""),
            _listed(cc.field_groups, ""),
            ", ".join(territory),
            _window(cc.validity),
        )
    out.print(contributions.table)

    concessions = _table(
        "Concessions", "id", "contributor", "offers", "offer types", "classes", "validity"
    )
    for concession in live.concessions:
        concessions.add_row(
            concession.concession_id,
            concession.contributor,
            _listed(concession.offers, "all its offers"),
            _listed(concession.offer_types, "any"),
            _listed(concession.allowed_classes, ""),
            _window(concession.validity),
        )
    out.print(concessions.table)

    diffusers = _table("Diffusers", "id", "class", "name", "organisation")
    for diffuser in live.diffusers.values():
        diffusers.add_row(
            diffuser.diffuser_id,
            diffuser.diffuser_class.value,
            diffuser.name,
            diffuser.org_id or "",
        )
    out.print(diffusers.table)

    diffusion = _table(
        "Diffusion conventions",
        "id",
        "diffuser",
        "offer types",
        "departments",
        "field groups",
        "languages",
        "formats",
        "validity",
    )
    for dc in live.diffusion_conventions:
        diffusion.add_row(
            dc.convention_id,
            dc.diffuser,
            _listed(dc.offer_types, "any"),
            _listed(dc.departments, "region"),
            _listed(dc.field_groups, ""),
            _listed(dc.languages, ""),
            _listed(dc.formats, ""),
            _window(dc.validity),
        )
    out.print(diffusion.table)

    dormant: list[str] = []
    if registry.consortium is not None:
        if live.consortium is None:
            dormant.append(registry.consortium.convention_id)
        live_exceptions = live.consortium.exceptions if live.consortium else ()
        dormant.extend(
            e.exception_id for e in registry.consortium.exceptions if e not in live_exceptions
        )
    dormant.extend(
        c.convention_id
        for c in registry.contribution_conventions
        if c not in live.contribution_conventions
    )
    dormant.extend(c.concession_id for c in registry.concessions if c not in live.concessions)
    dormant.extend(
        c.convention_id
        for c in registry.diffusion_conventions
        if c not in live.diffusion_conventions
    )
    if dormant:
        out.print(
            f"Not in force on {day.isoformat()} (expired or not started): {', '.join(dormant)}",
            markup=False,
        )
