"""`sitn demo run`: the whole path on the demo data, then where to look (what `make run` shows).

Applies the shipped Normandy registry, starts every stage of the hub as a supervised child process
(what `sitn worker` does) on the embedded defaults (local broker, SQLite store under SITN_HOME),
publishes generated offers and changes as the CDTs, OTs,
federators and the CRT would (some built to be rejected), waits until everything is judged and
stored, prints a summary, and with `--keep-running` goes on serving until Ctrl-C. Running it again
does not publish the same demo twice: a marker under SITN_HOME remembers what was published.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from collections import Counter
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from consumers.feeds import SqlFeedStore, hash_key, new_key
from consumers.webhooks import SqlWebhookStore
from hub.cli.console import err, fail, out, settings
from hub.cli.worker import configure_logging
from hub.demo_run import DemoPlan, prepare, run_demo
from hub.operations.status import StatusSources
from hub.reference import load_normandy_territory
from hub.registry.format import load_normandy_registry
from hub.replay.target import shown
from hub.settings import Settings
from hub.stages.roots import STAGES, prepare_stages
from hub.stages.supervisor import Supervisor
from hub.store.sql import SqlStore

MARKER = "demo-published.json"


def run(
    offers: Annotated[int, typer.Option(min=1, help="How many offers the CDTs create.")] = 400,
    changes: Annotated[int, typer.Option(min=0, help="How many follow-up changes.")] = 600,
    seed: Annotated[int, typer.Option(help="Seed of the generated data.")] = 7,
    invalid_ratio: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of changes built to be rejected.")
    ] = 0.08,
    keep_running: Annotated[
        bool, typer.Option("--keep-running", help="Keep the hub running after the summary.")
    ] = False,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve", help="Also serve the feed API and keep everything running until Ctrl-C."
        ),
    ] = False,
    port: Annotated[int, typer.Option(help="Port of the feed API with --serve.")] = 8080,
) -> None:
    """Run the demo end to end: registry, publishers, hub, store; then show where to look."""
    config = settings()
    configure_logging()
    logging.getLogger("sitn.worker").setLevel(logging.WARNING)
    plan = DemoPlan(offers, changes, seed, invalid_ratio)
    if serve:
        from hub.dashboard import OperatorKeyError, load_operator_key  # the web stack, if served

        try:
            load_operator_key(config)  # a bad SITN_OPERATOR_KEY stops here, not after the demo
        except OperatorKeyError as error:
            fail(str(error), code=2)
    try:
        asyncio.run(_run(config, plan, keep_running or serve, port if serve else None))
    except (OSError, RuntimeError, TimeoutError) as error:
        fail(f"the demo failed: {error}; is Kafka running (`sitn kafka start`)?")


async def _run(config: Settings, plan: DemoPlan, keep_running: bool, port: int | None) -> None:
    registry = load_normandy_registry()
    territory = load_normandy_territory()
    changed = await prepare(config.bootstrap_servers, registry)
    err.print(f"registry applied to sitn.registry: {changed} entries published")
    stop = asyncio.Event()
    await prepare_stages(config)
    quiet = Supervisor(list(STAGES), environment={"SITN_LOG_LEVEL": "WARNING"})
    stages = asyncio.create_task(quiet.run(stop), name="stages")
    err.print(f"stages started as child processes: {', '.join(STAGES)}")
    marker = config.home / MARKER
    wanted = json.dumps(plan.__dict__, sort_keys=True)
    try:
        if marker.exists() and marker.read_text() == wanted:
            err.print("the demo data was already published (same plan); showing the store")
        else:
            outcome = await run_demo(config, plan, registry, territory, say=err.print)
            marker.write_text(wanted)
            err.print(
                f"published {outcome.published} contributions; the publishers refused "
                f"{outcome.refused_by_publisher} that break the charte before sending"
            )
        summarise(config)
        api: asyncio.Task[None] | None = None
        if port is not None:
            api = await serve_feeds(config, port, stop)
        if keep_running:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            out.print("\nThe hub keeps running (Ctrl-C to stop).")
            await stop.wait()
        if api is not None:
            await api
    finally:
        stop.set()
        await stages


DEMO_DIFFUSER = "site-crt-normandie"


def demo_key(config: Settings, feeds: SqlFeedStore) -> str:
    """The demo diffuser's API key, kept in SITN_HOME so every `make run` prints the same one.

    Only for the local demo: a real key is made with `sitn api key create` and never stored.
    """
    path = config.home / "demo-api-key"
    if path.exists():
        key = path.read_text().strip()
        owner = feeds.owner_of(hash_key(key))
        if owner is not None and owner.owner_id == DEMO_DIFFUSER:
            return key
    key = new_key()
    feeds.set_key("diffuser", DEMO_DIFFUSER, hash_key(key), at=datetime.now(UTC))
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key


async def serve_feeds(config: Settings, port: int, stop: asyncio.Event) -> asyncio.Task[None]:
    """Start the feed API on 127.0.0.1:`port` until `stop`; print a working curl."""
    # The web stack is imported here, not with the CLI: a demo without --serve runs without it.
    import uvicorn

    from consumers.api import create_app
    from hub.dashboard import OperatorKeyError, local_dashboard
    from hub.dashboard.serving import how_to_open
    from hub.registry.source import TopicRegistry

    store = SqlStore(config.database_url)
    feeds = SqlFeedStore(config.database_url)
    hooks = SqlWebhookStore(config.database_url)
    key = await asyncio.to_thread(demo_key, config, feeds)
    status = StatusSources(config.bootstrap_servers, store, feeds, hooks)
    try:
        dashboard, operator_key = local_dashboard(config, status)
    except OperatorKeyError as error:
        raise RuntimeError(str(error)) from None
    api = create_app(
        feeds,
        store,
        registry=TopicRegistry(config.bootstrap_servers),
        operator_key=operator_key,
        public_docs=config.api_public_docs,
        public_metrics=config.api_public_metrics,
        max_body=config.api_max_body,
        metrics=status,
        dashboard=dashboard,
    )
    server = uvicorn.Server(uvicorn.Config(api, host="127.0.0.1", port=port, log_level="warning"))

    async def run() -> None:
        try:
            serving = asyncio.create_task(server.serve())
            await stop.wait()
            server.should_exit = True
            await serving
        finally:
            hooks.close()
            feeds.close()
            store.close()

    task = asyncio.create_task(run())
    while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn offers only a flag
        await asyncio.sleep(0.05)
    if task.done():
        task.result()
        raise RuntimeError(f"the feed API could not start on port {port}")
    out.print(
        f"\nFeed API on http://127.0.0.1:{port} (OpenAPI: /openapi.json, metrics: /metrics, "
        "both with the operator key). "
        f"The {DEMO_DIFFUSER} feed:\n"
        f"  curl -H 'X-API-Key: {key}' "
        f"'http://127.0.0.1:{port}/v1/feeds/{DEMO_DIFFUSER}/changes?limit=5'\n"
        + how_to_open(f"http://127.0.0.1:{port}", operator_key, show_key=True),
        markup=False,
    )
    return task


def summarise(config: Settings) -> None:
    store = SqlStore(config.database_url)
    try:
        counts = store.counts()
        rejections = store.rejections(limit=100_000)
        digest = store.digest()
    finally:
        store.close()
    by_department: Counter[str] = Counter()
    by_status: Counter[str] = Counter()
    for (_, department, status), count in counts.items():
        by_department[department or "-"] += count
        by_status[status.value] += count
    table = Table("department", "offers", title="Regional store")
    for department, count in sorted(by_department.items()):
        table.add_row(department, str(count))
    out.print(table)
    out.print("by status: " + ", ".join(f"{s} {n}" for s, n in sorted(by_status.items())))
    per_contributor = Counter(r.contributor for r in rejections)
    rules = Counter(rule.split(".")[0] for r in rejections for rule in r.rule_ids)
    out.print(
        f"rejections: {len(rejections)} ("
        + ", ".join(f"{rule} {n}" for rule, n in sorted(rules.items()))
        + ")"
    )
    for r in rejections[:3]:
        out.print(f"  {r.contributor} {r.offer_id}: {escape(r.message[:160])}")
    example = per_contributor.most_common(1)[0][0] if per_contributor else "cdt-calvados"
    bin_dir = ".venv/bin/"
    out.print(
        "\nWhere to look:\n"
        f"  {bin_dir}sitn rejections --contributor {example}   what a contributor must fix\n"
        f"  {bin_dir}sitn store counts                     offers per type, department, status\n"
        f"  {bin_dir}sitn store digest                     {digest[:16]}… (compare two stores)\n"
        f"  {bin_dir}sitn registry show                    the conventions in force\n"
        f"  {bin_dir}sitn status                           lag, rejections, dead letters, feeds\n"
        f"  {bin_dir}sitn replay rebuild --into URL        rebuild the store from the stream\n"
        f"  {bin_dir}sitn worker                           run the hub again\n"
        f"  {bin_dir}sitn api key create --diffuser ID     a key for a diffuser's feed\n"
        f"  {bin_dir}sitn api serve                        the feed API alone\n"
        f"  store: {shown(config.database_url)}\n"
        f"  broker log: {config.home / 'kafka' / 'broker.log'}"
    )
