"""On the real secured broker: each organisation and diffuser logs in as itself and may do only
what the registry gives it (`sitn access sync`); one removed from the registry is refused."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError, TopicAuthorizationFailedError
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from hub.access.kafka_admin import AccessError, _config, broker_grants
from hub.cli.access import sync_with_registry
from hub.core.registry import Registry
from hub.kafka_clients import ensure_topics, make_consumer, topic_partitions
from hub.kafka_security import KafkaSecurity
from hub.registry.format import load_normandy_registry
from hub.settings import Settings
from hub.topics import CUSTOMER_DATA, REGIONAL_CHANGES, REGISTRY, contributor_topic_spec, hub_topics

pytestmark = pytest.mark.kafka

A, B = "cdt-calvados", "ot-deauville"


@pytest.fixture
def hub_home(tmp_path: Path, kafka_bootstrap: str) -> Iterator[Settings]:
    """Settings of an operator on the session's broker, writing credentials under tmp_path."""
    settings = dataclasses.replace(
        Settings.from_env({**os.environ, "SITN_HOME": str(tmp_path)}),
        bootstrap_override=kafka_bootstrap,
    )
    registry = load_normandy_registry()
    specs = [*hub_topics(), *(contributor_topic_spec(org) for org in registry.organisations)]
    asyncio.run(ensure_topics(kafka_bootstrap, specs))
    yield settings
    # Leave the session's broker as other tests expect it: no organisation or diffuser left.
    sync_with_registry(settings, Registry())


def login(settings: Settings, principal: str) -> dict[str, str]:
    password = (settings.home / "kafka" / "credentials" / f"{principal}.password").read_text()
    return {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": principal,
        "sasl_plain_password": password.strip(),
    }


async def produce(bootstrap: str, topic: str, credentials: dict[str, str]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        request_timeout_ms=10_000,
        enable_idempotence=True,
        **credentials,
    )
    try:
        await producer.start()
        await producer.send_and_wait(topic, b"from a principal", key=b"HOTNOR014V500001")
    finally:
        await producer.stop()


async def metadata_error(bootstrap: str, topic: str, credentials: dict[str, str]) -> int:
    """The error code the broker answers a reader's first question (the topic's metadata) with:
    aiokafka's consumer retries a refused topic as if it were missing, so ask its admin."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **credentials)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
        return int(described["error_code"])
    finally:
        await admin.close()


async def end_of(bootstrap: str, topic: str) -> int:
    """How many records `topic` holds, as the administrator sees it."""
    partitions = await topic_partitions(bootstrap, [topic])
    consumer = make_consumer(bootstrap, group_id=None)
    await consumer.start()
    try:
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


def test_a_contributor_writes_its_own_topic_and_is_refused_anothers(hub_home: Settings) -> None:
    bootstrap = hub_home.bootstrap_servers
    report = sync_with_registry(hub_home, load_normandy_registry())
    assert f"org.{A}" in report.users_added
    as_a = login(hub_home, f"org.{A}")
    asyncio.run(produce(bootstrap, f"sitn.contrib.{A}", as_a))
    before = asyncio.run(end_of(bootstrap, f"sitn.contrib.{B}"))
    with pytest.raises(TopicAuthorizationFailedError):
        asyncio.run(produce(bootstrap, f"sitn.contrib.{B}", as_a))
    assert asyncio.run(end_of(bootstrap, f"sitn.contrib.{B}")) == before, "nothing landed"
    with pytest.raises(TopicAuthorizationFailedError):
        asyncio.run(produce(bootstrap, REGISTRY, as_a))


def test_a_diffuser_may_not_read_regional_changes_nor_customer_data(hub_home: Settings) -> None:
    bootstrap = hub_home.bootstrap_servers
    sync_with_registry(hub_home, load_normandy_registry())
    as_diffuser = login(hub_home, "diffuser.datatourisme")
    refused = TopicAuthorizationFailedError.errno
    for topic in (REGIONAL_CHANGES, CUSTOMER_DATA, f"sitn.contrib.{A}"):
        assert asyncio.run(metadata_error(bootstrap, topic, as_diffuser)) == refused, topic
    admin_login = KafkaSecurity.from_settings(hub_home).options()
    assert asyncio.run(metadata_error(bootstrap, REGIONAL_CHANGES, admin_login)) == 0


def test_an_organisation_removed_from_the_registry_is_refused_after_the_sync(
    hub_home: Settings,
) -> None:
    bootstrap = hub_home.bootstrap_servers
    registry = load_normandy_registry()
    sync_with_registry(hub_home, registry)
    as_b = login(hub_home, f"org.{B}")
    asyncio.run(produce(bootstrap, f"sitn.contrib.{B}", as_b))
    without_b = {org: o for org, o in registry.organisations.items() if org != B}
    report = sync_with_registry(hub_home, dataclasses.replace(registry, organisations=without_b))
    assert report.users_removed == (f"org.{B}",)
    assert {grant.principal for grant in report.grants_removed} == {f"org.{B}"}
    assert not (hub_home.home / "kafka" / "credentials" / f"org.{B}.password").exists()
    with pytest.raises(KafkaError):
        asyncio.run(produce(bootstrap, f"sitn.contrib.{B}", as_b))
    assert f"org.{B}" not in {g.principal for g in broker_grants(bootstrap, admin(hub_home))}


def test_a_second_sync_changes_nothing_and_passwords_are_private(hub_home: Settings) -> None:
    registry = load_normandy_registry()
    first = sync_with_registry(hub_home, registry)
    again = sync_with_registry(hub_home, registry)
    assert again.users_added == again.users_removed == ()
    assert again.grants_added == again.grants_removed == ()
    files = list((hub_home.home / "kafka" / "credentials").iterdir())
    assert sorted(file.name for file in files) == [f"{name}.password" for name in first.users_added]
    assert len(first.users_added) >= len(registry.organisations) + len(registry.diffusers)
    assert {file.stat().st_mode & 0o777 for file in files} == {0o600}


def admin(settings: Settings) -> KafkaSecurity:
    return KafkaSecurity.from_settings(settings)


def test_a_sync_removes_every_other_acl_of_a_hub_principal(hub_home: Settings) -> None:
    bootstrap = hub_home.bootstrap_servers
    sync_with_registry(hub_home, load_normandy_registry())
    by_hand = [
        AclBinding(
            ResourceType.TOPIC,
            f"sitn.contrib.{B}",
            ResourcePatternType.LITERAL,
            f"User:org.{B}",
            "*",
            AclOperation.WRITE,
            AclPermissionType.DENY,
        ),
        AclBinding(
            ResourceType.TOPIC,
            REGIONAL_CHANGES,
            ResourcePatternType.LITERAL,
            f"User:org.{B}",
            "*",
            AclOperation.ALL,
            AclPermissionType.ALLOW,
        ),
    ]
    client = AdminClient(_config(bootstrap, admin(hub_home)))
    for future in client.create_acls(by_hand).values():
        future.result(30)
    report = sync_with_registry(hub_home, load_normandy_registry())
    assert report.other_acls_removed == 2
    assert report.grants_added == report.grants_removed == ()
    asyncio.run(produce(bootstrap, f"sitn.contrib.{B}", login(hub_home, f"org.{B}")))


def test_a_rotated_principal_logs_in_with_its_new_password_only(hub_home: Settings) -> None:
    bootstrap = hub_home.bootstrap_servers
    registry = load_normandy_registry()
    sync_with_registry(hub_home, registry)
    old = login(hub_home, f"org.{A}")
    report = sync_with_registry(hub_home, registry, rotate=[f"org.{A}"])
    assert report.users_rotated == (f"org.{A}",)
    new = login(hub_home, f"org.{A}")
    assert new["sasl_plain_password"] != old["sasl_plain_password"]
    accepted_soon(lambda: asyncio.run(produce(bootstrap, f"sitn.contrib.{A}", new)))
    with pytest.raises(KafkaError):
        asyncio.run(produce(bootstrap, f"sitn.contrib.{A}", old))


def test_rotating_a_principal_the_registry_does_not_name_is_refused(hub_home: Settings) -> None:
    with pytest.raises(AccessError, match=r"cannot rotate org\.nobody: not a principal"):
        sync_with_registry(hub_home, load_normandy_registry(), rotate=["org.nobody"])


def accepted_soon(attempt: Callable[[], None]) -> None:
    """`attempt` succeeds within a few tries: a changed credential reaches the broker's
    authenticator a moment after the controller commits it."""
    for _ in range(50):
        try:
            attempt()
            return
        except KafkaError:
            time.sleep(0.1)
    attempt()
