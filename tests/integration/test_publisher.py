"""The publisher validates before sending, numbers versions, and reports exactly what it sent."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaTimeoutError
from typer.testing import CliRunner

from hub.cli import app
from hub.codec import decode_contribution
from hub.core.contribution import Contribution, FieldGroupsChanged, OfferCreated
from hub.core.offer import LocalizedText, OfferFields, OfferType, Prices
from hub.kafka_clients import ensure_topics, make_consumer
from hub.records import contribution_to_json
from hub.reference import load_normandy_territory
from hub.topics import OFFER_PARTITIONS, contrib_topic, contributor_topic_spec
from producers.publisher import Change, Publisher, SentEvent, _Chunk
from tests.conftest import free_port
from tests.support import examples

pytestmark = pytest.mark.kafka

AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def creation(offer_id: str) -> Change:
    return Change(
        offer_id=offer_id,
        payload=OfferCreated(OfferType.HOT, examples.rich_offer_fields()),
        occurred_at=AT,
        source_system="tourinsoft",
        source_id=offer_id,
    )


def price_change(offer_id: str) -> Change:
    return Change(
        offer_id, FieldGroupsChanged(OfferFields(prices=Prices(free=True))), AT, "ts", "1"
    )


async def topic_of(bootstrap: str) -> tuple[str, str]:
    """A fresh contributor id (so each test has its own topic), and that topic, created."""
    org = f"ot-test-{os.urandom(3).hex()}"
    await ensure_topics(bootstrap, [contributor_topic_spec(org)])
    return org, contrib_topic(org)


async def read_all(bootstrap: str, topic: str) -> list[tuple[bytes, Contribution]]:
    consumer = make_consumer(bootstrap, group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(OFFER_PARTITIONS)]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.seek_to_beginning(*partitions)
        found: list[tuple[bytes, Contribution]] = []
        while sum(ends.values()) > sum([await consumer.position(tp) for tp in partitions]):
            batch = await consumer.getmany(timeout_ms=1000)
            found += [(r.key, decode_contribution(r.value)) for rs in batch.values() for r in rs]
        return found
    finally:
        await consumer.stop()


def publisher(
    bootstrap: str, org: str, tmp_path: Path, kind: type[Publisher] = Publisher, **options: int
) -> Publisher:
    return kind(
        bootstrap=bootstrap,
        contributor=org,
        state_dir=tmp_path,
        territory=load_normandy_territory(),
        **options,
    )


async def test_a_valid_change_is_keyed_by_offer_and_numbered_per_offer(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    org, topic = await topic_of(kafka_bootstrap)
    first = await publisher(kafka_bootstrap, org, tmp_path).publish([creation("HOTNOR014V500001")])
    second = await publisher(kafka_bootstrap, org, tmp_path).publish(
        [price_change("HOTNOR014V500001"), creation("HOTNOR014V500002")]
    )
    assert first.ok
    assert second.ok
    assert [(e.offer_id, e.source_version) for e in first.sent + second.sent] == [
        ("HOTNOR014V500001", 1),
        ("HOTNOR014V500001", 2),
        ("HOTNOR014V500002", 1),
    ]
    records = await read_all(kafka_bootstrap, topic)
    assert sorted((key, c.event_id) for key, c in records) == [
        (b"HOTNOR014V500001", f"{org}/HOTNOR014V500001/1"),
        (b"HOTNOR014V500001", f"{org}/HOTNOR014V500001/2"),
        (b"HOTNOR014V500002", f"{org}/HOTNOR014V500002/1"),
    ]
    assert all(c.contributor == org for _, c in records)


async def test_one_invalid_change_means_nothing_is_sent_and_the_fault_is_named(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    org, topic = await topic_of(kafka_bootstrap)
    english_only = OfferFields(names=(LocalizedText("en", "Seaside hotel"),))
    bad = replace(creation("HOTNOR014V500003"), payload=FieldGroupsChanged(english_only))
    report = await publisher(kafka_bootstrap, org, tmp_path).publish(
        [creation("HOTNOR014V500004"), bad]
    )
    assert not report.ok
    assert report.sent == ()
    assert len(report.unsent) == 2
    (refusal,) = report.refused
    assert refusal.position == 2
    assert "names" in refusal.describe()
    assert "charte.name_fr" in refusal.describe()
    assert await read_all(kafka_bootstrap, topic) == []


async def test_skip_invalid_publishes_the_valid_changes_only(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    org, topic = await topic_of(kafka_bootstrap)
    naive = replace(creation("HOTNOR014V500005"), occurred_at=datetime(2026, 3, 1))  # noqa: DTZ001
    report = await publisher(kafka_bootstrap, org, tmp_path).publish(
        [naive, creation("HOTNOR014V500006")], skip_invalid=True
    )
    assert [e.offer_id for e in report.sent] == ["HOTNOR014V500006"]
    assert [r.violations[0].rule for r in report.refused] == ["envelope.occurred_at"]
    assert len(await read_all(kafka_bootstrap, topic)) == 1


async def test_a_version_not_newer_than_the_last_published_is_refused(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    org, _ = await topic_of(kafka_bootstrap)
    await publisher(kafka_bootstrap, org, tmp_path).publish(
        [replace(creation("HOTNOR014V500007"), source_version=5)]
    )
    report = await publisher(kafka_bootstrap, org, tmp_path).publish(
        [replace(price_change("HOTNOR014V500007"), source_version=5)]
    )
    assert report.sent == ()
    assert "not newer than 5" in report.refused[0].describe()


async def test_an_unreachable_broker_is_retried_then_reported_with_nothing_sent(
    tmp_path: Path,
) -> None:
    dead = f"127.0.0.1:{free_port()}"
    report = await publisher(dead, "ot-bayeux", tmp_path, connect_attempts=2).publish(
        [creation("HOTNOR014V500008")]
    )
    assert report.sent == ()
    assert report.error is not None
    assert "after 2 attempts" in report.error
    assert "nothing was published" in report.error
    assert [c.offer_id for c in report.unsent] == ["HOTNOR014V500008"]


def test_sitn_publish_names_the_line_field_and_rule_of_each_bad_change(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    org, topic = asyncio.run(topic_of(kafka_bootstrap))
    good = contribution_to_json(
        replace(examples.rich_creation(), contributor=org, offer_id="HOTNOR014V500009")
    )
    negative = json.loads(json.dumps(good))
    negative["offer_id"] = "HOTNOR014V500010"
    negative["payload"]["fields"]["prices"]["lines"][0]["minimum"] = "-3.00"
    lines = tmp_path / "changes.jsonl"
    lines.write_text("\n".join([json.dumps(good), "{not json", json.dumps(negative)]) + "\n")
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "SITN_HOME": str(tmp_path)}

    refused = CliRunner().invoke(app, ["publish", "--as", org, str(lines)], env=env)
    assert refused.exit_code == 2
    assert "line 2: not valid JSON" in refused.output
    assert "nothing was published" in refused.output
    assert asyncio.run(read_all(kafka_bootstrap, topic)) == []

    partial = CliRunner().invoke(
        app, ["publish", "--as", org, str(lines), "--skip-invalid"], env=env
    )
    assert partial.exit_code == 0, partial.output
    assert "line 3" in partial.output
    assert "charte.prices" in partial.output
    assert "1 events published" in partial.output
    assert [c.offer_id for _, c in asyncio.run(read_all(kafka_bootstrap, topic))] == [
        "HOTNOR014V500009"
    ]


def test_sitn_publish_names_a_file_that_is_not_utf8_text_and_sends_nothing(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    org, topic = asyncio.run(topic_of(kafka_bootstrap))
    binary = tmp_path / "offers.zip"
    binary.write_bytes(b"PK\x03\x04\n\x00\x00\x00\x08\x00\xb7\x9c\xff\xfe")
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "SITN_HOME": str(tmp_path)}

    result = CliRunner().invoke(app, ["publish", "--as", org, str(binary)], env=env)

    assert result.exit_code == 2
    assert "offers.zip is not UTF-8 text (byte 0xb7 at offset 10, line 2)" in result.output
    assert "sitn import" in result.output
    assert "Traceback" not in result.output
    assert asyncio.run(read_all(kafka_bootstrap, topic)) == []


def test_sitn_publish_says_so_when_a_file_holds_no_change(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    org, topic = asyncio.run(topic_of(kafka_bootstrap))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n  \n")
    report = tmp_path / "report.json"
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "SITN_HOME": str(tmp_path)}

    result = CliRunner().invoke(
        app, ["publish", "--as", org, str(empty), "--report", str(report)], env=env
    )

    assert result.exit_code == 0, result.output
    assert json.loads(report.read_text())["sent"] == []
    assert "empty.jsonl holds no change" in result.output
    assert "nothing to publish" in result.output
    assert asyncio.run(read_all(kafka_bootstrap, topic)) == []


def test_an_organisation_without_a_topic_is_refused_at_once_and_reserves_no_version(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    unknown = f"ot-nowhere-{os.urandom(3).hex()}"
    lines = tmp_path / "changes.jsonl"
    good = contribution_to_json(
        replace(examples.rich_creation(), contributor=unknown, offer_id="HOTNOR014V500011")
    )
    lines.write_text(json.dumps(good) + "\n")
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "SITN_HOME": str(tmp_path)}

    result = CliRunner().invoke(app, ["publish", "--as", unknown, str(lines)], env=env)

    assert result.exit_code == 1
    assert f"there is no topic sitn.contrib.{unknown}" in result.output
    assert "sitn registry apply" in result.output
    assert "nothing was published" in result.output
    # Once the topic exists, the same file, with its explicit version, goes through: the refused
    # attempt reserved nothing.
    asyncio.run(ensure_topics(kafka_bootstrap, [contributor_topic_spec(unknown)]))
    again = CliRunner().invoke(app, ["publish", "--as", unknown, str(lines)], env=env)
    assert again.exit_code == 0, again.output
    [(_, sent)] = asyncio.run(read_all(kafka_bootstrap, contrib_topic(unknown)))
    assert sent.source_version == good["source_version"] == 7


def test_a_file_saved_with_a_byte_order_mark_is_read_like_any_other(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    org, topic = asyncio.run(topic_of(kafka_bootstrap))
    good = contribution_to_json(
        replace(examples.rich_creation(), contributor=org, offer_id="HOTNOR014V500012")
    )
    lines = tmp_path / "from-a-spreadsheet.jsonl"
    lines.write_bytes(b"\xef\xbb\xbf" + json.dumps(good).encode() + b"\n")
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "SITN_HOME": str(tmp_path)}

    result = CliRunner().invoke(app, ["publish", "--as", org, str(lines)], env=env)

    assert result.exit_code == 0, result.output
    assert [c.offer_id for _, c in asyncio.run(read_all(kafka_bootstrap, topic))] == [
        "HOTNOR014V500012"
    ]


class CommitFailsOnce(Publisher):
    """A publisher whose first transaction sends its records and then fails, as a commit the
    broker never answers does: the transaction is aborted and nothing of it is committed."""

    failures = 1

    async def _send_chunk(
        self, producer: AIOKafkaProducer, chunk: _Chunk, encoded: Sequence[bytes]
    ) -> list[SentEvent]:
        if self.failures:
            self.failures -= 1
            async with producer.transaction():
                for c, value in zip(chunk.contributions, encoded, strict=True):
                    await producer.send(self.topic, value=value, key=c.offer_id.encode())
                raise KafkaTimeoutError("injected: the commit was never answered")
        return await super()._send_chunk(producer, chunk, encoded)


async def test_a_send_that_did_not_commit_can_be_retried_with_its_explicit_version(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    org, topic = await topic_of(kafka_bootstrap)
    change = replace(creation("HOTNOR014V500013"), source_version=4)

    failed = await publisher(kafka_bootstrap, org, tmp_path, CommitFailsOnce).publish([change])
    retried = await publisher(kafka_bootstrap, org, tmp_path).publish([change])
    other = await publisher(kafka_bootstrap, org, tmp_path).publish(
        [replace(price_change("HOTNOR014V500013"), source_version=4)]
    )

    assert failed.error is not None
    assert failed.sent == ()
    assert [e.source_version for e in retried.sent] == [4]
    # A version never names two contents: other content under version 4 is still refused.
    assert other.sent == ()
    assert "not newer than 4" in other.refused[0].describe()
    assert [c.source_version for _, c in await read_all(kafka_bootstrap, topic)] == [4]


async def test_a_numbered_send_that_did_not_commit_gets_its_version_again_when_retried(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    org, topic = await topic_of(kafka_bootstrap)
    change = creation("HOTNOR014V500014")

    failed = await publisher(kafka_bootstrap, org, tmp_path, CommitFailsOnce).publish([change])
    retried = await publisher(kafka_bootstrap, org, tmp_path).publish([change])
    following = await publisher(kafka_bootstrap, org, tmp_path).publish(
        [price_change("HOTNOR014V500014")]
    )

    assert failed.error is not None
    assert [e.source_version for e in retried.sent] == [1]
    assert [e.source_version for e in following.sent] == [2]
    assert [c.source_version for _, c in await read_all(kafka_bootstrap, topic)] == [1, 2]
