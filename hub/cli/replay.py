"""`sitn replay`: rebuild the regional store from the streams, and re-judge history.

This module only assembles the group; each command lives in its own module
(`hub.cli.replay_rebuild`, `hub.cli.replay_readjudicate`).
"""

from __future__ import annotations

import typer

from hub.cli import replay_readjudicate, replay_rebuild

app = typer.Typer(
    help="Rebuild the regional store from sitn.regional.changes, or re-judge the contributions.",
    no_args_is_help=True,
)
app.command(name="readjudicate")(replay_readjudicate.readjudicate)
app.command(name="rebuild")(replay_rebuild.rebuild)
