"""Property: at-least-once delivery gives exactly-once effect, in memory and on SQLite.

Any redelivery of a history (records delivered again after a crash, in batches of any size)
leaves the store with the same digest and histories as delivering each record once, in order.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.core.regional import RegionalChange
from hub.store import InMemoryStore, RegionalStore, SqlStore
from tests.support.regional_changes import TOPIC, batches, histories, redeliveries

StoreFactory = Callable[[], AbstractContextManager[RegionalStore]]


@pytest.fixture(scope="module")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file each example copies, so no example pays for the migration."""
    path = tmp_path_factory.mktemp("store-template") / "store.db"
    with SqlStore(f"sqlite:///{path}") as store:
        store.migrate()
    return path


@contextmanager
def memory_store() -> Iterator[RegionalStore]:
    yield InMemoryStore()


def sqlite_factory(template: Path) -> StoreFactory:
    @contextmanager
    def sqlite_store() -> Iterator[RegionalStore]:
        with tempfile.TemporaryDirectory(prefix="sitn-store-") as folder:
            path = Path(folder) / "store.db"
            shutil.copyfile(template, path)
            with SqlStore(f"sqlite:///{path}") as store:
                yield store

    return sqlite_store


@pytest.fixture(scope="module", params=["memory", "sqlite"])
def new_store(request: pytest.FixtureRequest, migrated_sqlite_template: Path) -> StoreFactory:
    if request.param == "memory":
        return memory_store
    return sqlite_factory(migrated_sqlite_template)


def state_of(store: RegionalStore, changes: Sequence[RegionalChange]) -> tuple[object, ...]:
    offer_ids = sorted({c.offer_id for c in changes})
    return (
        store.digest(),
        [store.history(offer_id) for offer_id in offer_ids],
        [store.offer(offer_id) for offer_id in offer_ids],
    )


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_any_redelivery_gives_the_same_store_as_one_delivery_in_order(
    new_store: StoreFactory, data: st.DataObject
) -> None:
    changes = data.draw(histories(), label="history")
    delivered = data.draw(redeliveries(changes), label="delivered")
    polls = data.draw(batches(delivered), label="batches")

    with new_store() as once, new_store() as redelivered:
        once.apply(changes, {(TOPIC, 0): len(changes)})
        offset = 0
        for batch in polls:
            offset += len(batch)
            redelivered.apply(batch, {(TOPIC, 0): offset})

        assert state_of(redelivered, changes) == state_of(once, changes)
