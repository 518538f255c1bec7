"""`sitn replay readjudicate` on the real broker: a convention changes, history is judged again.

A board creates three restaurants in Bayeux; an office of tourism made up for this test (its own
id, so no other test's history is touched) changes the prices of the first, which no convention
lets it do (refused), and the contacts of the second, which its convention allows (accepted); the
third is left alone. The worker judges all that and is stopped. Then the registry changes on
`sitn.registry`: a new convention lets the office enter prices, and its first convention no longer
covers contacts. A dry run prints both corrections and emits nothing; the real run emits them;
a second run emits nothing. The worker, started again, brings them into the store and into the
feeds of the diffusers that receive those offers, and nothing into the others'.

The broker is shared with the other tests: the store and the feeds of this test start at the
topics' current ends (their positions are set there before the first start), so they hold this
test's offers only.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path

import pytest
from aiokafka import TopicPartition
from typer.testing import CliRunner

from consumers.feeds.sql import SqlFeedStore
from hub.cli import app
from hub.core.contribution import FieldGroupsChanged, OfferCreated
from hub.core.diffusion import DiffusionChange
from hub.core.offer import (
    Address,
    Contact,
    ContactKind,
    FieldGroup,
    GeoPoint,
    Location,
    OfferFields,
    OfferType,
    PriceLine,
    Prices,
)
from hub.core.readjudication import READJUDICATION
from hub.core.regional import RegionalChange
from hub.core.registry import ContributionConvention, Organisation, OrgKind, Registry, Validity
from hub.demo_run import end_offsets, prepare
from hub.kafka_clients import make_consumer
from hub.readjudicate import ReadjudicationError, run_readjudication
from hub.reference import load_normandy_territory
from hub.registry.format import load_normandy_registry
from hub.registry.topic import apply_registry
from hub.settings import Settings
from hub.stages.groups import group_of
from hub.store.sql import SqlStore
from hub.topics import CUSTOMER_DATA, DIFFUSION_TICKS, REGIONAL_CHANGES, REJECTIONS
from hub.wire import decode_regional_change
from hub.worker import Worker
from producers.publisher import Change, Publisher
from tests.support import examples

pytestmark = pytest.mark.kafka

CDT = "cdt-calvados"
WHEN = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
BAYEUX = Location(
    Address("14047", "4 rue des Cuisiniers", "14400", "Bayeux"), GeoPoint(49.28, -0.7)
)
OT_PRICES = Prices(lines=(PriceLine("Menu du jour", Decimal("21.00")),))
OT_CONTACTS = (Contact(ContactKind.PHONE, "+33 2 31 51 28 28", "Office de tourisme"),)
# Receive restaurants of Calvados with prices and contacts: must get both corrections.
AFFECTED = ("site-crt-normandie", "site-cdt-calvados", "site-ot-bayeux", "tourisme-fr")
# Receive no restaurant of Calvados at all: must get nothing.
UNAFFECTED = ("site-cdt-eure", "calendrierdesfetes", "ideoguide", "datatourisme")
# The session's broker may hold much history for the worker to go through at its first start.
GUARD_SECONDS = 300.0


class Scenario:
    """The ids of this run (unique on a shared broker) and the registries before and after."""

    def __init__(self, tmp_path: Path) -> None:
        token = os.urandom(3).hex()
        self.ot = f"ot-readj-{token}"
        self.group = f"sitn-hub-readj-{token}"
        self.priced, self.contacted, self.untouched = (f"RESNOR014R{token}{n}" for n in (1, 2, 3))
        self.home = tmp_path
        self.database_url = f"sqlite:///{tmp_path / 'hub.db'}"
        base = ContributionConvention(
            convention_id=f"cc-{self.ot}-base",
            contributor=self.ot,
            offer_types=(OfferType.RES,),
            field_groups=(FieldGroup.NAMES, FieldGroup.DESCRIPTIONS, FieldGroup.CONTACTS),
            communes=("14047",),
            validity=Validity(date(2020, 1, 1)),
        )
        self.prices_convention = f"cc-{self.ot}-prices"
        prices = replace(
            base, convention_id=self.prices_convention, field_groups=(FieldGroup.PRICES,)
        )
        narrowed = replace(base, field_groups=(FieldGroup.NAMES, FieldGroup.DESCRIPTIONS))
        self.before = self._registry(base)
        self.after = self._registry(narrowed, prices)

    def _registry(self, *conventions: ContributionConvention) -> Registry:
        shipped = load_normandy_registry()
        organisations = {
            **shipped.organisations,
            self.ot: Organisation(self.ot, OrgKind.OT, "Office de test", "14", ("14047",)),
        }
        return replace(
            shipped,
            organisations=dict(sorted(organisations.items())),
            contribution_conventions=tuple(
                sorted(
                    (*shipped.contribution_conventions, *conventions),
                    key=lambda c: c.convention_id,
                )
            ),
        )

    @property
    def offers(self) -> tuple[str, str, str]:
        return (self.priced, self.contacted, self.untouched)

    def settings(self, bootstrap: str) -> Settings:
        return Settings.from_env(
            {
                "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "SITN_HOME": str(self.home),
                "SITN_DATABASE_URL": self.database_url,
            }
        )


def creation(offer_id: str, location: Location) -> Change:
    fields = replace(examples.rich_offer_fields(), location=location)
    return Change(offer_id, OfferCreated(OfferType.RES, fields), WHEN, "tests", offer_id)


def change(offer_id: str, minutes: int, **groups: object) -> Change:
    payload = FieldGroupsChanged(OfferFields(**groups))  # type: ignore[arg-type]
    return Change(offer_id, payload, WHEN + timedelta(minutes=minutes), "tests", offer_id)


async def publish(bootstrap: str, home: Path, contributor: str, changes: list[Change]) -> None:
    publisher = Publisher(
        bootstrap=bootstrap,
        contributor=contributor,
        state_dir=home / "publisher",
        territory=load_normandy_territory(),
    )
    report = await publisher.publish(changes)
    assert report.ok, report


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + GUARD_SECONDS
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"{what} did not happen within {GUARD_SECONDS:g} s")
        await asyncio.sleep(0.2)


async def start_projections_at_the_end(bootstrap: str, database_url: str) -> None:
    """Store and feed positions set at the topics' current ends: only what follows counts."""
    store, feeds = SqlStore(database_url), SqlFeedStore(database_url)
    try:
        await asyncio.to_thread(store.migrate)
        ends = await end_offsets(bootstrap, [REGIONAL_CHANGES, REJECTIONS, CUSTOMER_DATA])
        ticks = await end_offsets(bootstrap, [DIFFUSION_TICKS])
        await asyncio.to_thread(store.apply, [], _of(ends, REGIONAL_CHANGES))
        await asyncio.to_thread(store.record_rejections, [], _of(ends, REJECTIONS))
        await asyncio.to_thread(store.record_customer_data, [], _of(ends, CUSTOMER_DATA))
        await asyncio.to_thread(feeds.append, [], {**_of(ends, REGIONAL_CHANGES), **ticks})
    finally:
        store.close()
        feeds.close()


def _of(ends: dict[tuple[str, int], int], topic: str) -> dict[tuple[str, int], int]:
    return {key: offset for key, offset in ends.items() if key[0] == topic}


async def running(worker: Worker) -> asyncio.Task[None]:
    ready = asyncio.Event()
    task = asyncio.create_task(worker.run(on_ready=lambda _: ready.set()))
    waiter = asyncio.create_task(ready.wait())
    done, _ = await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        waiter.cancel()
        task.result()
    return task


async def stop(worker: Worker, task: asyncio.Task[None]) -> None:
    assert worker.stop is not None
    worker.stop.set()
    await asyncio.wait_for(task, 60)


async def caught_up(bootstrap: str, database_url: str) -> bool:
    """The store and the feeds hold everything `sitn.regional.changes` holds now."""
    ends = await end_offsets(bootstrap, [REGIONAL_CHANGES])
    store, feeds = SqlStore(database_url), SqlFeedStore(database_url)
    try:
        stored = await asyncio.to_thread(store.positions)
        fed = await asyncio.to_thread(feeds.positions)
    finally:
        store.close()
        feeds.close()
    return all(stored.get(k, 0) >= end and fed.get(k, 0) >= end for k, end in ends.items())


async def first_run(bootstrap: str, s: Scenario) -> None:
    """The worker judges the board's creations, then the office's changes, under `s.before`."""
    await prepare(bootstrap, s.before)
    await start_projections_at_the_end(bootstrap, s.database_url)
    worker = Worker(s.settings(bootstrap), app_id=s.group)
    task = await running(worker)
    try:
        with pytest.raises(ReadjudicationError, match="stop the worker first"):
            await run_readjudication(bootstrap, group=group_of("collection", s.group), dry_run=True)
        await publish(bootstrap, s.home, CDT, [creation(o, BAYEUX) for o in s.offers])
        store = SqlStore(s.database_url)

        async def stored(offer_id: str, version: int) -> bool:
            offer = await asyncio.to_thread(store.offer, offer_id)
            return offer is not None and offer.version >= version

        async def refused() -> bool:
            found = await asyncio.to_thread(store.rejections, s.ot)
            return any(r.offer_id == s.priced for r in found)

        try:
            for offer_id in s.offers:
                await eventually(partial(stored, offer_id, 1), f"{offer_id} stored")
            await publish(
                bootstrap,
                s.home,
                s.ot,
                [
                    change(s.priced, 5, prices=OT_PRICES),
                    change(s.contacted, 6, contacts=OT_CONTACTS),
                ],
            )
            await eventually(partial(stored, s.contacted, 2), "the office's contacts accepted")
            await eventually(refused, "the office's prices refused")
            await eventually(partial(caught_up, bootstrap, s.database_url), "projections")
        finally:
            store.close()
    finally:
        await stop(worker, task)


def readjudicate_cli(bootstrap: str, s: Scenario, *options: str) -> str:
    result = CliRunner().invoke(
        app,
        ["replay", "readjudicate", "--group", group_of("collection", s.group), *options],
        env={"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "SITN_HOME": str(s.home), "COLUMNS": "1000"},
    )
    assert result.exit_code == 0, result.output
    return result.output


async def changes_between(
    bootstrap: str, start: dict[tuple[str, int], int], end: dict[tuple[str, int], int]
) -> list[RegionalChange]:
    """The regional changes from offsets `start` up to offsets `end`."""
    consumer = make_consumer(bootstrap, group_id=None)
    await consumer.start()
    found: list[RegionalChange] = []
    try:
        partitions = [TopicPartition(topic, p) for topic, p in sorted(end) if end[(topic, p)]]
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, start.get((tp.topic, tp.partition), 0))
        for tp in partitions:
            while await consumer.position(tp) < end[(tp.topic, tp.partition)]:
                for record in (await consumer.getmany(tp, timeout_ms=1000)).get(tp, []):
                    found.append(decode_regional_change(record.value))
    finally:
        await consumer.stop()
    return found


def feed_entries(database_url: str, diffuser: str, offer_id: str) -> list[DiffusionChange]:
    feeds = SqlFeedStore(database_url)
    try:
        entries = feeds.changes(diffuser, limit=10_000)
    finally:
        feeds.close()
    return [e.change for e in entries if e.change.offer_id == offer_id]


@pytest.fixture
def shipped_registry_afterwards(kafka_bootstrap: str) -> Iterator[None]:
    """The shared `sitn.registry` holds the shipped registry again once the test is over."""
    yield
    asyncio.run(apply_registry(kafka_bootstrap, load_normandy_registry()))


@pytest.mark.usefixtures("shipped_registry_afterwards")
def test_a_changed_convention_is_readjudicated_into_the_store_and_the_affected_feeds(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    s = Scenario(tmp_path)
    asyncio.run(first_run(kafka_bootstrap, s))
    asyncio.run(apply_registry(kafka_bootstrap, s.after))
    history = asyncio.run(end_offsets(kafka_bootstrap, [REGIONAL_CHANGES]))

    shown = readjudicate_cli(kafka_bootstrap, s, "--dry-run")
    assert s.priced in shown
    assert f"allowed by convention:{s.prices_convention} ({s.ot})" in shown
    assert s.contacted in shown
    assert f"{s.ot}/{s.contacted}/1 now refused [convention]" in shown
    assert s.untouched not in shown
    assert "dry run" in shown
    assert asyncio.run(end_offsets(kafka_bootstrap, [REGIONAL_CHANGES])) == history

    emitted = readjudicate_cli(kafka_bootstrap, s)
    after_first = asyncio.run(end_offsets(kafka_bootstrap, [REGIONAL_CHANGES]))
    corrections = asyncio.run(changes_between(kafka_bootstrap, history, after_first))
    assert f"emitted {len(corrections)} corrections" in emitted
    assert {c.contributor for c in corrections} == {READJUDICATION}
    ours = sorted((c.offer_id, c.version) for c in corrections if c.offer_id in s.offers)
    assert ours == [(s.priced, 2), (s.contacted, 3)]
    again = readjudicate_cli(kafka_bootstrap, s)
    assert "no correction" in again
    assert asyncio.run(end_offsets(kafka_bootstrap, [REGIONAL_CHANGES])) == after_first

    asyncio.run(second_run(kafka_bootstrap, s))
    store = SqlStore(s.database_url)
    try:
        priced = store.offer(s.priced)
        contacted = store.offer(s.contacted)
        untouched = store.offer(s.untouched)
        assert priced is not None
        assert contacted is not None
        assert untouched is not None
        assert (priced.version, priced.public.prices) == (2, OT_PRICES)
        prices_from = next(p for p in priced.provenance if p.group is FieldGroup.PRICES)
        assert (prices_from.contributor, prices_from.authority) == (
            s.ot,
            f"convention:{s.prices_convention}",
        )
        board_contacts = examples.rich_offer_fields().contacts
        assert (contacted.version, contacted.public.contacts) == (3, board_contacts)
        contacts_from = next(p for p in contacted.provenance if p.group is FieldGroup.CONTACTS)
        assert contacts_from.authority == f"principle:{CDT}"
        assert untouched.version == 1
        assert store.history(s.priced)[-1].contributor == READJUDICATION
    finally:
        store.close()

    for diffuser in AFFECTED:
        priced_entries = feed_entries(s.database_url, diffuser, s.priced)
        assert [e.version for e in priced_entries] == [1, 2], diffuser
        assert priced_entries[-1].view is not None
        assert priced_entries[-1].view.prices == OT_PRICES
        contacted_entries = feed_entries(s.database_url, diffuser, s.contacted)
        assert [e.version for e in contacted_entries] == [1, 2, 3], diffuser
        assert contacted_entries[-1].view is not None
        assert contacted_entries[-1].view.contacts == board_contacts
        untouched_entries = feed_entries(s.database_url, diffuser, s.untouched)
        assert [e.version for e in untouched_entries] == [1], diffuser
    for diffuser in UNAFFECTED:
        for offer_id in s.offers:
            assert feed_entries(s.database_url, diffuser, offer_id) == [], (diffuser, offer_id)


async def second_run(bootstrap: str, s: Scenario) -> None:
    """The worker started again under `s.after`: it takes the corrections in, store and feeds."""
    worker = Worker(s.settings(bootstrap), app_id=s.group)
    task = await running(worker)
    try:
        await eventually(partial(caught_up, bootstrap, s.database_url), "projections")
        state = worker.offer_state(s.priced)
        assert state is not None
        assert state.version == 2, "the worker restored the correction"
    finally:
        await stop(worker, task)
