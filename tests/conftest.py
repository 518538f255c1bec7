"""Session fixtures for the real components the tests talk to.

Kafka, in this order (the first that applies wins):
1. `KAFKA_BOOTSTRAP_SERVERS` if set: a broker someone already runs;
2. a testcontainers Kafka 3.9 broker, if a Docker engine answers;
3. the project's own local broker (`hub.broker.LocalBroker`), started on two free loopback ports
   in a fresh folder for this session and stopped at its end.
Tests never talk to a mock broker.

PostgreSQL (`postgres_url`), in this order:
1. `SITN_TEST_POSTGRES_URL` if set: a database someone provides (the tests may empty its tables);
2. a throw-away server from Debian's packages (`tests.support.postgres_server`), started on a free
   loopback port in a fresh folder, with one database for the session, stopped at its end.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.broker import LocalBroker
from hub.settings import LOCAL_ADMIN, Settings
from tests.support.artifacts import saved_artifacts
from tests.support.postgres_server import PostgresServer


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def docker_answers() -> bool:
    """True if a Docker engine answers `/_ping` on its socket (the client alone is not enough)."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        return False  # remote engines are not used by this suite
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(3)
            sock.connect(host.removeprefix("unix://"))
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return b" 200 " in sock.recv(1024)
    except OSError:
        return False


BROKER_LOGIN = (
    "SITN_KAFKA_SECURITY_PROTOCOL",
    "SITN_KAFKA_SASL_MECHANISM",
    "SITN_KAFKA_USER",
    "SITN_KAFKA_PASSWORD_FILE",
)


def broker_login(broker: LocalBroker) -> dict[str, str]:
    """The environment that makes a client log in to `broker` as its administrator."""
    if not broker.secured:
        return dict(zip(BROKER_LOGIN, ("PLAINTEXT", "", "", ""), strict=True))
    return dict(
        zip(
            BROKER_LOGIN,
            ("SASL_PLAINTEXT", "SCRAM-SHA-512", LOCAL_ADMIN, str(broker.admin_password_file)),
            strict=True,
        )
    )


@contextlib.contextmanager
def logged_in(broker: LocalBroker) -> Iterator[None]:
    """Meanwhile, every client built in this process, and in the `sitn` processes started with
    its environment, logs in to `broker` as its administrator, as a local hub's clients do."""
    saved = {name: os.environ.get(name) for name in BROKER_LOGIN}
    os.environ.update(broker_login(broker))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def make_test_broker(home: Path, *, secured: bool = True) -> LocalBroker:
    settings = Settings.from_env()
    return LocalBroker(
        secured=secured,
        home=home,
        cache_dir=settings.cache_dir,
        port=free_port(),
        controller_port=free_port(),
        heap="768m",
    )


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap servers of a real Kafka broker for the whole session."""
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        yield configured
        return
    if docker_answers():
        from testcontainers.community.kafka import KafkaContainer

        with KafkaContainer("confluentinc/cp-kafka:7.9.0").with_kraft() as container:
            yield str(container.get_bootstrap_server())
        return
    broker = make_test_broker(tmp_path_factory.mktemp("kafka-session"))
    broker.start()
    try:
        with logged_in(broker):
            yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of an empty PostgreSQL database for the whole session."""
    configured = os.environ.get("SITN_TEST_POSTGRES_URL")
    if configured:
        yield configured
        return
    server = PostgresServer()
    try:
        server.start()
        yield server.create_database("sitn_test")
    finally:
        server.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Lists the files tests saved for people to look at (`tests.support.artifacts`)."""
    for path in saved_artifacts():
        terminalreporter.write_line(f"test artifact: {path}")
