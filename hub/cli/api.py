"""`sitn api serve|key create`: run the HTTP feed API, and give diffusers and contributors keys.

`serve` runs `consumers.api.create_app` with uvicorn on the store of SITN_DATABASE_URL (migrated
first), with Prometheus metrics on /metrics (`hub.operations.metrics`) and the operators' dashboard
on /dashboard/ (`hub.dashboard`; it prints where the operator key is).
`key create` makes a random key for one diffuser or one contributor, checks the id against the
registry (the shipped Normandy one, or `--registry FILE`), stores only the key's hash and prints
the key once: it cannot be shown again, only replaced by a new one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from consumers.feeds import FeedError, OwnerKind, SqlFeedStore, hash_key, new_key
from consumers.webhooks import SqlWebhookStore
from hub.cli.console import err, fail, out, settings
from hub.core.registry import Registry
from hub.operations.status import StatusSources
from hub.registry.format import load_normandy_registry, load_registry_file
from hub.store.sql import SqlStore

app = typer.Typer(help="The HTTP feed API for diffusers and contributors.", no_args_is_help=True)
key_app = typer.Typer(help="API keys (stored hashed, shown once).", no_args_is_help=True)
app.add_typer(key_app, name="key")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8080,
) -> None:
    """Serve the feed API (OpenAPI document at /openapi.json, docs at /docs) until Ctrl-C.

    Also serves the operators' dashboard at /dashboard/ (key: SITN_OPERATOR_KEY, else the file
    SITN_HOME/operator-key) and Prometheus metrics at /metrics.
    """
    # The web stack is imported here, not with the CLI: every other command starts without it.
    import uvicorn

    from consumers.api import create_app
    from hub.dashboard import OperatorKeyError, local_dashboard
    from hub.dashboard.serving import how_to_open

    config = settings()
    store = SqlStore(config.database_url)
    feeds = SqlFeedStore(config.database_url)
    hooks = SqlWebhookStore(config.database_url)
    try:
        store.migrate()
        err.print(f"SITN Hub feed API on http://{host}:{port}, store {config.database_url}")
        status = StatusSources(config.bootstrap_servers, store, feeds, hooks)
        try:
            dashboard, key = local_dashboard(config, status)
        except OperatorKeyError as error:
            fail(str(error), code=2)
        err.print(how_to_open(f"http://{host}:{port}", key))
        api = create_app(feeds, store, metrics=status, dashboard=dashboard)
        uvicorn.run(api, host=host, port=port, log_level="info")
    finally:
        hooks.close()
        feeds.close()
        store.close()


def _known(registry: Registry, kind: OwnerKind, owner_id: str, source: str) -> None:
    known = sorted(registry.diffusers if kind == "diffuser" else registry.organisations)
    if owner_id not in known:
        fail(
            f"{kind} {owner_id!r} is not in the registry {source}; known {kind}s: "
            f"{', '.join(known)} (use --registry FILE for another registry)",
            code=2,
        )


@key_app.command("create")
def create(
    diffuser: Annotated[
        str | None, typer.Option("--diffuser", help="Make a key to read this diffuser's feed.")
    ] = None,
    contributor: Annotated[
        str | None,
        typer.Option("--contributor", help="Make a key to read this organisation's rejections."),
    ] = None,
    registry_file: Annotated[
        Path | None,
        typer.Option("--registry", help="Registry file to check the id against (TOML)."),
    ] = None,
) -> None:
    """Make a new API key, store its hash, and print the key (once: keep it safe)."""
    kind: OwnerKind
    if diffuser is not None and contributor is None:
        kind, owner_id = "diffuser", diffuser
    elif contributor is not None and diffuser is None:
        kind, owner_id = "contributor", contributor
    else:
        fail("give either --diffuser ID or --contributor ORG (exactly one)", code=2)
    if registry_file is None:
        _known(load_normandy_registry(), kind, owner_id, "shipped with the hub")
    else:
        parsed = load_registry_file(registry_file)
        if isinstance(parsed, tuple):
            fail(
                f"{registry_file} has {len(parsed)} problem(s); "
                f"`sitn registry check {registry_file}` lists them",
                code=2,
            )
        _known(parsed, kind, owner_id, str(registry_file))
    config = settings()
    key = new_key()
    feeds = SqlFeedStore(config.database_url)
    try:
        feeds.migrate()
        feeds.set_key(kind, owner_id, hash_key(key))
    except FeedError as error:
        fail(str(error))
    finally:
        feeds.close()
    out.print(key, markup=False)
    err.print(
        f"API key of {kind} {owner_id!r} created; only its hash is stored, so copy it now: "
        "it cannot be shown again"
    )
