"""Dead letters redriven on the real broker, with a running worker where the outcome needs one.

Each test puts its own dead letters on `sitn.deadletter`, as the collection processor writes them:
a valid contribution that an earlier, faulty hub could not read, or bytes that are not Avro at
all. Offer ids are unique per test, so what other tests left on the shared topics is ignored.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord
from typer.testing import CliRunner

from hub.cli import app
from hub.codec import encode, encode_contribution
from hub.core.contribution import Contribution, OfferCreated
from hub.core.offer import Address, GeoPoint, Location, OfferType
from hub.deadletter import (
    REDRIVE_OF_HEADER,
    DeadLetter,
    DeadLetterError,
    read_dead_letters,
    read_redrive_marks,
    redrive,
)
from hub.demo_run import prepare
from hub.kafka_clients import make_consumer, make_producer
from hub.registry.format import load_normandy_registry
from hub.topics import DEADLETTER, OFFER_PARTITIONS, REGISTRY, contrib_topic, expected_partition
from hub.worker import Worker
from tests.support import examples
from tests.support.running_hub import running_worker, settings_for

pytestmark = pytest.mark.kafka

CONTRIBUTOR = "cdt-calvados"
TOPIC = contrib_topic(CONTRIBUTOR)
PARTITION = 2
DEAUVILLE = Location(
    Address("14220", "1 boulevard de la Mer", "14800", "Deauville"), GeoPoint(49.36, 0.07)
)
AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
GARBAGE = b"<offre>not avro</offre>"
WAIT_STEPS = 300  # x 0.2 s: how long a worker may take to judge and store a record


def fresh_offer_id() -> str:
    """A new offer whose records belong on the test partition (murmur2 of the id): the hub
    dead-letters a contribution found on another partition than its offer's."""
    while True:
        # Unique across sessions too: a broker given by KAFKA_BOOTSTRAP_SERVERS outlives the tests.
        offer_id = f"HOTNOR014V-dl-{uuid.uuid4().hex[:12]}"
        if expected_partition(offer_id.encode(), OFFER_PARTITIONS) == PARTITION:
            return offer_id


def creation(offer_id: str) -> Contribution:
    """A creation the rules accept: a CDT's hotel in its own department."""
    fields = replace(examples.rich_offer_fields(), location=DEAUVILLE)
    return Contribution(
        event_id=f"{CONTRIBUTOR}/{offer_id}/1",
        contributor=CONTRIBUTOR,
        offer_id=offer_id,
        source_version=1,
        occurred_at=AT,
        source_system="tests",
        source_id=offer_id,
        payload=OfferCreated(OfferType.HOT, fields),
    )


async def dead_letter(
    bootstrap: str, value: bytes, *, key: bytes | None, topic: str = TOPIC
) -> int:
    """Puts a dead letter on `sitn.deadletter` as the processor writes it; returns its offset."""
    letter = encode(
        "DeadLetter",
        {
            "topic": topic,
            "partition": PARTITION,
            "offset": 1_000_000 + uuid.uuid4().int % 1_000_000,
            "key": key,
            "value": value,
            "reason": "Contribution: writer schema fingerprint 0011223344556677 is not released",
            "error_kind": "unknown_fingerprint",
            "failed_at": AT,
        },
    )
    producer = make_producer(bootstrap)
    await producer.start()
    try:
        sent = await producer.send_and_wait(DEADLETTER, letter, key=b"origin")
    finally:
        await producer.stop()
    return int(sent.offset)


async def committed(bootstrap: str, topic: str, start: int) -> list[ConsumerRecord]:
    """The committed records of `topic`'s test partition from offset `start` to its end."""
    tp = TopicPartition(topic, PARTITION)
    consumer = make_consumer(bootstrap, group_id=None)  # read_committed
    await consumer.start()
    try:
        consumer.assign([tp])
        consumer.seek(tp, start)
        end = (await consumer.end_offsets([tp]))[tp]
        found: list[ConsumerRecord] = []
        while await consumer.position(tp) < end:
            found += (await consumer.getmany(tp, timeout_ms=1000)).get(tp, [])
        return [record for record in found if record.offset < end]
    finally:
        await consumer.stop()


async def end_of(bootstrap: str, topic: str) -> int:
    tp = TopicPartition(topic, PARTITION)
    consumer = make_consumer(bootstrap, group_id=None)
    await consumer.start()
    try:
        return int((await consumer.end_offsets([tp]))[tp])
    finally:
        await consumer.stop()


async def letter_at(bootstrap: str, offset: int) -> DeadLetter:
    return next(d for d in await read_dead_letters(bootstrap) if d.offset == offset)


@pytest.fixture
async def registered(kafka_bootstrap: str) -> str:
    await prepare(kafka_bootstrap, load_normandy_registry())
    return kafka_bootstrap


@pytest.fixture
async def worker(registered: str, tmp_path: Path) -> AsyncIterator[Worker]:
    settings = settings_for(registered, tmp_path)
    async with running_worker(settings, f"sitn-hub-redrive-{uuid.uuid4().hex[:8]}") as hub:
        yield hub


async def test_a_contribution_left_in_the_dead_letter_is_redriven_into_the_store(
    worker: Worker, registered: str
) -> None:
    offer_id = fresh_offer_id()
    offset = await dead_letter(
        registered, encode_contribution(creation(offer_id)), key=offer_id.encode()
    )

    [outcome] = await redrive(registered, [offset])

    assert outcome.published
    assert (outcome.mark.to_topic, outcome.mark.to_partition) == (TOPIC, PARTITION)
    assert worker.projector is not None
    store = worker.projector.store
    for _ in range(WAIT_STEPS):
        stored = await asyncio.to_thread(store.offer, offer_id)
        if stored is not None:
            break
        await asyncio.sleep(0.2)
    assert stored is not None, "the redriven contribution was judged and stored"
    assert (stored.version, stored.department, stored.offer_type) == (1, "14", OfferType.HOT)
    assert (await letter_at(registered, offset)).redriven == outcome.mark


async def test_bytes_that_still_do_not_decode_come_back_as_a_new_dead_letter(
    worker: Worker, registered: str
) -> None:
    offset = await dead_letter(registered, GARBAGE, key=b"HOTNOR014V-garbage")

    [outcome] = await redrive(registered, [offset])

    origin = (outcome.mark.to_topic, outcome.mark.to_partition, outcome.mark.to_offset)
    back: list[DeadLetter] = []
    for _ in range(WAIT_STEPS):
        letters = await read_dead_letters(registered, origin_topic=TOPIC)
        back = [
            d for d in letters if (d.origin_topic, d.origin_partition, d.origin_offset) == origin
        ]
        if back:
            break
        await asyncio.sleep(0.2)
    assert len(back) == 1, "the redriven bytes were dead-lettered again, once"
    assert back[0].offset > offset
    assert (back[0].value, back[0].key, back[0].kind) == (
        GARBAGE,
        b"HOTNOR014V-garbage",
        "bad_magic",
    )
    assert back[0].redriven is None, "the new dead letter can be redriven once its cause is fixed"


async def test_a_dead_letter_redriven_twice_is_published_once(registered: str) -> None:
    offer_id = fresh_offer_id()
    value = encode_contribution(creation(offer_id))
    offset = await dead_letter(registered, value, key=offer_id.encode())
    start = await end_of(registered, TOPIC)

    [first] = await redrive(registered, [offset])
    [second] = await redrive(registered, [offset])
    redriven_all = await redrive(registered, None, origin_topic=TOPIC)

    assert (first.published, second.published) == (True, False)
    assert second.mark == first.mark, "the second redrive reports the first one"
    assert offset not in {outcome.letter.offset for outcome in redriven_all}
    sent = [r for r in await committed(registered, TOPIC, start) if r.key == offer_id.encode()]
    assert [(r.offset, r.value) for r in sent] == [(first.mark.to_offset, value)]
    assert dict(sent[0].headers)[REDRIVE_OF_HEADER] == f"{DEADLETTER}:0:{offset}".encode()


async def test_two_redrives_at_the_same_time_publish_a_dead_letter_once(registered: str) -> None:
    offer_id = fresh_offer_id()
    offset = await dead_letter(
        registered, encode_contribution(creation(offer_id)), key=offer_id.encode()
    )
    start = await end_of(registered, TOPIC)

    results = await asyncio.gather(
        redrive(registered, [offset]), redrive(registered, [offset]), return_exceptions=True
    )

    published = [
        outcome
        for result in results
        if not isinstance(result, BaseException)
        for outcome in result
        if outcome.published
    ]
    fenced = [result for result in results if isinstance(result, BaseException)]
    assert all(isinstance(error, DeadLetterError) for error in fenced), fenced
    sent = [r for r in await committed(registered, TOPIC, start) if r.key == offer_id.encode()]
    assert len(sent) == 1, "one record reached the origin topic, whoever won"
    assert len(published) == 1
    assert (await read_redrive_marks(registered))[offset].to_offset == sent[0].offset


async def test_an_unknown_offset_is_refused_by_name_and_nothing_is_published(
    registered: str,
) -> None:
    offer_id = fresh_offer_id()
    known = await dead_letter(
        registered, encode_contribution(creation(offer_id)), key=offer_id.encode()
    )
    start = await end_of(registered, TOPIC)

    with pytest.raises(DeadLetterError, match=rf"no dead letter at offset\(s\) {known + 10_000}"):
        await redrive(registered, [known, known + 10_000])

    assert await end_of(registered, TOPIC) == start
    assert known not in await read_redrive_marks(registered)


async def test_a_dead_letter_from_a_topic_the_worker_does_not_judge_is_not_redriven(
    registered: str,
) -> None:
    offset = await dead_letter(registered, GARBAGE, key=None, topic=REGISTRY)

    with pytest.raises(DeadLetterError, match=rf"{offset}.*came from {REGISTRY}"):
        await redrive(registered, [offset])

    assert offset not in await read_redrive_marks(registered)


def test_the_cli_lists_shows_and_redrives_a_dead_letter_once(kafka_bootstrap: str) -> None:
    asyncio.run(prepare(kafka_bootstrap, load_normandy_registry()))
    offer_id = fresh_offer_id()
    value = encode_contribution(creation(offer_id))
    offset = asyncio.run(dead_letter(kafka_bootstrap, value, key=offer_id.encode()))
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "COLUMNS": "300"}

    def sitn(*args: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(app, ["deadletter", *args], env=env)
        return result.exit_code, result.stdout, result.stderr

    code, listed, _ = sitn("list", "--topic", CONTRIBUTOR, "--limit", "1000")
    assert code == 0, listed
    assert f"{TOPIC}[{PARTITION}]" in listed
    assert "unknown_fingerpr" in listed
    assert f"│ {offset} " in listed, "the dead letter has its row, named by its offset"

    code, shown, _ = sitn("show", str(offset))
    assert code == 0, shown
    assert "decodes as Contribution" in shown
    assert offer_id in shown
    assert "c3 01" in shown, "the value's hex starts with the Avro single-object marker"
    assert base64.b64encode(value[:48]).decode() in shown, "its base64 too"

    code, first, _ = sitn("redrive", str(offset))
    code_again, second, _ = sitn("redrive", str(offset))
    assert (code, code_again) == (0, 0)
    assert f"{offset}: redriven to {TOPIC}[{PARTITION}]@" in first
    assert f"{offset}: already redriven" in second
    assert "1 already redriven" in second

    code, _, error = sitn("redrive", "987654321")
    assert code == 1
    assert "no dead letter at offset(s) 987654321" in error
    assert "Traceback" not in error
    code, _, error = sitn("redrive")
    assert code == 2
    assert "or --all" in error
    code, _, error = sitn("show", "987654321")
    assert code == 1
    assert "no dead letter at offset 987654321" in error
