"""Terminal output shared by the sub-commands: one console, one way to fail cleanly."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

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
