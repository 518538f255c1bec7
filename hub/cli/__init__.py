"""The `sitn` command: the single entry point for operators, contributors and the demo.

Each sub-command group lives in its own module; this one only assembles them. Errors that an
operator can fix are printed as one clear line on stderr with a non-zero exit, never a traceback.
"""

from __future__ import annotations

import typer

from hub.cli import (
    api,
    deadletter,
    demo,
    diffusion,
    importer,
    kafka,
    publish,
    registry,
    replay,
    status,
    store,
    topics,
    webhook,
    worker,
)
from hub.settings import ENVIRONMENT_VARIABLES

_EPILOG = "Environment variables: " + "; ".join(
    f"{name}: {meaning}" for name, meaning in ENVIRONMENT_VARIABLES.items()
)

app = typer.Typer(
    name="sitn",
    help="SITN Hub: event-sourced synchronisation hub of a regional tourism information system.",
    epilog=_EPILOG,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(kafka.app, name="kafka")
app.add_typer(topics.app, name="topics")
app.add_typer(importer.app, name="import")
app.add_typer(demo.app, name="demo")
app.add_typer(registry.app, name="registry")
app.command(name="publish")(publish.publish)
app.add_typer(store.app, name="store")
app.command(name="rejections")(store.rejections)
app.command(name="worker")(worker.worker)
app.add_typer(api.app, name="api")
app.add_typer(webhook.app, name="webhook")
app.add_typer(diffusion.app, name="diffusion")
app.add_typer(replay.app, name="replay")
app.add_typer(deadletter.app, name="deadletter")
app.command(name="status")(status.status)


def main() -> None:
    app()
