"""Terminal output shared by the sub-commands: one console, one way to fail cleanly, and one
way to load a registry file named on the command line."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from hub.core.registry import Registry
from hub.registry.format import load_registry_file
from hub.settings import Settings, SettingsError

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as error:
        fail(str(error), code=2)


def load_registry_or_exit(path: Path) -> Registry:
    """The registry in `path`, or exit 2 saying how many problems it has and how to list them."""
    parsed = load_registry_file(path)
    if isinstance(parsed, tuple):
        fail(
            f"{path} has {len(parsed)} problem(s); `sitn registry check {path}` lists them", code=2
        )
    return parsed
