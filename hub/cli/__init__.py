"""The `sitn` command: the single entry point for operators, contributors and the demo.

Each sub-command (group) lives in its own module; this one only names them. A module is imported
when its command is run or listed, not before, so a command pays only for its own imports: a stage
process (`sitn worker --stage NAME`) does not load the database, HTTP and web libraries the other
commands need. Errors that an operator can fix are printed as one clear line on stderr with a
non-zero exit, never a traceback.
"""

from __future__ import annotations

import importlib
from difflib import get_close_matches
from typing import Final

import typer
from typer import _click as click  # the click typer vendors (and types its groups with)
from typer.core import TyperGroup

from hub.settings import ENVIRONMENT_VARIABLES

__all__ = ["COMMANDS", "app", "main"]

# name -> (module of hub.cli, its attribute: a Typer group or a command function), in the order
# `--help` lists them (commands, then groups).
COMMANDS: Final = {
    "publish": ("publish", "publish"),
    "rejections": ("store", "rejections"),
    "worker": ("worker", "worker"),
    "status": ("status", "status"),
    "kafka": ("kafka", "app"),
    "topics": ("topics", "app"),
    "import": ("importer", "app"),
    "demo": ("demo", "app"),
    "registry": ("registry", "app"),
    "access": ("access", "app"),
    "store": ("store", "app"),
    "api": ("api", "app"),
    "webhook": ("webhook", "app"),
    "diffusion": ("diffusion", "app"),
    "replay": ("replay", "app"),
    "deadletter": ("deadletter", "app"),
}

_EPILOG = "Environment variables: " + "; ".join(
    f"{name}: {meaning}" for name, meaning in ENVIRONMENT_VARIABLES.items()
)


class _Commands(TyperGroup):
    """The root group: loads a command's module when the command is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.UsageError as error:
            # typer suggests from the commands loaded, and none is until it is named.
            matches = get_close_matches(args[0], list(COMMANDS)) if args else []
            if matches and "Did you mean" not in error.message:
                suggestions = ", ".join(repr(match) for match in matches)
                error.message = f"{error.message.rstrip('.')}. Did you mean {suggestions}?"
            raise

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = COMMANDS.get(cmd_name)
        if found is None:
            return None
        module, attribute = found
        target = getattr(importlib.import_module(f"hub.cli.{module}"), attribute)
        if isinstance(target, typer.Typer):
            # A group even with one command (`sitn topics ensure`), as `add_typer` makes it.
            command: click.Command = typer.main.get_group(target)
        else:
            single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
            single.command(name=cmd_name)(target)
            command = typer.main.get_command(single)
        command.name = cmd_name
        return command


app = typer.Typer(
    name="sitn",
    cls=_Commands,
    help="SITN Hub: event-sourced synchronisation hub of a regional tourism information system.",
    epilog=_EPILOG,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    # A Typer with neither commands nor a callback is not a group; the commands come lazily.
    pass


def main() -> None:
    app()
