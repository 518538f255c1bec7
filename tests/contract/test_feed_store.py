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
from sqlalchemy import insert, select, text

from consumers.feeds import (
    FeedEntry,
    FeedStore,
    InMemoryFeedStore,
    SqlFeedStore,
    hash_key,
    key_id,
    new_key,
)
from consumers.feeds.cursor import START, FeedCursor
from consumers.feeds.keys import is_key_hash
from consumers.webhooks import SqlWebhookStore
from hub.store import SqlStore, StoredRejection, downgrade, upgrade
from hub.store.schema import TABLES, api_keys, feed_entries, feed_heads
from hub.topics import offer_partition
from tests.contract.feed_contract import FeedStoreContract
from tests.support.diffusion_changes import DIFFUSER, cursor_at, offer_ids, upsert
from tests.support.regional_changes import T0


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


def test_writers_of_different_partitions_each_keep_a_gapless_sequence_and_a_follower_misses_none(
    sql_feeds: SqlFeedStore,
) -> None:
    partitions = (0, 3, 5)
    done = threading.Event()

    def write(partition: int) -> None:  # as one diffusion instance per partition does
        for offer in offer_ids(partition, "W", 20):
            sql_feeds.append([upsert(offer, 1), upsert(offer, 2)], {})

    followed: list[FeedEntry] = []

    def follow() -> None:  # a reader paging from its cursor while the writers go on
        cursor = START
        while True:
            finished = done.is_set()
            page = sql_feeds.changes(DIFFUSER, after=cursor, limit=7)
            followed.extend(page)
            cursor = cursor.past(page)
            if finished and not page:
                return

    writers = [threading.Thread(target=write, args=(p,)) for p in partitions]
    reader = threading.Thread(target=follow)
    for thread in [*writers, reader]:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    reader.join()

    for p in partitions:
        assert [e.seq for e in followed if e.partition == p] == list(range(1, 41))
    assert len(followed) == 120
    assert sql_feeds.head(DIFFUSER) == cursor_at(p0=40, p3=40, p5=40)


@pytest.mark.postgres
def test_an_append_waits_for_no_writer_of_another_partition_and_a_late_commit_is_not_skipped(
    postgres_feeds: SqlFeedStore,
) -> None:
    (late,) = offer_ids(0, "HOT", 1)
    early = offer_ids(3, "RES", 2)
    with postgres_feeds.engine.connect() as other:
        # Another writer, half way through an append on partition 0: its entry numbered, its
        # partition's head row locked, not committed.
        with other.begin():
            other.execute(insert(feed_heads).values(diffuser_id=DIFFUSER, partition=0, seq=1))
            other.execute(
                insert(feed_entries).values(
                    diffuser_id=DIFFUSER,
                    partition=0,
                    seq=1,
                    offer_id=late,
                    version=1,
                    kind="removal",
                    reason="withdrawn",
                    offer_type=None,
                    view_json=None,
                    occurred_at=T0,
                )
            )
            stored = postgres_feeds.append([upsert(offer, 1) for offer in early], {})
            assert [e.change.offer_id for e in stored] == early  # it did not wait
            seen = postgres_feeds.changes(DIFFUSER)
            assert [e.change.offer_id for e in seen] == early
            cursor = START.past(seen)
        later = postgres_feeds.changes(DIFFUSER, after=cursor)
    assert [(e.partition, e.seq, e.change.offer_id) for e in later] == [(0, 1, late)]


def test_the_key_table_holds_hashes_only(sql_feeds: SqlFeedStore) -> None:
    key = "a key that must never be written down"
    sql_feeds.set_key("diffuser", DIFFUSER, hash_key(key), at=T0)

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


def test_keys_made_before_revocation_existed_stay_in_force_after_migrating(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0006")
    with SqlStore(url) as store, store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO api_keys (key_hash, owner_kind, owner_id) VALUES (:h, 'diffuser', :d)"
            ),
            {"h": hash_key("an old key"), "d": DIFFUSER},
        )

    upgrade(url)

    with SqlFeedStore(url) as feeds:
        assert feeds.owner_of(hash_key("an old key")) == ("diffuser", DIFFUSER)
        stored = feeds.key(hash_key("an old key"))
    assert stored is not None
    assert (stored.created_at, stored.revoked_at) == (None, None)


def test_going_down_past_revocation_deletes_the_revoked_keys_so_none_works_again(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'cycle.db'}"
    upgrade(url)
    with SqlFeedStore(url) as feeds:
        feeds.set_key("diffuser", DIFFUSER, hash_key("kept"), at=T0)
        feeds.set_key("diffuser", DIFFUSER, hash_key("replaced"), at=T0)
        feeds.revoke_key(key_id(hash_key("replaced")), at=T0)

    downgrade(url, "0006")

    with SqlStore(url) as store, store.engine.connect() as conn:
        hashes = {row[0] for row in conn.execute(text("SELECT key_hash FROM api_keys"))}
    assert hashes == {hash_key("kept")}
    upgrade(url)


def test_new_keys_are_random_url_safe_and_hash_to_what_set_key_accepts() -> None:
    keys = {new_key() for _ in range(50)}

    assert len(keys) == 50
    assert all(len(key) == 43 and key.replace("-", "").replace("_", "").isalnum() for key in keys)
    assert all(is_key_hash(hash_key(key)) for key in keys)
    assert not any(is_key_hash(key) for key in keys)
    assert hash_key("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_a_feed_numbered_before_partitions_is_followed_from_its_old_cursors_after_migrating(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0004")
    offers = [f"HOT-{n}" for n in range(1, 7)]  # on partitions 5, 4, 1, 0, ...
    with SqlStore(url) as store, store.engine.begin() as conn:
        for seq, offer in enumerate(offers, start=1):  # one count per feed, as 0004 kept them
            conn.execute(
                text(
                    "INSERT INTO feed_entries (diffuser_id, seq, offer_id, version, kind, reason,"
                    " offer_type, view_json, occurred_at) VALUES (:d, :s, :o, 1, 'removal',"
                    " 'withdrawn', NULL, NULL, :t)"
                ),
                {"d": DIFFUSER, "s": seq, "o": offer, "t": T0},
            )
            conn.execute(
                text(
                    "INSERT INTO feed_offers (diffuser_id, offer_id, seq, version, occurred_at,"
                    " kind) VALUES (:d, :o, :s, 1, :t, 'removal')"
                ),
                {"d": DIFFUSER, "s": seq, "o": offer, "t": T0},
            )
        conn.execute(
            text(
                "INSERT INTO webhooks (diffuser_id, url, secret, delivered_seq, state, failures)"
                " VALUES (:d, 'https://recv.example/', 's', 4, 'active', 0)"
            ),
            {"d": DIFFUSER},
        )

    upgrade(url)

    with SqlFeedStore(url) as feeds, SqlWebhookStore(url) as hooks:
        old_reader = FeedCursor.parse("4")  # it had read the first four entries
        unread = feeds.changes(DIFFUSER, after=old_reader)
        assert sorted(e.change.offer_id for e in unread) == offers[4:]
        assert sorted((e.change.offer_id, e.partition) for e in feeds.changes(DIFFUSER)) == [
            (o, offer_partition(o)) for o in offers
        ]
        assert feeds.head(DIFFUSER) == FeedCursor.at(6)
        feeds.append([upsert("LOI-3", 1)], {})  # partition 3 goes on from the feed's last number
        assert feeds.head(DIFFUSER) == FeedCursor.at(6).past([FeedEntry(7, upsert("LOI-3", 1))])
        hook = hooks.webhook(DIFFUSER)
        assert hook is not None
        assert hook.delivered == old_reader
        assert sorted(e.change.offer_id for e in feeds.changes(DIFFUSER, after=hook.delivered)) == [
            *offers[4:],
            "LOI-3",
        ]
    downgrade(url, "0004")  # and back: one count per feed again
    with SqlStore(url) as store, store.engine.connect() as conn:
        seqs = conn.execute(text("SELECT seq FROM feed_entries ORDER BY seq")).scalars().all()
        delivered = conn.execute(text("SELECT delivered_seq FROM webhooks")).scalar_one()
    assert (seqs, delivered) == (list(range(1, 8)), 4)
