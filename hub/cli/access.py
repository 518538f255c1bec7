"""`sitn access sync|show`: the broker's principals and ACLs, made to follow the registry.

`sync` reads the registry in force (from `sitn.registry`, or `--file`), creates a SCRAM user for
each organisation (`org.<id>`), diffuser (`diffuser.<id>`) and the operator (`sitn-operator`)
that lacks one, with its password in `SITN_HOME/kafka/credentials/<principal>.password` (mode
600, to hand to that party), grants each exactly what `hub.access.plan` says, and removes the
users and ACLs of those the registry no longer names; an existing password is kept, unless
`--rotate PRINCIPAL` asks for a new one. It runs as the administrator (the local broker's by
default). `show` prints who may do what, as the broker holds it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from aiokafka.errors import KafkaError
from rich.table import Table

from hub.access import access_plan
from hub.access.kafka_admin import (
    AccessError,
    NotAdministrator,
    SyncReport,
    broker_grants,
    sync_access,
)
from hub.cli.console import fail, load_registry_or_exit, out, settings
from hub.core.registry import Registry
from hub.kafka_security import KafkaSecurity
from hub.registry.topic import RegistryTopicError, read_registry_topic
from hub.settings import Settings, SettingsError, credentials_dir

app = typer.Typer(
    help="Give each organisation, diffuser and the operator a broker login and only its rights.",
    no_args_is_help=True,
)


def sync_with_registry(
    config: Settings, registry: Registry, rotate: Sequence[str] = ()
) -> SyncReport:
    """Blocking: the broker's hub principals and ACLs made those of `registry`; those named in
    `rotate` get a new password."""
    return sync_access(
        access_plan(registry),
        config.bootstrap_servers,
        KafkaSecurity.from_settings(config),
        credentials_dir(config.home),
        rotate=rotate,
    )


def unreachable(config: Settings, error: Exception) -> str:
    return (
        f"cannot manage access on Kafka at {config.bootstrap_servers} ({error}); is it running? "
        "try `sitn kafka start`"
    )


def print_report(report: SyncReport, config: Settings) -> None:
    for name in report.users_added:
        out.print(f"+ user {name}  (password in {credentials_dir(config.home) / name}.password)")
    for name in report.users_rotated:
        out.print(
            f"~ user {name}  (new password in {credentials_dir(config.home) / name}.password; "
            "the old one no longer works)"
        )
    for name in report.users_removed:
        out.print(f"- user {name}  (its credential and rights are gone)")
    for grant in report.grants_added:
        out.print(f"+ {grant.principal}: {grant.describe()}", markup=False)
    for grant in report.grants_removed:
        out.print(f"- {grant.principal}: {grant.describe()}", markup=False)
    if report.other_acls_removed:
        out.print(f"- {report.other_acls_removed} other ACL(s) of hub principals, not the plan's")
    out.print(
        f"access on {config.bootstrap_servers}: {len(report.users_added)} user(s) added, "
        f"{len(report.users_removed)} removed; {len(report.grants_added)} right(s) granted, "
        f"{len(report.grants_removed)} withdrawn"
    )


@app.command()
def sync(
    file: Annotated[
        Path | None, typer.Option(help="Read the registry from this file, not the topic.")
    ] = None,
    rotate: Annotated[
        list[str] | None,
        typer.Option(
            help="Give this principal a new password (repeatable), for one lost or leaked.",
            metavar="PRINCIPAL",
        ),
    ] = None,
) -> None:
    """Make the broker's logins and rights follow the registry (idempotent)."""
    config = settings()
    try:
        if file is None:
            registry = asyncio.run(read_registry_topic(config.bootstrap_servers)).registry
        else:
            registry = load_registry_or_exit(file)
        report = sync_with_registry(config, registry, rotate or ())
    except (SettingsError, NotAdministrator, RegistryTopicError) as error:
        fail(str(error))
    except (AccessError, KafkaError, OSError, TimeoutError) as error:
        fail(unreachable(config, error))
    print_report(report, config)


@app.command()
def show() -> None:
    """Print who may do what on the broker (the hub's principals only)."""
    config = settings()
    try:
        grants = broker_grants(config.bootstrap_servers, KafkaSecurity.from_settings(config))
    except (SettingsError, NotAdministrator) as error:
        fail(str(error))
    except (AccessError, OSError, TimeoutError) as error:
        fail(unreachable(config, error))
    table = Table("principal", "may", box=None, show_edge=False)
    by_principal: dict[str, list[str]] = {}
    for grant in grants:
        by_principal.setdefault(grant.principal, []).append(grant.describe())
    for principal, rights in by_principal.items():
        table.add_row(principal, "; ".join(rights))
    out.print(table)
    out.print(
        f"{len(by_principal)} principal(s) besides the administrator, who may do everything",
        markup=False,
    )
