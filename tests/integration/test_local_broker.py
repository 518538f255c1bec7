"""The local broker's lifecycle (idempotent start, clean stop, stale pid files, clear errors)
and its door: only clients that log in get through."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from hub.broker import BrokerError, LocalBroker, ensure_kafka_jars
from hub.broker.process import new_cluster_id
from hub.kafka_clients import make_consumer
from hub.settings import LOCAL_ADMIN
from tests.conftest import free_port, make_test_broker

pytestmark = pytest.mark.kafka


def java_processes_using(config_path: Path) -> list[int]:
    """Pids of live java processes whose command line names this broker's config file."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(config_path).encode() in argv and b"kafka.Kafka" in argv:
            found.append(int(entry.name))
    return found


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[LocalBroker]:
    instance = make_test_broker(tmp_path)
    try:
        yield instance
    finally:
        instance.stop()


def test_starting_a_running_broker_is_a_no_op_and_stop_leaves_no_java(broker: LocalBroker) -> None:
    ensure_kafka_jars(broker.cache_dir)  # whatever ran before, the next start finds them cached
    first = broker.start()
    assert not first.already_running
    assert first.jars is not None
    assert not first.jars.downloaded, "the jars come from the cache, Maven is not run again"

    second = broker.start()
    assert second.already_running
    assert second.pid == first.pid
    assert java_processes_using(broker.config_path) == [first.pid]
    assert broker.status().running

    assert broker.stop() is True
    assert java_processes_using(broker.config_path) == []
    assert not broker.status().running
    assert broker.stop() is False, "stopping a stopped broker says it was not running"


def test_a_stale_pid_file_is_replaced_on_start(broker: LocalBroker) -> None:
    broker.root.mkdir(parents=True)
    # Our own pid is alive but is not a Kafka broker: it must not be taken for one.
    broker.pid_path.write_text(f"{os.getpid()}\n")
    assert broker.status().running is False
    assert not broker.pid_path.exists()

    broker.pid_path.write_text("not a pid\n")
    outcome = broker.start()
    assert not outcome.already_running
    assert int(broker.pid_path.read_text()) == outcome.pid


def test_a_port_taken_by_another_program_is_named_in_the_error(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        broker = LocalBroker(
            home=tmp_path, cache_dir=tmp_path / "cache", port=taken, controller_port=free_port()
        )
        with pytest.raises(BrokerError, match=f"port {taken} .* already in use.*SITN_KAFKA_PORT"):
            broker.start()


def test_missing_java_names_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    broker = LocalBroker(
        home=tmp_path, cache_dir=tmp_path / "cache", port=free_port(), controller_port=free_port()
    )
    with pytest.raises(BrokerError, match=r"Java 17 \(`java`\).*apt-get install.*docker compose"):
        broker.start()


def test_missing_maven_with_an_empty_cache_names_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    java_dir = tmp_path / "bin"
    java_dir.mkdir()
    (java_dir / "java").symlink_to("/usr/bin/java")
    monkeypatch.setenv("PATH", str(java_dir))
    broker = LocalBroker(
        home=tmp_path,
        cache_dir=tmp_path / "empty-cache",
        port=free_port(),
        controller_port=free_port(),
    )
    with pytest.raises(BrokerError, match=r"Maven \(`mvn`\).*not on PATH.*docker compose up kafka"):
        broker.start()


def test_a_cluster_id_never_starts_with_a_dash_the_storage_tool_would_take_for_an_option() -> None:
    # One id in 64 would start with "-" if drawn once; 2,000 draws meet that case ~31 times.
    ids = [new_cluster_id() for _ in range(2_000)]

    assert not [cluster_id for cluster_id in ids if cluster_id.startswith("-")]
    assert {len(cluster_id) for cluster_id in ids} == {22}
    assert len(set(ids)) == len(ids)


# ---------------------------------------------------------------- authentication


async def produce_as(broker: LocalBroker, **login: str) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=broker.bootstrap, request_timeout_ms=5_000, **login
    )
    try:
        await asyncio.wait_for(producer.start(), 20)
        await asyncio.wait_for(producer.send_and_wait("sitn.broker.probe", b"forged"), 20)
    finally:
        await producer.stop()


async def probe_records(broker: LocalBroker) -> int:
    """How many records the probe topic holds, as the administrator sees it."""
    consumer = make_consumer(broker.bootstrap, group_id=None, security=broker.admin_security())
    await consumer.start()
    try:
        partition = TopicPartition("sitn.broker.probe", 0)
        return int((await consumer.end_offsets([partition]))[partition])
    finally:
        await consumer.stop()


async def test_a_client_without_credentials_or_with_a_wrong_password_is_refused(
    broker: LocalBroker,
) -> None:
    await asyncio.to_thread(broker.start)
    before = await probe_records(broker)
    with pytest.raises(KafkaError):
        await produce_as(broker)
    with pytest.raises(KafkaError):
        await produce_as(
            broker,
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_plain_username=LOCAL_ADMIN,
            sasl_plain_password="not-the-password",
        )
    assert await probe_records(broker) == before, "nothing landed"


def test_the_broker_keeps_its_passwords_readable_by_its_owner_only(broker: LocalBroker) -> None:
    broker.start()
    private = [broker.config_path, *broker.credentials_dir.iterdir()]
    assert {stat.S_IMODE(path.stat().st_mode) for path in private} == {0o600}
    assert stat.S_IMODE(broker.credentials_dir.stat().st_mode) == 0o700
    password = broker.admin_password_file.read_text().strip()
    assert password not in broker.log_path.read_text()


def test_data_made_before_authentication_is_refused_saying_what_to_remove(
    broker: LocalBroker,
) -> None:
    broker.data_dir.mkdir(parents=True)
    (broker.data_dir / "meta.properties").write_text("version=1\n")
    with pytest.raises(
        BrokerError, match=r"before the local broker required authentication.*remove"
    ):
        broker.start()
