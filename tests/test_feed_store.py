"""The feed store contract on every implementation, and what only the SQL store shows.

The contract runs in memory, on a fresh SQLite file per test and on the session's PostgreSQL
database (migrated once, tables emptied before each test; those tests are marked `postgres`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from hub.feeds import FeedStore, InMemoryFeedStore, SqlFeedStore, hash_key, new_key
from hub.feeds.keys import is_key_hash
from hub.store import SqlStore, StoredRejection, downgrade, upgrade
from hub.store.schema import TABLES, api_keys
from tests.diffusion_changes import DIFFUSER, upsert
from tests.feed_contract import FeedStoreContract
from tests.regional_changes import T0


@pytest.fixture(scope="session")
def migrated_postgres_url(postgres_url: str) -> str:
    upgrade(postgres_url)
    return postgres_url


@pytest.fixture
def sqlite_feeds(tmp_path: Path) -> Iterator[SqlFeedStore]:
    feeds = SqlFeedStore(f"sqlite:///{tmp_path / 'store.db'}")
    feeds.migrate()
    yield feeds
    feeds.close()


@pytest.fixture
def postgres_feeds(migrated_postgres_url: str) -> Iterator[SqlFeedStore]:
    feeds = SqlFeedStore(migrated_postgres_url)
    names = ", ".join(table.name for table in TABLES)
    with feeds.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE TABLE {names}"))
    yield feeds
    feeds.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def sql_feeds(request: pytest.FixtureRequest) -> SqlFeedStore:
    fixture = "sqlite_feeds" if request.param == "sqlite" else "postgres_feeds"
    feeds: SqlFeedStore = request.getfixturevalue(fixture)
    return feeds


class TestInMemoryFeedStore(FeedStoreContract):
    @pytest.fixture
    def feeds(self) -> FeedStore:
        return InMemoryFeedStore()


class TestSqlFeedStoreOnSqlite(FeedStoreContract):
    @pytest.fixture
    def feeds(self, sqlite_feeds: SqlFeedStore) -> FeedStore:
        return sqlite_feeds


@pytest.mark.postgres
class TestSqlFeedStoreOnPostgres(FeedStoreContract):
    @pytest.fixture
    def feeds(self, postgres_feeds: SqlFeedStore) -> FeedStore:
        return postgres_feeds


def test_writers_in_parallel_get_one_gapless_sequence(sql_feeds: SqlFeedStore) -> None:
    def write(worker: int) -> None:
        for n in range(20):
            sql_feeds.append([upsert(f"W{worker}-{n}", 1), upsert(f"W{worker}-{n}", 2)], {})

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    seqs = [entry.seq for entry in sql_feeds.changes(DIFFUSER, limit=1000)]
    assert seqs == list(range(1, 121))


def test_the_key_table_holds_hashes_only(sql_feeds: SqlFeedStore) -> None:
    key = "a key that must never be written down"
    sql_feeds.set_key("diffuser", DIFFUSER, hash_key(key))

    with sql_feeds.engine.connect() as conn:
        values = [str(v) for row in conn.execute(select(api_keys)) for v in row]

    assert key not in "\n".join(values)
    assert hash_key(key) in values


def _rejection(event_id: str, minutes: int) -> StoredRejection:
    return StoredRejection(
        event_id=event_id,
        contributor="ot-caen",
        offer_id="HOT-1",
        occurred_at=T0 + timedelta(minutes=minutes),
        rule_ids=("convention",),
        message="no convention covers the prices group",
        field_groups=(),
    )


def test_migrating_numbers_the_rejections_already_stored_oldest_first(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0001")
    with SqlStore(url) as store, store.engine.begin() as conn:
        for event_id, minutes in (("e-late", 9), ("e-early", 1), ("e-middle", 5)):
            row = _rejection(event_id, minutes)
            conn.execute(
                text(
                    "INSERT INTO rejections (event_id, rule_ids, contributor, offer_id, "
                    "occurred_at, message, field_groups) VALUES (:e, '[\"convention\"]', "
                    "'ot-caen', 'HOT-1', :at, 'm', '[]')"
                ),
                {"e": row.event_id, "at": row.occurred_at.replace(tzinfo=None)},
            )

    upgrade(url)

    with SqlStore(url) as store:
        numbered = [(r.seq, r.rejection.event_id) for r in store.rejections_after("ot-caen")]
        store.record_rejections([_rejection("e-new", 0)], {})
        after = [(r.seq, r.rejection.event_id) for r in store.rejections_after("ot-caen", 3)]
    assert numbered == [(1, "e-early"), (2, "e-middle"), (3, "e-late")]
    assert after == [(4, "e-new")]


def test_the_feed_tables_go_down_with_their_migration(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cycle.db'}"
    upgrade(url)
    downgrade(url, "0001")
    with SqlStore(url) as store, store.engine.connect() as conn:
        names = {row[0] for row in conn.execute(text("SELECT name FROM sqlite_master"))}
        columns = {row[1] for row in conn.execute(text("PRAGMA table_info(rejections)"))}
    assert not names & {"feed_entries", "feed_offers", "feed_positions", "api_keys"}
    assert "seq" not in columns
    upgrade(url)


def test_new_keys_are_random_url_safe_and_hash_to_what_set_key_accepts() -> None:
    keys = {new_key() for _ in range(50)}

    assert len(keys) == 50
    assert all(len(key) == 43 and key.replace("-", "").replace("_", "").isalnum() for key in keys)
    assert all(is_key_hash(hash_key(key)) for key in keys)
    assert not any(is_key_hash(key) for key in keys)
    assert hash_key("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
