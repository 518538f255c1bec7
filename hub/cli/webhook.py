"""`sitn webhook set|list|redrive|remove`: the diffusers' webhooks, as the worker delivers them.

`set` gives a diffuser (checked against the registry: the shipped Normandy one, or `--registry
FILE`) a webhook URL (http or https) and a new random signing secret, printed once on stdout.
The URL's host must be a public address or resolve only to public ones
(`consumers.webhooks.destinations`): a loopback, link-local, private or the hub's own address is
refused (exit 2, naming the address) unless SITN_WEBHOOK_ALLOW lets it through; a name that does
not resolve yet is accepted with a warning, since the worker checks the address again on every
delivery.
The store keeps the secret as is, since the worker signs every notification with it: it cannot
be shown again (`list` never shows it), only replaced by running `set` again. A new webhook
starts after the feed's current head (the receiver takes a snapshot through the feed API first);
`--after SEQ` says otherwise (0: from the first entry). Setting an existing webhook again keeps
its cursor unless `--after` is given, and makes it active.
`list` shows each webhook's state, cursor against its feed's head, failures and last error;
`redrive` makes a parked webhook active again, resuming with the entry that failed; `remove`
deletes it. All of them use the store of SITN_DATABASE_URL (migrated first).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from consumers.feeds import SqlFeedStore, new_key
from consumers.feeds.cursor import CursorError, FeedCursor
from consumers.webhooks import (
    DestinationRefused,
    Destinations,
    SqlWebhookStore,
    WebhookError,
    check_url,
    host_and_port,
)
from hub.cli.console import err, fail, load_registry_or_exit, out, settings
from hub.registry.format import load_normandy_registry

app = typer.Typer(
    help="Diffusers' webhooks: signed notifications of their feed entries.",
    no_args_is_help=True,
)


@contextmanager
def _stores() -> Iterator[tuple[SqlWebhookStore, SqlFeedStore]]:
    url = settings().database_url
    hooks = SqlWebhookStore(url)
    feeds = SqlFeedStore(url)
    try:
        hooks.migrate()
        yield hooks, feeds
    finally:
        feeds.close()
        hooks.close()


def _check_destination(diffuser_id: str, url: str) -> None:
    """Refuses a URL whose host is an address webhooks must not reach (exit 2, saying why)."""
    host, port = host_and_port(url)
    try:
        Destinations.allowing(settings().webhook_allow).screen(host, port)
    except DestinationRefused as refused:
        fail(f"webhook URL {url!r} of diffuser {diffuser_id!r} refused: {refused}", code=2)
    except OSError as error:
        err.print(
            f"warning: the host {host} of webhook URL {url!r} does not resolve now "
            f"({error.strerror or error}); it is accepted, and every delivery checks its address",
            markup=False,
        )


def _check_diffuser(diffuser_id: str, registry_file: Path | None) -> None:
    if registry_file is None:
        diffusers, source = load_normandy_registry().diffusers, "shipped with the hub"
    else:
        diffusers, source = load_registry_or_exit(registry_file).diffusers, str(registry_file)
    if diffuser_id not in diffusers:
        fail(
            f"diffuser {diffuser_id!r} is not in the registry {source}; known diffusers: "
            f"{', '.join(sorted(diffusers))} (use --registry FILE for another registry)",
            code=2,
        )


@app.command("set")
def set_webhook(
    diffuser: Annotated[str, typer.Option("--diffuser", help="The diffuser to notify.")],
    url: Annotated[str, typer.Option("--url", help="Where to POST notifications (http/https).")],
    after: Annotated[
        str | None,
        typer.Option(
            "--after",
            help="Notify the feed entries after this feed cursor (0: all; a cursor the feed API "
            "or `sitn webhook list` gave). Default: the feed's head for a new webhook, its "
            "cursor for an existing one.",
        ),
    ] = None,
    registry_file: Annotated[
        Path | None,
        typer.Option("--registry", help="Registry file to check the diffuser against (TOML)."),
    ] = None,
) -> None:
    """Give a diffuser a webhook and a new signing secret, printed once: keep it safe."""
    try:
        check_url(diffuser, url)
    except WebhookError as error:
        fail(str(error), code=2)
    _check_destination(diffuser, url)
    _check_diffuser(diffuser, registry_file)
    try:
        given = None if after is None else FeedCursor.parse(after)
    except CursorError as error:
        fail(f"--after: {error}", code=2)
    secret = new_key()
    with _stores() as (hooks, feeds):
        existing = hooks.webhook(diffuser)
        if given is not None:
            start = given
        elif existing is not None:
            start = existing.delivered
        else:
            start = feeds.head(diffuser)
        try:
            hook = hooks.set_webhook(diffuser, url, secret, start)
        except WebhookError as error:
            fail(str(error), code=2)
    out.print(secret, markup=False)
    err.print(
        f"webhook of diffuser {diffuser!r} {'replaced' if existing else 'created'}: "
        f"notifications after feed cursor {hook.delivered} go to {url}, signed with the "
        "secret above; it is shown only now, so copy it to the receiver (running `set` again "
        "makes a new one)",
        markup=False,
    )


@app.command("list")
def list_webhooks() -> None:
    """Each webhook's state, cursor against its feed's head, failures and last error."""
    with _stores() as (hooks, feeds):
        rows = [(hook, feeds.head(hook.diffuser_id)) for hook in hooks.webhooks()]
    if not rows:
        err.print("no webhook; `sitn webhook set --diffuser ID --url URL` adds one")
        return
    for hook, head in rows:
        # Plain lines, not a table: URLs and errors are long and must not be cut.
        out.print(f"{hook.diffuser_id}  {hook.state}  {hook.url}", markup=False)
        out.print(
            f"    delivered up to cursor {hook.delivered} of {head} "
            f"({hook.delivered.behind(head)} behind); "
            f"{hook.failures} consecutive failure(s)",
            markup=False,
        )
        if hook.last_attempt_at is not None:
            outcome = f": {hook.last_error}" if hook.last_error else ": delivered"
            out.print(f"    last attempt {hook.last_attempt_at.isoformat()}{outcome}", markup=False)
    parked = [hook.diffuser_id for hook, _ in rows if hook.state == "parked"]
    if parked:
        out.print(
            f"parked: {', '.join(parked)}; fix the receiver, then "
            "`sitn webhook redrive --diffuser ID` resumes with the entry that failed",
            markup=False,
        )


@app.command()
def redrive(
    diffuser: Annotated[str, typer.Option("--diffuser", help="The diffuser whose webhook.")],
) -> None:
    """Make a parked webhook active again: delivery resumes with the entry that failed."""
    with _stores() as (hooks, _):
        hook = hooks.redrive(diffuser)
    if hook is None:
        fail(f"diffuser {diffuser!r} has no webhook; `sitn webhook list` shows those there are")
    err.print(
        f"webhook of diffuser {diffuser!r} is active again; the worker resumes after feed cursor "
        f"{hook.delivered}",
        markup=False,
    )


@app.command()
def remove(
    diffuser: Annotated[str, typer.Option("--diffuser", help="The diffuser whose webhook.")],
) -> None:
    """Delete a diffuser's webhook (its feed is untouched)."""
    with _stores() as (hooks, _):
        removed = hooks.remove(diffuser)
    if not removed:
        fail(f"diffuser {diffuser!r} has no webhook; `sitn webhook list` shows those there are")
    err.print(f"webhook of diffuser {diffuser!r} removed", markup=False)
