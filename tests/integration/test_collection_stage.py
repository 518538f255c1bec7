"""The collection stage on a real broker: atomic, in causal order, fenced, and open to new
contributors. Each test starts its own broker, so the topics hold only what it publishes."""

from __future__ import annotations

import asyncio
import random
import re
import signal
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from hub.collection_processor import CollectionProcessor, ledger_outputs
from hub.core.contribution import Contribution, FieldGroupsChanged, OfferCreated, OfferDeleted
from hub.core.diffusion_rules import boundary_facts
from hub.core.offer import Media, OfferFields, OfferType, PriceLine, Prices
from hub.core.registry import Organisation, OrgKind
from hub.demo_run import prepare
from hub.reference import load_normandy_territory
from hub.registry.format import load_normandy_registry
from hub.stages.groups import COLLECTION_GROUP
from hub.topic_reader import read_prefix
from hub.topics import COLLECTION_BOUNDARIES, COLLECTION_STATE, REGIONAL_CHANGES
from hub.wire import decode_boundary_facts, decode_offer_entry, encode_offer_entry
from producers.demo import as_contribution, creations, generate_changes, generate_offers
from tests.conftest import logged_in, make_test_broker
from tests.support.collection_support import (
    History,
    StageProcess,
    caught_up,
    produce,
    publish,
    read_history,
    wait_for,
)
from tests.support.hub_pipeline import contribution_log
from tests.unit.test_collection_rules import contribution, offer_fields

pytestmark = pytest.mark.kafka

DEADLINE_S = 8.0


@pytest.fixture
def fresh_kafka(tmp_path: Path) -> Iterator[str]:
    broker = make_test_broker(tmp_path / "kafka")
    broker.start()
    try:
        with logged_in(broker):
            asyncio.run(prepare(broker.bootstrap, load_normandy_registry()))
            yield broker.bootstrap
    finally:
        broker.stop()


def now_ms() -> int:
    return time.time_ns() // 1_000_000


# ---------------------------------------------------------------- an output too large to send


def huge_creation(offer_id: str) -> Contribution:
    media = tuple(
        Media(
            url=f"https://medias.sitn-normandie.example/14/{offer_id}/{i:05d}.jpg",
            credit="Office de tourisme de Deauville",
            licence="CC BY-SA 4.0",
            title=f"Vue {i}",
        )
        for i in range(5_500)
    )
    fields = replace(offer_fields(), media=media)
    return contribution("cdt-calvados", OfferCreated(OfferType.HOT, fields), offer_id=offer_id)


def huge_prices(offer_id: str) -> Contribution:
    lines = tuple(
        PriceLine(f"Chambre double, saison {i}", Decimal("80.00"), Decimal("120.00"))
        for i in range(10_000)
    )
    payload = FieldGroupsChanged(OfferFields(prices=Prices(lines=lines)))
    return contribution("cdt-calvados", payload, offer_id=offer_id, version=2)


def small_change(offer_id: str, version: int) -> Contribution:
    payload = FieldGroupsChanged(OfferFields(prices=Prices(free=True)))
    return contribution("cdt-calvados", payload, offer_id=offer_id, version=version)


def test_a_change_whose_output_would_be_too_large_is_rejected_and_nothing_is_lost(
    fresh_kafka: str, tmp_path: Path
) -> None:
    offer = "HOTNOR014V900001"
    first, second = huge_creation(offer), huge_prices(offer)
    stage = StageProcess(fresh_kafka, tmp_path / "hub")
    asyncio.run(publish(fresh_kafka, [(now_ms(), first), (now_ms() + 1, second)]))
    stage.start()
    try:
        asyncio.run(wait_for(lambda: caught_up(fresh_kafka, COLLECTION_GROUP), 90, "judging both"))
        history = asyncio.run(read_history(fresh_kafka))
        assert history.versions() == {offer: [1]}, "the first change is accepted, alone"
        [refusal] = history.rejections
        assert refusal.event_id == second.event_id
        assert refusal.rule_ids == ("offer.too_large",)
        assert "bytes" in refusal.message
        assert "publish the change again" in refusal.message
        # The ledger agrees with the history, and the offer's next change takes version 2.
        ledger = asyncio.run(read_prefix(fresh_kafka, COLLECTION_STATE, decode_offer_entry))
        [entry] = [e for e in ledger.values if e.offer_id == offer][-1:]
        assert entry.latest is not None
        assert entry.latest.version == 1
        asyncio.run(publish(fresh_kafka, [(now_ms(), small_change(offer, 3))]))

        async def third_accepted() -> bool:
            return (await read_history(fresh_kafka)).versions().get(offer) == [1, 2]

        asyncio.run(wait_for(third_accepted, 60, "the next change accepted as version 2"))
    finally:
        stage.stop()
    assert "ProducerSendError" not in stage.output()


# ---------------------------------------------------------------- a backlog, in causal order


def backlog(start_ms: int) -> tuple[list[tuple[int, Contribution]], set[str], set[str]]:
    """~1,000 contributions of the demo's CDTs, OTs, federators and the CRT on shared offers:
    every follow-up published (and timestamped) before the creations, and four offers whose
    creation never comes. Returns them, the never-created offers and the deleted ones."""
    offers = generate_offers(150, 31, load_normandy_territory().values())
    changes = generate_changes(
        offers, 850, 32, invalid_ratio=0.05, registry=load_normandy_registry()
    )
    made = [as_contribution(org, demo) for org, demo in creations(offers)]
    follow = [as_contribution(org, demo) for org, demo in changes]
    never = {offer.offer_id for offer in offers[:4]}
    timed = [(start_ms + i, c) for i, c in enumerate(follow)]
    timed += [(start_ms + 2_000 + i, c) for i, c in enumerate(made) if c.offer_id not in never]
    deleted = {c.offer_id for c in follow if isinstance(c.payload, OfferDeleted)}
    return timed, never, deleted


def judged_backlog(bootstrap: str, home: Path, kills: int, seed: int) -> History:
    timed, never, _ = backlog(now_ms())
    assert len({c.contributor for _, c in timed}) >= 6
    asyncio.run(publish(bootstrap, timed))
    expected_unknown = sum(1 for _, c in timed if c.offer_id in never)
    stage = StageProcess(bootstrap, home, deadline_s=DEADLINE_S)
    chance = random.Random(seed)
    stage.start()
    try:
        for _ in range(kills):
            time.sleep(chance.uniform(2.0, 5.0))
            stage.kill()
            stage.start()

        async def done() -> bool:
            if not await caught_up(bootstrap, COLLECTION_GROUP):
                return False
            history = await read_history(bootstrap)
            unknown = [r for r in history.rejections if r.rule_ids == ("offer.unknown",)]
            return len(unknown) >= expected_unknown

        asyncio.run(wait_for(done, 180, "judging the backlog and its deadlines"))
        return asyncio.run(read_history(bootstrap))
    finally:
        stage.stop()


def test_a_backlog_is_judged_in_causal_order_and_the_same_with_five_kills(
    tmp_path: Path,
) -> None:
    histories: list[History] = []
    for run, kills in enumerate((0, 5)):
        broker = make_test_broker(tmp_path / f"kafka-{run}")
        broker.start()
        try:
            with logged_in(broker):
                asyncio.run(prepare(broker.bootstrap, load_normandy_registry()))
                histories.append(
                    judged_backlog(broker.bootstrap, tmp_path / f"hub-{run}", kills, 7)
                )
        finally:
            broker.stop()
    timed, never, deleted = backlog(0)
    clean, killed = histories
    for history in histories:
        unknown = [r for r in history.rejections if r.rule_ids == ("offer.unknown",)]
        assert {r.offer_id for r in unknown} <= never | deleted, "early changes waited"
        assert {c.event_id for _, c in timed if c.offer_id in never} <= {
            r.event_id for r in unknown
        }, "what never got its creation is refused after the deadline"
        verdicts = Counter((r.event_id, r.rule_ids) for r in history.rejections)
        assert max(verdicts.values()) == 1, "no rejection twice"
        accepted = history.accepted_events()
        assert not {r.event_id for r in unknown} & accepted, "no event refused and accepted"
        for offer, versions in history.versions().items():
            assert versions == list(range(1, len(versions) + 1)), offer
    assert killed.digest() == clean.digest()
    assert sorted((r.event_id, r.rule_ids) for r in killed.rejections) == sorted(
        (r.event_id, r.rule_ids) for r in clean.rejections
    )


# ---------------------------------------------------------------- a zombie cannot commit


def test_a_stage_paused_past_its_session_timeout_commits_nothing_when_resumed(
    fresh_kafka: str, tmp_path: Path
) -> None:
    offers = [f"HOTNOR014V9100{i:02d}" for i in range(30)]
    first = [(now_ms() + i, contribution_for(o, 1)) for i, o in enumerate(offers)]
    asyncio.run(publish(fresh_kafka, first))
    zombie = StageProcess(fresh_kafka, tmp_path / "zombie")
    zombie.start()
    survivor = StageProcess(fresh_kafka, tmp_path / "survivor")
    try:
        asyncio.run(wait_for(lambda: caught_up(fresh_kafka, COLLECTION_GROUP), 90, "judging"))
        zombie.signal(signal.SIGSTOP)
        survivor.start()
        # The survivor takes every task once the zombie's session (10 s) has timed out.
        second = [(now_ms() + i, small_change(o, 2)) for i, o in enumerate(offers)]
        asyncio.run(publish(fresh_kafka, second))
        asyncio.run(wait_for(lambda: caught_up(fresh_kafka, COLLECTION_GROUP), 120, "the takeover"))
        zombie.signal(signal.SIGCONT)
        third = [(now_ms() + i, small_change(o, 3)) for i, o in enumerate(offers)]
        asyncio.run(publish(fresh_kafka, third))
        asyncio.run(wait_for(lambda: caught_up(fresh_kafka, COLLECTION_GROUP), 120, "judging"))
        time.sleep(3)  # room for the zombie to try
        history = asyncio.run(read_history(fresh_kafka))
    finally:
        zombie.stop()
        survivor.stop()
    versions = history.versions()
    assert {o: versions.get(o) for o in offers} == {o: [1, 2, 3] for o in offers}
    assert len(history.changes) == 90, "no version emitted twice"


def contribution_for(offer_id: str, version: int) -> Contribution:
    return replace(
        contribution(
            "cdt-calvados", OfferCreated(OfferType.HOT, offer_fields()), offer_id=offer_id
        ),
        source_version=version,
        event_id=f"cdt-calvados/{offer_id}/{version}",
    )


# ---------------------------------------------------------------- a contributor added live


def test_a_contributor_registered_while_the_stage_runs_is_judged_within_ten_seconds(
    fresh_kafka: str, tmp_path: Path
) -> None:
    stage = StageProcess(fresh_kafka, tmp_path / "hub")
    stage.start()
    try:
        first = [(now_ms(), contribution_for("HOTNOR014V920001", 1))]
        asyncio.run(publish(fresh_kafka, first))
        asyncio.run(wait_for(lambda: caught_up(fresh_kafka, COLLECTION_GROUP), 90, "a start"))
        shipped = load_normandy_registry()
        newcomer = Organisation(
            "ot-honfleur", OrgKind.OT, "Office de tourisme de Honfleur", "14", ("14333",)
        )
        grown = replace(shipped, organisations={**shipped.organisations, newcomer.org_id: newcomer})
        asyncio.run(prepare(fresh_kafka, grown))  # what `sitn registry apply` does
        offer = "HOTNOR014V920001"
        change = contribution("ot-honfleur", FieldGroupsChanged(OfferFields()), offer_id=offer)
        started = time.monotonic()
        asyncio.run(publish(fresh_kafka, [(now_ms(), change)]))

        async def judged() -> bool:
            history = await read_history(fresh_kafka)
            verdicts = {r.event_id for r in history.rejections} | history.accepted_events()
            return change.event_id in verdicts

        asyncio.run(wait_for(judged, 10, "judging the newcomer's first contribution", 0.2))
        assert time.monotonic() - started <= 10
    finally:
        stage.stop()


# ---------------------------------------------------------------- a history older than the ledger


def test_a_history_written_before_the_ledger_existed_seeds_it_once(
    fresh_kafka: str, tmp_path: Path
) -> None:
    # What a hub of the single-process era left: regional changes and no sitn.collection.state.
    offers = [f"HOTNOR014V9300{i:02d}" for i in range(12)]
    judged = CollectionProcessor(load_normandy_registry(), load_normandy_territory())
    old = [
        out
        for record in contribution_log(contribution_for(o, 1) for o in offers)
        for out in judged.process(record)
        if out.topic == REGIONAL_CHANGES
    ]
    asyncio.run(produce(fresh_kafka, [(REGIONAL_CHANGES, out.key, out.value) for out in old]))
    stage = StageProcess(fresh_kafka, tmp_path / "hub")
    stage.start()
    try:
        follow_ups = [(now_ms() + i, small_change(o, 2)) for i, o in enumerate(offers)]
        asyncio.run(publish(fresh_kafka, follow_ups))
        asyncio.run(wait_for(lambda: caught_up(fresh_kafka, COLLECTION_GROUP), 90, "judging"))
        history = asyncio.run(read_history(fresh_kafka))
        ledger = asyncio.run(read_prefix(fresh_kafka, COLLECTION_STATE, decode_offer_entry))
    finally:
        stage.stop()
    assert not history.rejections, "the old history's offers are known"
    assert {o: history.versions()[o] for o in offers} == {o: [1, 2] for o in offers}
    latest = {entry.offer_id: entry.latest for entry in ledger.values}
    assert {o: v.version if v else None for o, v in latest.items()} == dict.fromkeys(offers, 2)
    seeded = re.findall(
        r"ledger seeded from (\d+) regional changes of (\d+) offers", stage.output()
    )
    assert sum(int(offers) for _, offers in seeded) == len(offers)
    # The facts the scheduler restores from, written with the seeded ledger and then by each change.
    facts = asyncio.run(read_prefix(fresh_kafka, COLLECTION_BOUNDARIES, decode_boundary_facts))
    newest = {f.offer_id: f for f in facts.values}
    assert newest == {o: boundary_facts(v) for o, v in latest.items() if v is not None}


@pytest.mark.parametrize("already", [0, 4], ids=["no-facts", "some-facts"])
def test_ledger_entries_without_boundary_facts_get_them_at_the_next_start(
    fresh_kafka: str, tmp_path: Path, already: int
) -> None:
    # What a hub of the previous step left (no sitn.collection.boundaries), or a ledger whose
    # facts were written for some offers only (a correction run first, a seed that never
    # committed): the entries are complete, the facts are not.
    offers = [f"HOTNOR014V9400{i:02d}" for i in range(12)]
    judged = CollectionProcessor(load_normandy_registry(), load_normandy_territory())
    for record in contribution_log(contribution_for(o, 1) for o in offers):
        judged.process(record)
    entries = [judged.entry(o) for o in offers]
    ledger = [(COLLECTION_STATE, e.offer_id.encode(), encode_offer_entry(e)) for e in entries]
    facts_before = [
        (out.topic, out.key, out.value)
        for e in entries[:already]
        for out in ledger_outputs(e)
        if out.topic == COLLECTION_BOUNDARIES
    ]
    asyncio.run(produce(fresh_kafka, ledger + facts_before))
    stage = StageProcess(fresh_kafka, tmp_path / "hub")
    stage.start()
    try:
        asyncio.run(wait_for(lambda: facts_of(fresh_kafka, len(offers)), 90, "the boundary facts"))
    finally:
        stage.stop()
    facts = asyncio.run(read_prefix(fresh_kafka, COLLECTION_BOUNDARIES, decode_boundary_facts))
    assert sorted(facts.values, key=lambda f: f.offer_id) == [
        boundary_facts(e.latest) for e in entries if e.latest is not None
    ]
    written = re.findall(r"boundary facts of (\d+) offers written", stage.output())
    assert sum(int(count) for count in written) == len(offers) - already


async def facts_of(bootstrap: str, count: int) -> bool:
    facts = await read_prefix(bootstrap, COLLECTION_BOUNDARIES, decode_boundary_facts)
    return len(facts.values) >= count
