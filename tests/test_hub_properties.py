"""Properties of the collection path under Kafka's delivery: redelivery, interleaving, crashes.

The real pipeline runs in-process (`tests.hub_pipeline`): encoded contributions on
`sitn.contrib.<org>` topics → `CollectionProcessor.process` → the regional changes and rejections
it emits, decoded → the regional store → `digest()`. Kafka delivers at least once, in order per
topic-partition only, and the hub may stop anywhere; whatever the delivery, the regional history,
the store and the contributors' feedback come out as if each record had been processed once, in
order (DESIGN §4 rule 5, §6). The reference is the demo stream processed once by one processor.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.collection_processor import Outbound
from hub.core.contribution import OfferDeleted
from hub.store import InMemoryStore, RegionalStore, SqlStore, StoredRejection
from hub.topics import REGIONAL_CHANGES, REJECTIONS
from tests.hub_pipeline import (
    OutputLog,
    demo_contributions,
    demo_records,
    fingerprint,
    memory_store_of,
    new_processor,
    project,
    reference_digest,
    reference_run,
    regional_changes,
    run,
)

PROPERTY = settings(max_examples=25, deadline=None)
# At most this many records processed but not yet committed when the hub stops: a commit interval.
UNCOMMITTED = 40
UNCOMMITTED_PER_PARTITION = 10
REPO = Path(__file__).resolve().parent.parent


def changes_in(outputs: Sequence[Outbound]) -> list[Outbound]:
    return [out for out in outputs if out.topic == REGIONAL_CHANGES]


def all_rejections(store: RegionalStore) -> set[StoredRejection]:
    """The contributors' feedback feed, whole."""
    return set(store.rejections(limit=10_000))


@functools.cache
def reference_rejections() -> frozenset[StoredRejection]:
    return frozenset(all_rejections(memory_store_of(reference_run().log)))


def assert_same_store_as_the_reference(log: OutputLog) -> None:
    store = memory_store_of(log)
    assert store.digest() == reference_digest()
    assert all_rejections(store) == reference_rejections()


def refused_records() -> list[int]:
    """The records refused in whole or in part: those whose replay must re-emit or stay silent."""
    return [
        i
        for i, outputs in enumerate(reference_run().outputs)
        if any(out.topic == REJECTIONS for out in outputs)
    ]


# ---------------------------------------------------------------- the stream itself


def test_the_demo_stream_is_accepted_refused_and_partly_accepted_on_many_topics() -> None:
    tally = reference_run().tally
    assert tally.accepted > 100
    assert tally.partially_rejected > 0
    assert tally.rejected > 0
    assert tally.no_effect == tally.dead_lettered == 0
    rules = {rule.split(".")[0] for r in reference_rejections() for rule in r.rule_ids}
    assert rules >= {"principle", "convention", "charte", "crt_exception"}
    assert any(isinstance(c.payload, OfferDeleted) for c in demo_contributions())
    records = demo_records()
    assert len({r.topic for r in records}) > 5
    assert len({r.partition for r in records}) > 3
    contributors: dict[str, set[str]] = {}
    for c in demo_contributions():
        contributors.setdefault(c.offer_id, set()).add(c.contributor)
    assert any(len(orgs) > 1 for orgs in contributors.values())


def test_a_partial_acceptance_emits_its_rejection_before_its_change() -> None:
    partial = [out for out in reference_run().outputs if len(out) > 1]
    assert partial
    assert all([o.topic for o in out] == [REJECTIONS, REGIONAL_CHANGES] for out in partial)


# ---------------------------------------------------------------- redelivery


def test_a_record_delivered_twice_in_a_row_is_judged_the_same_and_changes_nothing() -> None:
    records = demo_records()
    reference = reference_run()
    twice = run(record for record in records for _ in range(2))
    for i in range(len(records)):
        first, again = twice.outputs[2 * i], twice.outputs[2 * i + 1]
        assert first == reference.outputs[i]
        if changes_in(first):
            assert again == ()  # NoEffect: its change is in the state already
        else:
            assert again == first  # still rejected, with the very same bytes
    assert twice.tally.no_effect == reference.tally.accepted + reference.tally.partially_rejected
    assert_same_store_as_the_reference(twice.log)


@st.composite
def redeliveries(draw: st.DrawFn) -> list[int]:
    """A delivery order (indices into the stream): every record once, in order, plus copies of
    some delivered again later, as after a crash (a suffix replayed) or at random."""
    n = len(demo_records())
    if draw(st.booleans()):
        processed = draw(st.integers(1, n))
        committed = processed - draw(st.integers(1, min(processed, UNCOMMITTED)))
        return [*range(processed), *range(committed, n)]
    copies = draw(
        st.lists(
            st.tuples(
                st.one_of(st.sampled_from(refused_records()), st.integers(0, n - 1)),
                st.integers(0, n),
            ),
            min_size=1,
            max_size=25,
        )
    )
    again_before: dict[int, list[int]] = {}
    for record, delay in copies:
        position = record + 1 + delay % (n - record)  # somewhere after its first delivery
        again_before.setdefault(position, []).append(record)
    return [j for i in range(n + 1) for j in [*again_before.get(i, ()), i] if j < n]


@PROPERTY
@given(redeliveries())
def test_redelivery_changes_neither_the_regional_history_nor_the_store(order: list[int]) -> None:
    """A record delivered again emits no change, and its rejection again or nothing if stale.
    (Rejections are not part of the rules' state: a refused contribution redelivered after its
    offer's deletion would get `offer.unknown` instead; the demo stream deletes no such offer.)"""
    records, reference = demo_records(), reference_run()
    redelivered = run(records[i] for i in order)
    seen: set[int] = set()
    for i, outputs in zip(order, redelivered.outputs, strict=True):
        if i not in seen:
            assert outputs == reference.outputs[i]
            seen.add(i)
        else:
            assert not changes_in(outputs)
            # Nothing (stale now), or the rejection it had, byte for byte.
            assert outputs in ((), reference.outputs[i])
    log = redelivered.log
    assert log.values(REGIONAL_CHANGES) == reference.log.values(REGIONAL_CHANGES)
    assert set(log.values(REJECTIONS)) == set(reference.log.values(REJECTIONS))
    assert_same_store_as_the_reference(log)


# ---------------------------------------------------------------- interleaving


@PROPERTY
@given(st.permutations([r.key for r in demo_records()]))
def test_offers_interleaved_in_any_order_give_the_same_history_and_store(
    turns: list[bytes | None],
) -> None:
    """Each offer's records stay in order (Kafka keys them by offer id); across offers, any
    merge: whose turn it is comes from `turns`."""
    records = demo_records()
    queues: dict[bytes | None, list[int]] = {}
    for i, record in enumerate(records):
        queues.setdefault(record.key, []).append(i)
    order = [queues[key].pop(0) for key in turns]
    interleaved = run(records[i] for i in order)
    reference = reference_run()
    for i, outputs in zip(order, interleaved.outputs, strict=True):
        assert outputs == reference.outputs[i]
    assert_same_store_as_the_reference(interleaved.log)


# ---------------------------------------------------------------- crash and restart


@dataclass(frozen=True)
class Crash:
    """The hub stops while producing the outputs of record `at`, `delivered` of them out; each
    topic-partition had committed the position `committed` gives (unlisted: nothing)."""

    at: int
    delivered: int
    committed: dict[tuple[str, int], int]


@st.composite
def crashes(draw: st.DrawFn) -> Crash:
    records, reference = demo_records(), reference_run()
    # Half the time, a record with several outputs: where a crash can fall between two of them.
    several = [i for i, outputs in enumerate(reference.outputs) if len(outputs) > 1]
    at = draw(st.one_of(st.sampled_from(several), st.integers(0, len(records))))
    delivered = draw(st.integers(0, len(reference.outputs[at]))) if at < len(records) else 0
    consumed = Counter((r.topic, r.partition) for r in records[:at])
    # Offsets are committed after the outcome is durable and only now and then: any recent
    # position of each topic-partition may be its last commit.
    committed = {
        tp: consumed[tp] - draw(st.integers(0, min(consumed[tp], UNCOMMITTED_PER_PARTITION)))
        for tp in sorted(consumed)
    }
    return Crash(at, delivered, committed)


@PROPERTY
@given(crashes())
def test_a_restarted_hub_replays_to_the_same_history_and_store_and_loses_no_output(
    crash: Crash,
) -> None:
    records, reference = demo_records(), reference_run()
    lost_with_crash = reference.outputs[crash.at] if crash.at < len(records) else ()
    log = OutputLog(out for outputs in reference.outputs[: crash.at] for out in outputs)
    log.append(lost_with_crash[: crash.delivered])

    restarted = new_processor()
    restarted.restore(regional_changes(log))
    replayed = [
        i
        for i, r in enumerate(records)
        if i >= crash.at or r.offset >= crash.committed.get((r.topic, r.partition), 0)
    ]
    after = run((records[i] for i in replayed), restarted, log)

    for i, outputs in zip(replayed, after.outputs, strict=True):
        if i < crash.at:  # processed and delivered before the crash
            assert not changes_in(outputs)
            assert outputs in ((), reference.outputs[i])
        elif i == crash.at:
            if crash.delivered == 0:  # between decide and produce: the same outputs again
                assert outputs == reference.outputs[i]
            # Whatever was out before the crash and what the replay emits: nothing missing.
            out_in_the_end = Counter([*lost_with_crash[: crash.delivered], *outputs])
            assert out_in_the_end >= Counter(reference.outputs[i])
        else:
            assert outputs == reference.outputs[i]
    assert log.values(REGIONAL_CHANGES) == reference.log.values(REGIONAL_CHANGES)
    assert_same_store_as_the_reference(log)


def test_a_crash_between_a_partial_rejection_and_its_change_replays_both() -> None:
    records, reference = demo_records(), reference_run()
    partial = [i for i, outputs in enumerate(reference.outputs) if len(outputs) > 1]
    assert partial
    for at in partial:
        log = OutputLog(out for outputs in reference.outputs[:at] for out in outputs)
        log.append(reference.outputs[at][:1])  # the rejection out, the change not
        restarted = new_processor()
        restarted.restore(regional_changes(log))
        assert tuple(restarted.process(records[at])) == reference.outputs[at]


# ---------------------------------------------------------------- determinism


def test_fresh_processors_turn_the_same_stream_into_the_same_bytes() -> None:
    again = run(demo_records())
    assert again.outputs == reference_run().outputs
    assert [r.value for r in again.log.records] == [r.value for r in reference_run().log.records]


def test_another_process_with_another_hash_seed_makes_the_same_bytes() -> None:
    """Set iteration order changes with the hash seed: only another process can show it."""
    seed = "1" if os.environ.get("PYTHONHASHSEED") != "1" else "2"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from tests.hub_pipeline import fingerprint; "
            "sys.stdout.write(fingerprint())",
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == fingerprint()


# ---------------------------------------------------------------- the SQL store


def test_the_sql_store_fed_by_the_pipeline_has_the_memory_store_digest(tmp_path: Path) -> None:
    reference = reference_run()
    with SqlStore(f"sqlite:///{tmp_path / 'store.db'}") as store:
        store.migrate()
        project(reference.log, store)
        project(reference.log, store)  # the projector's own redelivery changes nothing
        assert store.digest() == reference_digest()
        assert all_rejections(store) == reference_rejections()
        memory = memory_store_of(reference.log)
        assert store.counts() == memory.counts()
        assert store.positions() == memory.positions()


@pytest.mark.parametrize("batch_size", [1, 7, 1000])
def test_the_store_digest_does_not_depend_on_the_projector_batches(batch_size: int) -> None:
    store = InMemoryStore()
    project(reference_run().log, store, batch_size)
    assert store.digest() == reference_digest()
