"""`SqlStore` on SQLite and PostgreSQL: the store contract, the migrations, what only SQL shows.

The contract runs on a fresh SQLite file per test and on the session's PostgreSQL database
(migrated once, its tables emptied before each test). PostgreSQL tests are marked `postgres`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, inspect, select, text
from sqlalchemy.exc import IntegrityError

from hub.core.regional import OfferStatus, RegionalChange
from hub.store import InMemoryStore, RegionalStore, SqlStore, downgrade, upgrade
from hub.store.schema import (
    TABLES,
    customer_data,
    metadata,
    offer_private,
    offer_versions,
    offers,
)
from hub.store.sql import normalise_url
from tests.contract.store_contract import RegionalStoreContract, customer
from tests.support.regional_changes import (
    CHERBOURG,
    ROUEN,
    T0,
    TOPIC,
    change,
    in_paris_time,
    private_block,
)


@pytest.fixture(scope="session")
def migrated_postgres_url(postgres_url: str) -> str:
    upgrade(postgres_url)
    return postgres_url


def _empty_postgres_store(url: str) -> SqlStore:
    store = SqlStore(url)
    names = ", ".join(table.name for table in TABLES)
    with store.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE TABLE {names}"))
    return store


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqlStore]:
    store = SqlStore(f"sqlite:///{tmp_path / 'store.db'}")
    store.migrate()
    yield store
    store.close()


@pytest.fixture
def postgres_store(migrated_postgres_url: str) -> Iterator[SqlStore]:
    store = _empty_postgres_store(migrated_postgres_url)
    yield store
    store.close()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def sql_store(request: pytest.FixtureRequest) -> SqlStore:
    fixture = "sqlite_store" if request.param == "sqlite" else "postgres_store"
    store: SqlStore = request.getfixturevalue(fixture)
    return store


class TestSqlStoreOnSqlite(RegionalStoreContract):
    @pytest.fixture
    def store(self, sqlite_store: SqlStore) -> RegionalStore:
        return sqlite_store


@pytest.mark.postgres
class TestSqlStoreOnPostgres(RegionalStoreContract):
    @pytest.fixture
    def store(self, postgres_store: SqlStore) -> RegionalStore:
        return postgres_store


# ---------------------------------------------------------------- the same content everywhere


def mixed_history() -> list[RegionalChange]:
    """Several offers, versions, statuses, private blocks and time zones, interleaved."""
    return [
        change("HOT-1", 1, private=private_block("appeler avant 18 h")),
        change("RES-2", 1, commune=ROUEN, contributor="ot-rouen"),
        in_paris_time(change("HOT-1", 2, commune=CHERBOURG)),
        change("LOI-3", 1),
        change("RES-2", 2, status=OfferStatus.WITHDRAWN, contributor="ot-rouen"),
        change("LOI-3", 2, status=OfferStatus.DELETED),
        change("HOT-1", 3, name="Hôtel « Les Écluses »", private=private_block("clé")),
    ]


@pytest.mark.postgres
def test_every_implementation_holds_the_same_content_for_the_same_changes(
    sqlite_store: SqlStore, postgres_store: SqlStore
) -> None:
    changes = mixed_history()
    memory = InMemoryStore()
    stores: list[RegionalStore] = [memory, sqlite_store, postgres_store]
    for store in stores:
        store.apply(changes, {(TOPIC, 0): len(changes)})

    offer_ids = ("HOT-1", "RES-2", "LOI-3")
    for store in stores:
        assert store.digest() == memory.digest()
        assert store.counts() == memory.counts()
        assert store.positions() == memory.positions()
        for offer_id in offer_ids:
            assert store.offer(offer_id) == memory.offer(offer_id)
            assert store.history(offer_id) == memory.history(offer_id)


@pytest.mark.postgres
def test_the_digest_does_not_depend_on_the_order_across_offers(
    sqlite_store: SqlStore, postgres_store: SqlStore
) -> None:
    changes = mixed_history()
    # A stable sort keeps each offer's own versions in order, as its partition would.
    regrouped = sorted(changes, key=lambda c: c.offer_id, reverse=True)
    assert regrouped != changes
    memory = InMemoryStore()
    memory.apply(changes, {})
    sqlite_store.apply(regrouped, {})
    for item in changes:  # one change per call, another interleaving
        postgres_store.apply([item], {})

    assert sqlite_store.digest() == memory.digest()
    assert postgres_store.digest() == memory.digest()


# ---------------------------------------------------------------- transactions


def test_a_constraint_violation_inside_apply_rolls_back_rows_and_positions(
    sql_store: SqlStore,
) -> None:
    sql_store.apply([change("HOT-1", 1)], {(TOPIC, 0): 1})
    # A history row that should not exist: writing version 2 of HOT-1 will collide with it.
    with sql_store.engine.begin() as conn:
        conn.execute(
            insert(offer_versions).values(
                offer_id="HOT-1",
                version=2,
                event_id="intruder",
                contributor="nobody",
                source_version=2,
                changed_groups="[]",
                occurred_at=T0,
                status="active",
            )
        )

    with pytest.raises(IntegrityError):
        sql_store.apply([change("LOI-2", 1), change("HOT-1", 2)], {(TOPIC, 0): 3, (TOPIC, 1): 1})

    assert sql_store.positions() == {(TOPIC, 0): 1}
    assert sql_store.offer("LOI-2") is None
    stored = sql_store.offer("HOT-1")
    assert stored is not None
    assert stored.version == 1


def test_foreign_keys_are_enforced(sql_store: SqlStore) -> None:
    with pytest.raises(IntegrityError), sql_store.engine.begin() as conn:
        conn.execute(insert(offer_private).values(offer_id="NO-SUCH-OFFER", private_json="{}"))


def test_the_sqlite_store_journals_in_wal_mode(sqlite_store: SqlStore) -> None:
    with sqlite_store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


async def test_the_store_is_used_from_worker_threads(sql_store: SqlStore) -> None:
    await asyncio.to_thread(sql_store.apply, [change("HOT-1", 1)], {(TOPIC, 0): 1})

    stored = await asyncio.to_thread(sql_store.offer, "HOT-1")
    positions = await asyncio.to_thread(sql_store.positions)

    assert stored is not None
    assert positions == {(TOPIC, 0): 1}


# ---------------------------------------------------------------- privacy, table by table


def _texts_outside(store: SqlStore, private_table: str) -> str:
    """Every value of every store table except `private_table`, as one text."""
    values: list[str] = []
    with store.engine.connect() as conn:
        for table in TABLES:
            if table.name != private_table:
                values.extend(str(v) for row in conn.execute(select(table)) for v in row)
    return "\n".join(values)


def test_the_private_block_is_written_only_to_its_own_table(sql_store: SqlStore) -> None:
    sql_store.apply([change("HOT-1", 1, private=private_block("code portail 4711"))], {})

    assert "code portail 4711" not in _texts_outside(sql_store, offer_private.name)
    with sql_store.engine.connect() as conn:
        public_json = conn.execute(select(offers.c.public_json)).scalar_one()
        private_json = conn.execute(select(offer_private.c.private_json)).scalar_one()
    assert "private" not in public_json
    assert "code portail 4711" in private_json


def test_customer_data_is_written_only_to_its_own_table(sql_store: SqlStore) -> None:
    sql_store.apply([change("HOT-1", 1)], {})
    record = customer("form:1")

    sql_store.record_customer_data([record], {})

    outside = _texts_outside(sql_store, customer_data.name)
    assert record.email is not None
    assert record.full_name is not None
    assert record.email not in outside
    assert record.full_name not in outside
    assert sql_store.customer_data() == [record]


# ---------------------------------------------------------------- migrations


def _schema_differences(store: SqlStore) -> list[object]:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences: list[object] = compare_metadata(context, metadata)
        return differences


def test_the_migrated_schema_matches_the_metadata(sql_store: SqlStore) -> None:
    assert _schema_differences(sql_store) == []


def test_the_schema_is_created_only_by_migrations(tmp_path: Path) -> None:
    with SqlStore(f"sqlite:///{tmp_path / 'new.db'}") as store:
        assert inspect(store.engine).get_table_names() == []

        store.migrate()
        store.migrate()  # a second run finds nothing to do

        assert set(inspect(store.engine).get_table_names()) == {
            "alembic_version",
            *(table.name for table in TABLES),
        }


def test_migrations_go_down_to_nothing_and_up_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cycle.db'}"
    upgrade(url)

    downgrade(url, "base")
    with SqlStore(url) as store:
        assert inspect(store.engine).get_table_names() == ["alembic_version"]

    upgrade(url)
    with SqlStore(url) as store:
        assert _schema_differences(store) == []


def test_a_postgresql_url_without_a_driver_means_psycopg() -> None:
    assert normalise_url("postgresql://hub@db.example/sitn").drivername == "postgresql+psycopg"
    assert normalise_url("postgresql+psycopg://hub@db/sitn").drivername == "postgresql+psycopg"
    assert normalise_url("sqlite:///store.db").drivername == "sqlite"
