"""A restore pauses the cyclic garbage collector and freezes what it built."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from hub.garbage_collector import collector_paused


@pytest.fixture(autouse=True)
def collector_back_to_normal() -> Iterator[None]:
    yield
    gc.enable()
    gc.unfreeze()


def test_the_collector_is_paused_during_a_restore_and_back_after_it() -> None:
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_overlapping_restores_pause_the_collector_until_the_last_one_ends() -> None:
    with collector_paused():
        with collector_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_what_a_restore_built_is_frozen_out_of_later_collections() -> None:
    frozen_before = gc.get_freeze_count()
    with collector_paused():
        built = [{"offer": n} for n in range(1_000)]
    assert gc.get_freeze_count() >= frozen_before + len(built)


def test_a_collector_disabled_before_a_restore_stays_disabled_after_it() -> None:
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_cyclic_garbage_made_during_a_restore_is_freed_not_frozen() -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self

    with collector_paused():
        Node()  # a cycle: only the collector frees it
    assert not any(isinstance(o, Node) for o in gc.get_objects())


def test_a_failing_restore_gives_the_collector_back() -> None:
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("the broker went away")
    assert gc.isenabled()
