"""Properties of the collection path under Kafka's delivery: redelivery, interleaving, crashes.

The real pipeline runs in-process (`tests.support.hub_pipeline`): encoded contributions on
`sitn.contrib.<org>` topics → `CollectionProcessor.process` → the regional changes, rejections and
ledger records it emits, decoded → the regional store → `digest()`. Kafka delivers in order per
topic-partition only; the collection stage commits a batch's outputs, its ledger records and its
offsets in one transaction, so a crash or an aborted batch leaves nothing of that batch anywhere and
a restart resumes from the ledger and the offsets committed with it. Whatever the delivery, the
regional history, the store and the contributors' feedback come out as if each record had been
processed once, in order (docs/architecture.md, "Guarantees"). The reference is the demo stream
processed once by one processor.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.collection_processor import CollectionProcessor
from hub.core.contribution import FieldGroupsChanged, OfferDeleted
from hub.core.diffusion_rules import boundary_facts
from hub.reference import load_normandy_territory
from hub.registry.format import load_normandy_registry
from hub.store import InMemoryStore, RegionalStore, SqlStore, StoredRejection
from hub.topics import COLLECTION_BOUNDARIES, COLLECTION_STATE, REGIONAL_CHANGES, REJECTIONS
from hub.wire import (
    decode_boundary_facts,
    decode_offer_entry,
    decode_regional_change,
    decode_rejection,
)
from tests.support.hub_pipeline import (
    OutputLog,
    contribution_log,
    demo_contributions,
    demo_records,
    fingerprint,
    memory_store_of,
    new_processor,
    project,
    reference_digest,
    reference_run,
    restored_processor,
    run,
    visible,
)
from tests.unit.test_collection_rules import contribution, offer_fields

PROPERTY = settings(max_examples=25, deadline=None)
# At most this many records in the batch a crash or an abort undoes: a transaction's size.
UNCOMMITTED = 40
REPO = Path(__file__).resolve().parents[2]


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


def partly_accepted() -> list[int]:
    return [i for i, out in enumerate(reference_run().outputs) if len(visible(out)) > 1]


def test_a_partial_acceptance_emits_its_rejection_before_its_change() -> None:
    outputs = reference_run().outputs
    assert partly_accepted()
    for i in partly_accepted():
        topics = [o.topic for o in outputs[i]]
        assert topics == [REJECTIONS, REGIONAL_CHANGES, COLLECTION_BOUNDARIES, COLLECTION_STATE]


def test_every_verdict_that_changes_an_offers_ledger_emits_its_new_entry_last() -> None:
    for outputs in reference_run().outputs:
        changed = any(o.topic in (REGIONAL_CHANGES, REJECTIONS) for o in outputs)
        assert [o.topic for o in outputs].count(COLLECTION_STATE) == (1 if changed else 0)
        if changed:
            assert outputs[-1].topic == COLLECTION_STATE


def test_each_new_change_writes_its_boundary_facts_just_before_its_ledger_entry() -> None:
    for outputs in reference_run().outputs:
        topics = [o.topic for o in outputs]
        changes = [o for o in outputs if o.topic == REGIONAL_CHANGES]
        if not changes:
            assert COLLECTION_BOUNDARIES not in topics  # a rejection or a wait: facts unchanged
            continue
        facts, state = outputs[-2:]
        assert (facts.topic, state.topic) == (COLLECTION_BOUNDARIES, COLLECTION_STATE)
        assert facts.key == state.key == changes[-1].key
        latest = decode_regional_change(changes[-1].value)
        assert decode_offer_entry(state.value).latest == latest
        assert decode_boundary_facts(facts.value) == boundary_facts(latest)


def test_a_ledger_record_too_large_only_with_its_headers_is_refused_as_too_large() -> None:
    # A change to an offer not created yet waits: its entry's record carries the waiting header.
    early = contribution("ot-deauville", FieldGroupsChanged(offer_fields()))
    (record,) = contribution_log([early])
    state = next(o for o in new_processor().process(record) if o.topic == COLLECTION_STATE)
    assert state.size > len(state.value)
    strict = CollectionProcessor(
        load_normandy_registry(), load_normandy_territory(), max_record_bytes=state.size - 1
    )
    outputs = strict.process(record)
    assert [o.topic for o in outputs] == [REJECTIONS, COLLECTION_STATE]
    assert decode_rejection(outputs[0].value).rule_ids == ("offer.too_large",)


# ---------------------------------------------------------------- redelivery


def test_a_record_delivered_twice_in_a_row_is_judged_the_same_and_changes_nothing() -> None:
    records = demo_records()
    reference = reference_run()
    twice = run(record for record in records for _ in range(2))
    for i in range(len(records)):
        first, again = twice.outputs[2 * i], twice.outputs[2 * i + 1]
        assert first == reference.outputs[i]
        # NoEffect: an accepted change is in the state already, a rejection in the ledger.
        assert again == ()
    assert twice.tally.no_effect == len(records)
    assert_same_store_as_the_reference(twice.log)
    assert twice.log.records == reference.log.records


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
    """A record delivered again (a contributor's producer that retried and wrote it twice) emits
    nothing: no second change, no second rejection, no ledger record."""
    records, reference = demo_records(), reference_run()
    redelivered = run(records[i] for i in order)
    seen: set[int] = set()
    for i, outputs in zip(order, redelivered.outputs, strict=True):
        if i not in seen:
            assert outputs == reference.outputs[i]
            seen.add(i)
        else:
            assert outputs == ()
    assert redelivered.log.records == reference.log.records
    assert_same_store_as_the_reference(redelivered.log)


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
    """The stage stops while a transaction over records `committed`..`at` is open: the batches
    before `committed` are committed with their outputs, ledger records and offsets; the open one
    is aborted, so its outputs, however many were sent, are never read."""

    committed: int
    at: int


@st.composite
def crashes(draw: st.DrawFn) -> Crash:
    records, reference = demo_records(), reference_run()
    # Half the time, a record with several outputs: where a crash can fall between two of them.
    several = [i for i, outputs in enumerate(reference.outputs) if len(outputs) > 1]
    at = draw(st.one_of(st.sampled_from(several), st.integers(0, len(records))))
    committed = at - draw(st.integers(0, min(at, UNCOMMITTED)))
    return Crash(committed, at)


@PROPERTY
@given(crashes())
def test_a_restarted_stage_resumes_from_its_ledger_to_the_same_history_with_nothing_twice(
    crash: Crash,
) -> None:
    records, reference = demo_records(), reference_run()
    # What a read_committed consumer sees after the crash: the committed batches' outputs only.
    log = OutputLog(out for outputs in reference.outputs[: crash.committed] for out in outputs)

    restarted = restored_processor(log)
    after = run(records[crash.committed :], restarted, log)

    assert after.outputs == reference.outputs[crash.committed :]
    assert log.records == reference.log.records
    assert_same_store_as_the_reference(log)


@PROPERTY
@given(crashes())
def test_an_aborted_batch_is_rolled_back_and_judged_again_to_the_same_outputs(
    crash: Crash,
) -> None:
    """A failed send aborts the transaction: the stage rolls its ledger back to the batch's start
    and processes the same records again, as if the first attempt had never happened."""
    records, reference = demo_records(), reference_run()
    processor = new_processor()
    log = OutputLog()
    run(records[: crash.committed], processor, log)
    processor.begin()
    run(records[crash.committed : crash.at + 1], processor)  # produced, then aborted
    processor.rollback()
    assert processor.tally == run(records[: crash.committed]).tally
    processor.begin()
    again = run(records[crash.committed :], processor, log)
    processor.commit()
    assert again.outputs == reference.outputs[crash.committed :]
    assert log.records == reference.log.records


def test_a_batch_aborted_between_a_partial_rejection_and_its_change_gives_both_again() -> None:
    records, reference = demo_records(), reference_run()
    assert partly_accepted()
    for at in partly_accepted():
        processor = new_processor()
        run(records[:at], processor)
        processor.begin()
        processor.process(records[at])
        processor.rollback()
        assert tuple(processor.process(records[at])) == reference.outputs[at]


def test_a_restart_from_the_ledger_judges_a_partial_acceptance_whole() -> None:
    records, reference = demo_records(), reference_run()
    for at in partly_accepted():
        log = OutputLog(out for outputs in reference.outputs[:at] for out in outputs)
        restarted = restored_processor(log)
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
            "import sys; from tests.support.hub_pipeline import fingerprint; "
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
