"""`sitn replay rebuild`: the demo stream run live, rebuilt into SQLite and PostgreSQL, swapped in.

Once per module, the demo (and one customer record) is published through a running worker into
a live SQLite store; the worker is then stopped. The tests rebuild that store from the session
broker's topics, interrupt rebuilds and resume them, swap rebuilds in on both databases, and feed
the command the inputs an operator gets wrong. Full rebuilds made once per module (one SQLite
file, one PostgreSQL database used as a template) serve the tests that only need a finished one.
"""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url
from typer.testing import CliRunner, Result

from consumers.feeds import hash_key, new_key
from hub.cli import app
from hub.demo_run import DemoPlan, end_offsets, prepare, run_demo
from hub.reference import load_normandy_territory
from hub.registry.format import load_normandy_registry
from hub.replay.rebuild import Progress, RebuildError, Streams, check_resumable, rebuild, verify
from hub.replay.swap import SwapError, swap
from hub.replay.target import open_target
from hub.settings import Settings
from hub.store import PositionedDigest, SqlStore
from hub.store.schema import api_keys, rejections
from hub.store_projector import PROJECTED_TOPICS
from hub.worker import Worker
from producers.publisher import Publisher
from tests.conftest import free_port
from tests.support import examples

pytestmark = pytest.mark.kafka

PLAN = DemoPlan(offers=24, changes=30, seed=31, invalid_ratio=0.15)
COLLECTOR = "ot-deauville"
SMALL_BATCH = 40  # records per transaction in the interrupted runs: many batches, many stops


@dataclass(frozen=True)
class Live:
    """The live store the demo filled, and where it lives."""

    bootstrap: str
    home: Path
    path: Path
    snapshot: PositionedDigest  # its positions (on the projected topics) and digest

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    def env(self, database_url: str | None = None) -> dict[str, str]:
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "SITN_HOME": str(self.home),
            "SITN_DATABASE_URL": database_url or self.url,
        }


async def _run_demo_live(bootstrap: str, home: Path, url: str) -> None:
    registry = load_normandy_registry()
    await prepare(bootstrap, registry)
    customer = replace(
        examples.full_customer_record(), event_id=f"form-{home.name}", collector=COLLECTOR
    )
    territory = load_normandy_territory()
    publisher = Publisher(
        bootstrap=bootstrap, contributor=COLLECTOR, state_dir=home, territory=territory
    )
    assert (await publisher.publish_customer_records([customer])).error is None
    settings = Settings.from_env(
        {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "SITN_HOME": str(home), "SITN_DATABASE_URL": url}
    )
    worker = Worker(settings, app_id=f"sitn-hub-rebuild-{home.name}")
    ready = asyncio.Event()
    task = asyncio.create_task(worker.run(on_ready=lambda _: ready.set()))
    try:
        waiter = asyncio.create_task(ready.wait())
        await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
        await run_demo(
            worker.settings, PLAN, registry, territory, say=lambda _: None, prefix=worker.app_id
        )
        # run_demo waits for changes and rejections; the customer record must be stored too.
        assert worker.projector is not None
        ends = await end_offsets(bootstrap, PROJECTED_TOPICS)
        for _ in range(600):
            positions = await asyncio.to_thread(worker.projector.store.positions)
            if all(positions.get(key, 0) >= end for key, end in ends.items()):
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("the live store did not catch up with the projected topics")
    finally:
        assert worker.stop is not None
        worker.stop.set()
        await asyncio.wait_for(task, 60)


@pytest.fixture(scope="module")
def live(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Live:
    home = tmp_path_factory.mktemp("rebuild-live")
    path = home / "live.db"
    asyncio.run(_run_demo_live(kafka_bootstrap, home, f"sqlite:///{path}"))
    with SqlStore(f"sqlite:///{path}") as store:
        snapshot = store.digest_with_positions()
        assert store.customer_data(COLLECTOR), "the demo's customer record reached the store"
        assert store.rejections(limit=1), "the demo's refused changes reached the store"
    positions = Streams().only(snapshot.positions)
    return Live(kafka_bootstrap, home, path, PositionedDigest(snapshot.digest, positions))


def copy_sqlite(source: Path, destination: Path) -> Path:
    """A consistent copy of an SQLite store (the backup API, not a file copy)."""
    with (
        closing(sqlite3.connect(source)) as original,
        closing(sqlite3.connect(destination)) as copy,
    ):
        original.backup(copy)
    return destination


def full_rebuild(live: Live, url: str) -> None:
    store = open_target(url, live.url)
    try:
        outcome = asyncio.run(rebuild(store, live.bootstrap, live.snapshot.positions))
        assert outcome.finished
    finally:
        store.close()


@pytest.fixture(scope="module")
def rebuilt_sqlite(live: Live, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished rebuild of the live store (copy it before changing it)."""
    path = tmp_path_factory.mktemp("rebuilt") / "rebuilt.db"
    full_rebuild(live, f"sqlite:///{path}")
    return path


# ---------------------------------------------------------------- PostgreSQL databases


def _admin(postgres_url: str) -> psycopg.Connection[tuple[object, ...]]:
    url = make_url(postgres_url)
    return psycopg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        dbname="postgres",
        autocommit=True,
    )


def new_database(postgres_url: str, name: str, template: str | None = None) -> str:
    """Creates database `name` (a copy of `template` if given) on the session's server."""
    query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        query = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(template)
        )
    try:
        with _admin(postgres_url) as conn:
            conn.execute(query)
    except psycopg.errors.InsufficientPrivilege:
        pytest.skip("the PostgreSQL user given may not create databases")
    return make_url(postgres_url).set(database=name).render_as_string(hide_password=False)


def database_names(postgres_url: str) -> set[str]:
    with _admin(postgres_url) as conn:
        return {str(name) for (name,) in conn.execute("SELECT datname FROM pg_database")}


@pytest.fixture(scope="module")
def rebuilt_postgres(
    live: Live, postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """The name of a database holding a finished rebuild, to create copies from (TEMPLATE)."""
    name = f"rebuilt_{tmp_path_factory.mktemp('pg').name.replace('-', '_')}"
    full_rebuild(live, new_database(postgres_url, name))
    return name


# ---------------------------------------------------------------- rebuilding


def invoke(live: Live, *args: str, database_url: str | None = None) -> Result:
    return CliRunner().invoke(app, ["replay", "rebuild", *args], env=live.env(database_url))


def test_the_command_rebuilds_the_live_store_into_an_sqlite_file_with_the_same_digest(
    live: Live, tmp_path: Path
) -> None:
    target = tmp_path / "rebuilt.db"

    result = invoke(live, "--into", f"sqlite:///{target}")

    assert result.exit_code == 0, result.output
    assert f"rebuilding into sqlite:///{target}" in result.stderr
    assert "equal at the same positions" in result.stdout
    assert live.snapshot.digest in result.stdout
    with SqlStore(f"sqlite:///{target}") as rebuilt:
        assert rebuilt.digest_with_positions() == live.snapshot
        assert rebuilt.customer_data(COLLECTOR), "customer data is rebuilt too"
        with SqlStore(live.url) as original:
            assert rebuilt.rejections(limit=10_000) == original.rejections(limit=10_000)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_an_interrupted_rebuild_resumes_where_it_stopped_and_ends_with_the_live_digest(
    live: Live, tmp_path: Path, request: pytest.FixtureRequest, backend: str
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    else:
        postgres_url: str = request.getfixturevalue("postgres_url")
        url = new_database(postgres_url, f"resumed_{tmp_path.name.replace('-', '_')}")
    total = sum(live.snapshot.positions.values())
    store = open_target(url, live.url)
    try:
        first = asyncio.run(
            rebuild(
                store,
                live.bootstrap,
                live.snapshot.positions,
                batch_records=SMALL_BATCH,
                stop_after=total // 3,
            )
        )
        assert not first.finished
        assert store.positions() == first.reached
        assert 0 < sum(first.reached.values()) < total

        second = asyncio.run(
            rebuild(store, live.bootstrap, live.snapshot.positions, batch_records=SMALL_BATCH)
        )

        assert second.finished
        assert second.started_from == first.reached, "the second run starts where the first ended"
        assert second.progress.total == total - sum(first.reached.values())
        assert second.progress.records < total, "nothing is read twice from zero"
        verification = verify(live.snapshot, store)
        assert verification.equal, verification
    finally:
        store.close()


async def test_a_rebuild_cancelled_mid_way_keeps_whole_batches_and_resumes(
    live: Live, tmp_path: Path
) -> None:
    store = open_target(f"sqlite:///{tmp_path / 'rebuilt.db'}", live.url)
    try:
        halfway = asyncio.Event()

        def watch(progress: Progress) -> None:
            half_done = progress.done * 2 >= progress.total
            if half_done and progress.total > progress.done > 0:
                halfway.set()

        run = asyncio.create_task(
            rebuild(
                store,
                live.bootstrap,
                live.snapshot.positions,
                batch_records=SMALL_BATCH // 4,  # several batches are still to come at halfway
                on_progress=watch,
            )
        )
        await asyncio.wait(
            [run, asyncio.create_task(halfway.wait())],
            timeout=120,
            return_when=asyncio.FIRST_COMPLETED,
        )
        assert not run.done(), "the rebuild was still running when cancelled"
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        kept = await asyncio.to_thread(store.positions)
        assert 0 < sum(kept.values()) < sum(live.snapshot.positions.values())

        resumed = await rebuild(store, live.bootstrap, live.snapshot.positions)

        assert resumed.started_from == kept
        verification = await asyncio.to_thread(verify, live.snapshot, store)
        assert verification.equal, verification
    finally:
        store.close()


# ---------------------------------------------------------------- swapping


def add_api_key(url: str) -> str:
    """A diffuser's key in the store's database: what a rebuild must not lose on a swap."""
    key_hash = hash_key(new_key())
    with SqlStore(url) as store, store.engine.begin() as conn:
        conn.execute(
            insert(api_keys).values(key_hash=key_hash, owner_kind="diffuser", owner_id="ideoguide")
        )
    return key_hash


def key_owners(url: str) -> set[str]:
    with SqlStore(url) as store, store.engine.connect() as conn:
        return {str(h) for h in conn.execute(select(api_keys.c.key_hash)).scalars()}


def rejection_seqs(url: str) -> tuple[int, int]:
    with SqlStore(url) as store, store.engine.connect() as conn:
        low, high = conn.execute(
            select(func.min(rejections.c.seq), func.max(rejections.c.seq))
        ).one()
    return int(low), int(high)


def test_a_swap_on_sqlite_waits_for_the_store_to_be_free_then_keeps_the_old_file(
    live: Live, rebuilt_sqlite: Path, tmp_path: Path
) -> None:
    live_path = copy_sqlite(live.path, tmp_path / "store.db")
    live_url = f"sqlite:///{live_path}"
    key_hash = add_api_key(live_url)
    _, last_seq = rejection_seqs(live_url)
    target = copy_sqlite(rebuilt_sqlite, tmp_path / "rebuilt.db")
    worker_like = SqlStore(live_url)
    worker_like.positions()  # a pooled connection stays open, as a worker's does

    refused = invoke(live, "--into", f"sqlite:///{target}", "--swap", database_url=live_url)
    worker_like.close()
    swapped = invoke(live, "--into", f"sqlite:///{target}", "--swap", database_url=live_url)

    assert refused.exit_code == 1
    assert "not swapped" in refused.stderr
    assert "open in another process" in refused.stderr
    assert swapped.exit_code == 0, swapped.output
    assert "swapped" in swapped.stdout
    [kept] = tmp_path.glob("store.db.before-rebuild-*")
    assert str(kept) in swapped.stdout
    with SqlStore(live_url) as now, SqlStore(f"sqlite:///{target}") as rebuilt:
        assert now.digest_with_positions() == rebuilt.digest_with_positions()
    assert key_owners(live_url) == {key_hash}, "API keys stay in the live store"
    assert key_owners(f"sqlite:///{kept}") == {key_hash}
    first_seq, _ = rejection_seqs(live_url)
    assert first_seq == last_seq + 1, "rejections are numbered after the old store's last one"
    with SqlStore(f"sqlite:///{kept}") as old:
        assert old.digest_with_positions() == live.snapshot


@pytest.mark.postgres
def test_a_swap_on_postgresql_renames_the_databases_once_no_session_is_left(
    live: Live, rebuilt_postgres: str, postgres_url: str, tmp_path: Path
) -> None:
    suffix = tmp_path.name.replace("-", "_")
    live_url = new_database(postgres_url, f"live_{suffix}", template=rebuilt_postgres)
    key_hash = add_api_key(live_url)
    target_url = new_database(postgres_url, f"target_{suffix}", template=rebuilt_postgres)
    worker_like = SqlStore(live_url)
    worker_like.positions()

    refused = invoke(live, "--into", target_url, "--swap", database_url=live_url)
    worker_like.close()
    swapped = invoke(live, "--into", target_url, "--swap", database_url=live_url)

    assert refused.exit_code == 1
    assert "other sessions are connected" in refused.stderr
    assert swapped.exit_code == 0, swapped.output
    names = database_names(postgres_url)
    assert f"live_{suffix}" in names
    assert f"target_{suffix}" not in names, "the rebuilt database took the live one's name"
    [kept] = [name for name in names if name.startswith(f"live_{suffix}_before_rebuild_")]
    assert kept in swapped.stdout
    assert key_owners(live_url) == {key_hash}, "API keys are carried into the rebuilt database"
    with SqlStore(live_url) as now:
        assert now.digest_with_positions() == live.snapshot
    kept_url = make_url(live_url).set(database=kept).render_as_string(hide_password=False)
    assert key_owners(kept_url) == {key_hash}


# ---------------------------------------------------------------- what operators get wrong


def test_the_live_store_itself_is_refused_however_its_path_is_spelled(
    live: Live, tmp_path: Path
) -> None:
    spelled = f"sqlite:///{live.path.parent}/../{live.path.parent.name}/{live.path.name}"

    result = invoke(live, "--into", spelled)

    assert result.exit_code == 2
    assert "is the live store (SITN_DATABASE_URL)" in result.stderr
    assert "Traceback" not in result.output


def test_an_unreachable_database_is_named_with_what_to_check(live: Live) -> None:
    url = f"postgresql://sitn@127.0.0.1:{free_port()}/rebuilt"

    result = invoke(live, "--into", url)

    assert result.exit_code == 2
    assert f"cannot reach {url}" in result.stderr
    assert "check the URL, that the server runs" in result.stderr


def test_another_applications_database_is_refused_untouched(live: Live, tmp_path: Path) -> None:
    path = tmp_path / "guests.db"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE guests (name TEXT)")

    result = invoke(live, "--into", f"sqlite:///{path}")

    assert result.exit_code == 2
    assert "holds tables a regional store does not have (guests)" in result.stderr
    with closing(sqlite3.connect(path)) as conn:
        tables = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
    assert tables == {"guests"}


def test_a_live_hub_store_is_not_taken_for_a_rebuild(live: Live, tmp_path: Path) -> None:
    other_live = copy_sqlite(live.path, tmp_path / "other-hub.db")
    add_api_key(f"sqlite:///{other_live}")

    result = invoke(live, "--into", f"sqlite:///{other_live}")

    assert result.exit_code == 2
    assert "holds api_keys, diffusion_timeline, feed_entries" in result.stderr
    assert "it is a live hub store" in result.stderr


def tampered(
    source: Path, destination: Path, statement: str, parameters: tuple[str, ...] = ()
) -> str:
    """A copy of an SQLite store changed behind the store's back by one statement."""
    copy_sqlite(source, destination)
    with closing(sqlite3.connect(destination)) as conn, conn:
        conn.execute(statement, parameters)
    return f"sqlite:///{destination}"


@pytest.mark.parametrize(
    ("statement", "said"),
    [
        (
            "INSERT INTO consumed_positions VALUES ('crm.contacts', 0, 12)",
            "positions on crm.contacts, which a rebuild does not read",
        ),
        (
            "UPDATE consumed_positions SET next_offset = next_offset + 5 "
            "WHERE topic = 'sitn.regional.changes'",
            "ahead of the live store on sitn.regional.changes",
        ),
        ("DELETE FROM offers", "which sitn.regional.changes"),
        ("DELETE FROM consumed_positions", "no consumed positions"),
    ],
)
def test_a_target_that_is_not_a_rebuild_of_these_streams_is_refused(
    live: Live, rebuilt_sqlite: Path, tmp_path: Path, statement: str, said: str
) -> None:
    url = tampered(rebuilt_sqlite, tmp_path / "rebuilt.db", statement)

    result = invoke(live, "--into", url)

    assert result.exit_code == 2, result.output
    assert said in result.stderr
    assert "give an empty database" in result.stderr


def test_a_live_store_that_differs_from_its_streams_fails_verification_naming_the_offer(
    live: Live, rebuilt_sqlite: Path, tmp_path: Path
) -> None:
    with SqlStore(live.url) as store:
        offer = store.offers(limit=1)[0]
    live_url = tampered(
        live.path,
        tmp_path / "store.db",
        "UPDATE offers SET public_json = '{}' WHERE offer_id = ?",
        (offer.offer_id,),
    )
    target = copy_sqlite(rebuilt_sqlite, tmp_path / "rebuilt.db")

    result = invoke(live, "--into", f"sqlite:///{target}", "--swap", database_url=live_url)

    assert result.exit_code == 1
    assert "digest differs from the live store's at the same positions" in result.stderr
    assert f"{offer.offer_id}: live version {offer.version}" in result.stderr
    assert not list(tmp_path.glob("store.db.before-rebuild-*")), "nothing was swapped"


async def test_check_resumable_accepts_an_empty_store_and_a_partial_rebuild(
    live: Live, tmp_path: Path
) -> None:
    store = open_target(f"sqlite:///{tmp_path / 'rebuilt.db'}", live.url)
    try:
        await check_resumable(store, live.bootstrap, live.snapshot.positions)
        await rebuild(
            store, live.bootstrap, live.snapshot.positions, stop_after=1, batch_records=SMALL_BATCH
        )
        await check_resumable(store, live.bootstrap, live.snapshot.positions)
        with pytest.raises(RebuildError, match="ahead of the live store"):
            await check_resumable(store, live.bootstrap, {})
    finally:
        store.close()


@pytest.mark.parametrize(
    ("live_url", "rebuilt_url", "said"),
    [
        ("sqlite:///store.db", "postgresql://sitn@db.example/rebuilt", "of the same kind"),
        (
            "postgresql://sitn@db-1.example/sitn",
            "postgresql://sitn@db-2.example/rebuilt",
            "not on the live store's server",
        ),
    ],
)
def test_a_swap_across_kinds_or_servers_is_refused_before_connecting(
    live_url: str, rebuilt_url: str, said: str
) -> None:
    with pytest.raises(SwapError, match=said):
        swap(live_url, rebuilt_url, {}, Streams().topics)
