"""`sitn import` on the real broker: a snapshot is published once, then only its changes."""

from __future__ import annotations

import asyncio
import json
import os
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import TopicPartition

from hub.codec import decode_contribution
from hub.core.contribution import Contribution, FieldGroupsChanged, OfferCreated, OfferWithdrawn
from hub.core.offer import FieldGroup
from hub.kafka_clients import ensure_topics, make_consumer
from hub.reference import load_normandy_territory
from hub.topics import OFFER_PARTITIONS, contrib_topic, contributor_topic_spec
from producers import datatourisme
from tests.integration.test_import_cli import (
    DATATOURISME_FLUX,
    TOURINSOFT_EXPORT,
    sitn,
    valid_tourinsoft_ids,
)

pytestmark = pytest.mark.kafka

TAKEN_AT = datetime(2024, 5, 2, 6, 0, tzinfo=UTC)


async def read_topic(bootstrap: str, topic: str) -> list[Contribution]:
    """Every committed record of the topic, decoded, in (partition, offset) order."""
    consumer = make_consumer(bootstrap, group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(OFFER_PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        values: list[bytes] = []

        async def drain() -> None:
            while any([await consumer.position(tp) < ends[tp] for tp in partitions]):
                batches = await consumer.getmany(timeout_ms=500)
                for tp in sorted(batches, key=lambda tp: tp.partition):
                    values.extend(record.value for record in batches[tp])

        await asyncio.wait_for(drain(), 60)
    finally:
        await consumer.stop()
    return [decode_contribution(value) for value in values]


def test_importing_a_snapshot_twice_publishes_its_offers_then_nothing(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    org = f"ot-import-{os.urandom(3).hex()}"
    topic = contrib_topic(org)
    asyncio.run(ensure_topics(kafka_bootstrap, [contributor_topic_spec(org)]))
    env = {"SITN_HOME": str(tmp_path / "home"), "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
    command = ["import", "tourinsoft", "--as", org, str(TOURINSOFT_EXPORT)]

    first = sitn(command, env)
    assert first.exit_code == 3, first.output  # its bad record is left out
    created = asyncio.run(read_topic(kafka_bootstrap, topic))
    assert sorted(c.offer_id for c in created) == sorted(valid_tourinsoft_ids())
    assert all(isinstance(c.payload, OfferCreated) for c in created)
    assert {(c.contributor, c.source_system, c.source_version) for c in created} == {
        (org, "tourinsoft", 1)
    }

    second = sitn(command, env)
    assert second.exit_code == 3, second.output  # its bad record is left out
    assert "published 0 change(s)" in second.output
    assert len(asyncio.run(read_topic(kafka_bootstrap, topic))) == len(created)

    # A week later: the restaurant is gone and the hotel's prices moved.
    document = json.loads(TOURINSOFT_EXPORT.read_text(encoding="utf-8"))
    records = [r for r in document["value"] if r["SyndicObjectID"] != "RESNOR014V500002"]
    records[0]["Tarifs"] = "Chambre double|89|125"
    later = tmp_path / "export-2024-05-09.json"
    later.write_text(json.dumps({"value": records}), encoding="utf-8")
    third = sitn(
        [
            "import",
            "tourinsoft",
            "--as",
            org,
            "--taken-at",
            "2024-05-09T06:00:00+02:00",
            str(later),
        ],
        env,
    )
    assert third.exit_code == 3, third.output  # its bad record is left out
    seen = {c.event_id for c in created}
    new = [c for c in asyncio.run(read_topic(kafka_bootstrap, topic)) if c.event_id not in seen]
    assert len(new) == 2
    (withdrawn,) = [c for c in new if isinstance(c.payload, OfferWithdrawn)]
    assert withdrawn.offer_id == "RESNOR014V500002"
    assert withdrawn.payload == OfferWithdrawn("absent from the tourinsoft snapshot of 2024-05-09")
    (changed,) = [c for c in new if isinstance(c.payload, FieldGroupsChanged)]
    assert changed.offer_id == "HOTNOR014V500001"
    assert changed.payload.changed_groups == (FieldGroup.PRICES,)
    assert changed.source_version == 2


def test_a_datatourisme_zip_is_published_once(kafka_bootstrap: str, tmp_path: Path) -> None:
    org = f"cdt-import-{os.urandom(3).hex()}"
    topic = contrib_topic(org)
    asyncio.run(ensure_topics(kafka_bootstrap, [contributor_topic_spec(org)]))
    archive = tmp_path / "flux.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(DATATOURISME_FLUX.rglob("*.json")):
            zipped.write(path, path.relative_to(DATATOURISME_FLUX).as_posix())
    env = {"SITN_HOME": str(tmp_path / "home"), "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
    command = ["import", "datatourisme", "--as", org, str(archive)]
    for _ in range(2):
        result = sitn(command, env)
        assert result.exit_code == 3, result.output  # the flux's bad records are left out
    published = asyncio.run(read_topic(kafka_bootstrap, topic))
    parsed = datatourisme.read_flux(archive, load_normandy_territory(), taken_at=TAKEN_AT)
    assert sorted(c.offer_id for c in published) == sorted(o.offer_id for o in parsed.offers)
    assert {c.source_id for c in published} == {o.source_id for o in parsed.offers}
