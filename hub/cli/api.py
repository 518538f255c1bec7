"""`sitn api serve|key ...`: run the HTTP feed API, and give diffusers and contributors keys.

`serve` runs `consumers.api.create_app` with uvicorn on the store of SITN_DATABASE_URL (migrated
first), with Prometheus metrics on /metrics (`hub.operations.metrics`) and the operators' dashboard
on /dashboard/ (`hub.dashboard`; it prints where the operator key is).
`key create` makes a random key for one diffuser or one contributor, checks the id against the
registry (the shipped Normandy one, or `--registry FILE`), stores only the key's hash and prints
the key once: it cannot be shown again. `key rotate` does the same and revokes the owner's other
keys in the same transaction, so the old keys stop working the moment the new one exists.
`key revoke` revokes one key (by the id `create` printed) or every key of an owner; `key list`
shows the keys' ids, owners and states, never a key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from consumers.feeds import FeedError, KeyOwner, OwnerKind, SqlFeedStore, hash_key, key_id, new_key
from consumers.webhooks import SqlWebhookStore
from hub.cli.console import err, fail, load_registry_or_exit, out, settings
from hub.core.registry import Registry
from hub.operations.status import StatusSources
from hub.registry.format import load_normandy_registry
from hub.registry.source import FixedRegistry, RegistrySource, TopicRegistry
from hub.replay.target import shown
from hub.store.sql import SqlStore

app = typer.Typer(help="The HTTP feed API for diffusers and contributors.", no_args_is_help=True)
key_app = typer.Typer(help="API keys (stored hashed, shown once).", no_args_is_help=True)
app.add_typer(key_app, name="key")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8080,
    registry_file: Annotated[
        Path | None,
        typer.Option(
            "--registry",
            help="Check keys' owners against this registry file (TOML) instead of the registry "
            "on sitn.registry; read once, at start.",
        ),
    ] = None,
    public_docs: Annotated[
        bool,
        typer.Option(
            "--public-docs",
            help="Serve /docs and /openapi.json without a key (as SITN_API_PUBLIC_DOCS=1).",
        ),
    ] = False,
    public_metrics: Annotated[
        bool,
        typer.Option(
            "--public-metrics", help="Serve /metrics without a key (as SITN_API_PUBLIC_METRICS=1)."
        ),
    ] = False,
) -> None:
    """Serve the feed API until Ctrl-C: feeds and rejections for their keys' holders.

    Also serves the operators' dashboard at /dashboard/, Prometheus metrics at /metrics and the
    OpenAPI document at /openapi.json (docs at /docs); those two need the operator key
    (SITN_OPERATOR_KEY, else the file SITN_HOME/operator-key) as X-API-Key, bearer token or
    Basic password, unless opened with the flags. A key opens nothing once its owner is no
    longer in the registry on sitn.registry (or in the --registry file).
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
        err.print(f"SITN Hub feed API on http://{host}:{port}, store {shown(config.database_url)}")
        status = StatusSources(config.bootstrap_servers, store, feeds, hooks)
        try:
            dashboard, key = local_dashboard(config, status)
        except OperatorKeyError as error:
            fail(str(error), code=2)
        err.print(how_to_open(f"http://{host}:{port}", key))
        api = create_app(
            feeds,
            store,
            registry=_registry_source(config.bootstrap_servers, registry_file),
            operator_key=key,
            public_docs=public_docs or config.api_public_docs,
            public_metrics=public_metrics or config.api_public_metrics,
            max_body=config.api_max_body,
            metrics=status,
            dashboard=dashboard,
        )
        uvicorn.run(api, host=host, port=port, log_level="info")
    finally:
        hooks.close()
        feeds.close()
        store.close()


def _registry_source(bootstrap: str, registry_file: Path | None) -> RegistrySource:
    if registry_file is None:
        return TopicRegistry(bootstrap)
    return FixedRegistry(load_registry_or_exit(registry_file))


def _known(registry: Registry, kind: OwnerKind, owner_id: str, source: str) -> None:
    known = sorted(registry.diffusers if kind == "diffuser" else registry.organisations)
    if owner_id not in known:
        fail(
            f"{kind} {owner_id!r} is not in the registry {source}; known {kind}s: "
            f"{', '.join(known)} (use --registry FILE for another registry)",
            code=2,
        )


OwnerOption = Annotated[
    str | None, typer.Option("--diffuser", help="The diffuser whose feed the key reads.")
]
ContributorOption = Annotated[
    str | None,
    typer.Option("--contributor", help="The organisation whose rejections the key reads."),
]
RegistryOption = Annotated[
    Path | None,
    typer.Option("--registry", help="Registry file to check the id against (TOML)."),
]


def _owner(diffuser: str | None, contributor: str | None, or_else: str = "") -> KeyOwner:
    if diffuser is not None and contributor is None:
        return KeyOwner("diffuser", diffuser)
    if contributor is not None and diffuser is None:
        return KeyOwner("contributor", contributor)
    fail(f"give either --diffuser ID or --contributor ORG{or_else} (exactly one)", code=2)


def _check_registered(owner: KeyOwner, registry_file: Path | None) -> None:
    if registry_file is None:
        _known(load_normandy_registry(), owner.kind, owner.owner_id, "shipped with the hub")
        return
    parsed = load_registry_or_exit(registry_file)
    _known(parsed, owner.kind, owner.owner_id, str(registry_file))


def _issue(owner: KeyOwner, registry_file: Path | None, *, replace: bool) -> None:
    _check_registered(owner, registry_file)
    config = settings()
    key = new_key()
    feeds = SqlFeedStore(config.database_url)
    try:
        feeds.migrate()
        revoked = feeds.set_key(
            owner.kind, owner.owner_id, hash_key(key), at=datetime.now(UTC), replace=replace
        )
    except FeedError as error:
        fail(str(error))
    finally:
        feeds.close()
    out.print(key, markup=False)
    err.print(
        f"API key {key_id(hash_key(key))} of {owner.kind} {owner.owner_id!r} created; only its "
        "hash is stored, so copy it now: it cannot be shown again",
        markup=False,
    )
    if replace:
        ids = ", ".join(k.key_id for k in revoked) or "none"
        err.print(f"Revoked the {owner.kind}'s previous keys: {ids}", markup=False)


@key_app.command("create")
def create(
    diffuser: OwnerOption = None,
    contributor: ContributorOption = None,
    registry_file: RegistryOption = None,
) -> None:
    """Make a new API key, store its hash, and print the key (once: keep it safe).

    The owner's other keys keep working; `sitn api key rotate` replaces them instead.
    """
    _issue(_owner(diffuser, contributor), registry_file, replace=False)


@key_app.command("rotate")
def rotate(
    diffuser: OwnerOption = None,
    contributor: ContributorOption = None,
    registry_file: RegistryOption = None,
) -> None:
    """Make a new API key and revoke the owner's other keys at once; print the new key (once)."""
    _issue(_owner(diffuser, contributor), registry_file, replace=True)


@key_app.command("revoke")
def revoke(
    diffuser: OwnerOption = None,
    contributor: ContributorOption = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key-id",
            help="The id of the one key to revoke (what `create` printed; `list` shows them).",
        ),
    ] = None,
) -> None:
    """Revoke one key (--key-id) or every key of a diffuser or contributor, at once and for good.

    A revoked key is refused by the API with 401 from the next request on. No registry check:
    the keys of an owner removed from the registry can be revoked too.
    """
    if key is not None and (diffuser is not None or contributor is not None):
        fail(
            "give either --key-id (that one key) or --diffuser/--contributor (every key of that "
            "owner), not both",
            code=2,
        )
    config = settings()
    feeds = SqlFeedStore(config.database_url)
    try:
        feeds.migrate()
        now = datetime.now(UTC)
        if key is not None:
            found = feeds.revoke_key(key, at=now)
            if found is None:
                fail(f"no API key has the id {key!r}; `sitn api key list` lists them", code=2)
            owner = found.owner
            err.print(
                f"API key {found.key_id} of {owner.kind} {owner.owner_id!r} is revoked",
                markup=False,
            )
            return
        owner = _owner(diffuser, contributor, or_else=" or --key-id ID")
        revoked = feeds.revoke_keys(owner.kind, owner.owner_id, at=now)
    except FeedError as error:
        fail(str(error), code=2)
    finally:
        feeds.close()
    if revoked:
        ids = ", ".join(k.key_id for k in revoked)
        err.print(f"Revoked the keys of {owner.kind} {owner.owner_id!r}: {ids}", markup=False)
    else:
        err.print(
            f"{owner.kind} {owner.owner_id!r} has no key in force: nothing to revoke",
            markup=False,
        )


@key_app.command("list")
def list_keys() -> None:
    """List the API keys: id, owner, when made and when revoked (never a key: none is stored)."""
    config = settings()
    feeds = SqlFeedStore(config.database_url)
    try:
        feeds.migrate()
        keys = feeds.all_keys()
    finally:
        feeds.close()
    table = Table("key id", "owner", "created", "revoked", title="API keys")
    for k in keys:
        table.add_row(
            k.key_id,
            f"{k.owner.kind} {k.owner.owner_id}",
            _when(k.created_at),
            _when(k.revoked_at) if k.revoked_at else "in force",
        )
    out.print(table)


def _when(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if at is not None else "-"
