"""Resync of a diffuser (`consumers.resync`, `sitn diffusion resync`): its scope re-sent to its
feed.

The regional base and feed are those of tests/support/diffusion_scope.py (the Calvados site holds
HOT-1 and RES-2; LOI-3 was removed; HOT-4 is in Seine-Maritime). A "new convention" is a copy of the
shipped registry whose Calvados convention covers restaurants only. Stores run in memory, and on
SQLite for the command line and the comparison with memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from consumers.feeds import FeedStore, InMemoryFeedStore, SqlFeedStore
from consumers.feeds.cursor import START, FeedCursor
from consumers.resync import ResyncError, resync, resync_entry, state_of
from hub.cli import app
from hub.core.diffusion import DiffusionKind, DiffusionReason
from hub.core.diffusion_rules import Excluded, View, project
from hub.core.offer import OfferType
from hub.core.registry import Registry
from hub.registry.format import load_normandy_registry, registry_to_toml
from hub.store import InMemoryStore, RegionalStore, SqlStore
from tests.support.diffusion_changes import upsert
from tests.support.diffusion_scope import (
    DIFFUSER,
    ELSEWHERE,
    IN_SCOPE,
    WITHDRAWN,
    regional_history,
    seed,
)
from tests.support.regional_changes import T0

AT = datetime(2026, 6, 1, 8, 30, tzinfo=UTC)  # after every entry of the seeded feed
SHIPPED = Path(__file__).parents[2] / "hub" / "registry" / "normandy.toml"


def restaurants_only(registry: Registry) -> Registry:
    """The registry with the Calvados site's convention narrowed to restaurants (RES)."""
    return replace(
        registry,
        diffusion_conventions=tuple(
            replace(c, offer_types=(OfferType.RES,)) if c.diffuser == DIFFUSER else c
            for c in registry.diffusion_conventions
        ),
    )


@pytest.fixture
def registry() -> Registry:
    return load_normandy_registry()


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def feeds(store: InMemoryStore, registry: Registry) -> InMemoryFeedStore:
    feeds = InMemoryFeedStore()
    seed(store, feeds, registry)
    return feeds


def entries_after(feeds: FeedStore, cursor: FeedCursor) -> list[tuple[str, str, str, int]]:
    """(offer, kind, reason, version) of the feed's entries after `cursor`, by offer (each
    offer's in its feed order; the feed interleaves its partitions)."""
    entries = [
        (e.change.offer_id, e.change.kind.value, e.change.reason.value, e.change.version)
        for e in feeds.changes(DIFFUSER, after=cursor, limit=1000)
    ]
    return sorted(entries, key=lambda entry: entry[0])


def in_feed(feeds: FeedStore) -> list[str]:
    return sorted(entry.change.offer_id for entry in feeds.snapshot(DIFFUSER))


# ---------------------------------------------------------------- the pure part


def test_an_offer_in_scope_is_sent_as_an_upsert_with_reason_resync_and_the_rules_view(
    store: InMemoryStore, registry: Registry
) -> None:
    store.apply(regional_history(), {})
    offer = store.offer("HOT-1")
    assert offer is not None
    diffuser = registry.diffusers[DIFFUSER]

    entry = resync_entry(state_of(offer, AT), diffuser, registry, AT, held=False)

    assert entry is not None
    projected = project(state_of(offer, AT), diffuser, registry, AT)
    assert isinstance(projected, View)
    assert (entry.kind, entry.reason, entry.version, entry.occurred_at) == (
        DiffusionKind.UPSERT,
        DiffusionReason.RESYNC,
        offer.version,
        AT,
    )
    assert (entry.offer_type, entry.view) == (projected.offer_type, projected.fields)


@pytest.mark.parametrize(("held", "kind"), [(True, DiffusionKind.REMOVAL), (False, None)])
def test_an_offer_out_of_scope_is_removed_only_if_the_feed_still_holds_it(
    store: InMemoryStore, registry: Registry, held: bool, kind: DiffusionKind | None
) -> None:
    store.apply(regional_history(), {})
    offer = store.offer(ELSEWHERE)
    assert offer is not None
    diffuser = registry.diffusers[DIFFUSER]

    entry = resync_entry(state_of(offer, AT), diffuser, registry, AT, held=held)

    assert (entry.kind if entry is not None else None) is kind
    if entry is not None:
        excluded = project(state_of(offer, AT), diffuser, registry, AT)
        assert isinstance(excluded, Excluded)
        assert entry.reason is excluded.reason is DiffusionReason.OUT_OF_TERRITORY
        assert (entry.view, entry.offer_type, entry.version) == (None, None, offer.version)


def test_the_state_judged_never_carries_the_private_block(store: InMemoryStore) -> None:
    store.apply(regional_history(), {})
    offer = store.offer("HOT-1")
    assert offer is not None
    assert offer.private is not None

    state = state_of(offer, AT)

    assert state.private is None
    assert (state.public, state.provenance, state.version) == (
        offer.public,
        offer.provenance,
        offer.version,
    )


# ---------------------------------------------------------------- resync of a feed


def test_a_resync_re_sends_every_offer_in_scope_even_unchanged(
    feeds: InMemoryFeedStore, store: InMemoryStore, registry: Registry
) -> None:
    before = feeds.head(DIFFUSER)
    views = {e.change.offer_id: e.change.view for e in feeds.snapshot(DIFFUSER)}

    summary = resync(feeds, store, registry, DIFFUSER, AT)

    assert (summary.upserts, summary.removals, summary.unknown) == (len(IN_SCOPE), 0, ())
    assert entries_after(feeds, before) == [
        (offer_id, "upsert", "resync", 1) for offer_id in sorted(IN_SCOPE)
    ]
    assert (summary.cursor_before, summary.cursor_after) == (before, feeds.head(DIFFUSER))
    resent = feeds.changes(DIFFUSER, after=before, limit=1000)
    assert {e.change.offer_id: e.change.view for e in resent} == views
    assert {e.change.occurred_at for e in resent} == {AT}


def test_a_resync_removes_the_offers_a_new_convention_no_longer_covers(
    feeds: InMemoryFeedStore, store: InMemoryStore, registry: Registry
) -> None:
    before = feeds.head(DIFFUSER)

    summary = resync(feeds, store, restaurants_only(registry), DIFFUSER, AT)

    assert (summary.upserts, summary.removals) == (1, 1)
    assert entries_after(feeds, before) == [
        ("HOT-1", "removal", "out_of_territory", 1),
        ("RES-2", "upsert", "resync", 1),
    ]
    assert in_feed(feeds) == ["RES-2"]


def test_a_second_resync_at_the_same_time_adds_nothing(
    feeds: InMemoryFeedStore, store: InMemoryStore, registry: Registry
) -> None:
    narrowed = restaurants_only(registry)
    resync(feeds, store, narrowed, DIFFUSER, AT)
    head = feeds.head(DIFFUSER)

    again = resync(feeds, store, narrowed, DIFFUSER, AT)

    assert feeds.head(DIFFUSER) == head
    assert again.appended == 0
    assert again.removals == 0  # HOT-1 is no longer held: nothing left to remove


def test_a_resync_at_a_time_before_what_the_feed_shows_never_moves_it_back(
    feeds: InMemoryFeedStore, store: InMemoryStore, registry: Registry
) -> None:
    head = feeds.head(DIFFUSER)

    summary = resync(feeds, store, restaurants_only(registry), DIFFUSER, T0 - timedelta(days=1))

    assert summary.appended == 0
    assert feeds.head(DIFFUSER) == head
    assert in_feed(feeds) == sorted(IN_SCOPE)


def test_a_new_diffuser_is_onboarded_with_its_whole_scope(
    store: InMemoryStore, registry: Registry
) -> None:
    store.apply(regional_history(), {})
    empty = InMemoryFeedStore()

    summary = resync(empty, store, registry, DIFFUSER, AT)

    assert (summary.cursor_before, summary.removals) == (START, 0)
    assert in_feed(empty) == sorted(IN_SCOPE)
    assert WITHDRAWN not in {e.change.offer_id for e in empty.changes(DIFFUSER)}


@pytest.mark.parametrize("batch", [1, 2, 500])
def test_the_outcome_does_not_depend_on_the_page_size(
    store: InMemoryStore, registry: Registry, batch: int
) -> None:
    store.apply(regional_history(), {})
    reference, paged = InMemoryFeedStore(), InMemoryFeedStore()

    resync(reference, store, registry, DIFFUSER, AT, batch=500)
    resync(paged, store, registry, DIFFUSER, AT, batch=batch)

    assert paged.changes(DIFFUSER, limit=1000) == reference.changes(DIFFUSER, limit=1000)


def test_an_offer_the_store_does_not_know_is_left_in_the_feed_and_reported(
    feeds: InMemoryFeedStore, store: InMemoryStore, registry: Registry
) -> None:
    feeds.append([upsert("GHOST-9", 3, diffuser=DIFFUSER)], {})

    summary = resync(feeds, store, registry, DIFFUSER, AT)

    assert summary.unknown == ("GHOST-9",)
    assert "GHOST-9" in in_feed(feeds)


def test_a_resync_of_a_diffuser_missing_from_the_registry_is_refused_with_the_known_ones(
    feeds: InMemoryFeedStore, store: InMemoryStore, registry: Registry
) -> None:
    head = feeds.head(DIFFUSER)

    with pytest.raises(ResyncError, match=r"diffuser 'site-cdt-calvdos' is not in .*ideoguide"):
        resync(feeds, store, registry, "site-cdt-calvdos", AT)

    assert feeds.head(DIFFUSER) == head


def test_a_resync_time_without_offset_is_refused(
    feeds: InMemoryFeedStore, store: InMemoryStore, registry: Registry
) -> None:
    with pytest.raises(ResyncError, match=r"2026-06-01T08:30:00 has no UTC offset"):
        resync(feeds, store, registry, DIFFUSER, AT.replace(tzinfo=None))


def test_progress_counts_every_regional_offer_judged(
    feeds: InMemoryFeedStore, store: InMemoryStore, registry: Registry
) -> None:
    reported: list[int] = []

    resync(feeds, store, registry, DIFFUSER, AT, batch=2, progress=reported.append)

    assert sum(reported) == sum(store.counts().values())
    assert all(n <= 2 for n in reported)


# ---------------------------------------------------------------- SQLite and the command line


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"SITN_HOME": str(tmp_path), "SITN_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}"}


@pytest.fixture
def sqlite_stores(
    env: dict[str, str], registry: Registry
) -> Iterator[tuple[SqlStore, SqlFeedStore]]:
    url = env["SITN_DATABASE_URL"]
    with SqlStore(url) as store, SqlFeedStore(url) as feeds:
        store.migrate()
        seed(store, feeds, registry)
        yield store, feeds


@pytest.fixture
def sqlite_store(sqlite_stores: tuple[SqlStore, SqlFeedStore]) -> RegionalStore:
    return sqlite_stores[0]


@pytest.fixture
def sqlite_feeds(sqlite_stores: tuple[SqlStore, SqlFeedStore]) -> FeedStore:
    return sqlite_stores[1]


def test_a_resync_on_sqlite_writes_the_same_feed_as_in_memory(
    sqlite_store: RegionalStore,
    sqlite_feeds: FeedStore,
    feeds: InMemoryFeedStore,
    store: InMemoryStore,
    registry: Registry,
) -> None:
    narrowed = restaurants_only(registry)

    on_sqlite = resync(sqlite_feeds, sqlite_store, narrowed, DIFFUSER, AT)
    in_memory = resync(feeds, store, narrowed, DIFFUSER, AT)

    assert on_sqlite == in_memory
    assert sqlite_feeds.changes(DIFFUSER, limit=1000) == feeds.changes(DIFFUSER, limit=1000)


def resync_command(env: dict[str, str], *options: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["diffusion", "resync", *options], env=env)
    return result.exit_code, result.stdout, result.stderr


def test_the_resync_command_re_sends_the_scope_and_is_idempotent_at_the_same_time(
    sqlite_feeds: FeedStore, env: dict[str, str]
) -> None:
    before = sqlite_feeds.head(DIFFUSER)
    options = (DIFFUSER, "--at", AT.isoformat(), "--registry", str(SHIPPED))

    code, stdout, stderr = resync_command(env, *options)

    assert code == 0, stderr
    assert f"{len(IN_SCOPE)} upserts, 0 removals" in stdout
    assert f"took {len(IN_SCOPE)} new entries" in stdout
    assert entries_after(sqlite_feeds, before) == [
        (offer_id, "upsert", "resync", 1) for offer_id in sorted(IN_SCOPE)
    ]

    code, stdout, stderr = resync_command(env, *options)

    assert code == 0, stderr
    assert "took 0 new entries" in stdout
    assert before.behind(sqlite_feeds.head(DIFFUSER)) == len(IN_SCOPE)


def test_the_resync_command_removes_what_a_changed_registry_file_no_longer_covers(
    sqlite_feeds: FeedStore, env: dict[str, str], registry: Registry, tmp_path: Path
) -> None:
    changed = tmp_path / "registry.toml"
    changed.write_text(registry_to_toml(restaurants_only(registry)), encoding="utf-8")

    code, stdout, stderr = resync_command(
        env, DIFFUSER, "--at", "2026-06-01T10:30:00+02:00", "--registry", str(changed)
    )

    assert code == 0, stderr
    assert "1 upserts, 1 removals" in stdout
    assert in_feed(sqlite_feeds) == ["RES-2"]
    removal = [
        e for e in sqlite_feeds.changes(DIFFUSER, limit=1000) if e.change.offer_id == "HOT-1"
    ]
    assert removal[-1].change.reason is DiffusionReason.OUT_OF_TERRITORY
    assert removal[-1].change.occurred_at == AT


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--at", "le 1er juin"], "--at 'le 1er juin' is not an ISO-8601 time"),
        ([], "diffuser 'site-cdt-calvdos' is not in the registry in force"),
    ],
)
def test_the_resync_command_refuses_bad_input_naming_it(
    sqlite_feeds: FeedStore, env: dict[str, str], options: list[str], message: str
) -> None:
    head = sqlite_feeds.head(DIFFUSER)
    diffuser = DIFFUSER if options else "site-cdt-calvdos"

    code, _, stderr = resync_command(env, diffuser, *options, "--registry", str(SHIPPED))

    assert code == 2
    assert message in stderr
    assert sqlite_feeds.head(DIFFUSER) == head


def test_the_resync_command_refuses_a_registry_file_with_problems(
    env: dict[str, str], tmp_path: Path
) -> None:
    broken = tmp_path / "registry.toml"
    broken.write_text('[[diffuser]]\nid = "x"\n', encoding="utf-8")

    code, _, stderr = resync_command(env, DIFFUSER, "--registry", str(broken))

    assert code == 2
    assert f"sitn registry check {broken}" in stderr
