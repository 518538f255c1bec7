"""docker-compose.yml cannot run here (no Docker engine), so its consistency is checked by parsing.

It must offer the same broker (Kafka 3.9 in KRaft mode), a PostgreSQL store, and hub services that
run real `sitn` commands with only the environment variables the hub reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from hub.broker import KAFKA_VERSION
from hub.cli import app
from hub.settings import ENVIRONMENT_VARIABLES

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text())
    found: dict[str, Any] = document["services"]
    return found


def hub_services(services: dict[str, Any]) -> dict[str, Any]:
    return {name: spec for name, spec in services.items() if name.startswith("hub")}


def test_compose_runs_the_same_kafka_release_as_the_local_broker(services: dict[str, Any]) -> None:
    kafka = services["kafka"]
    assert kafka["image"] == f"apache/kafka:{KAFKA_VERSION}"
    assert "127.0.0.1:9092:9092" in kafka["ports"]
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "1"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"


def test_compose_offers_a_postgresql_store(services: dict[str, Any]) -> None:
    assert services["postgres"]["image"].startswith("postgres:")
    assert "127.0.0.1:5432:5432" in services["postgres"]["ports"]


def test_hub_services_use_only_variables_the_hub_reads(services: dict[str, Any]) -> None:
    hubs = hub_services(services)
    assert hubs, "compose declares at least one hub service"
    for name, spec in hubs.items():
        unknown = set(spec.get("environment", {})) - set(ENVIRONMENT_VARIABLES)
        assert not unknown, f"{name} sets variables the hub never reads: {sorted(unknown)}"


def test_hub_services_reach_kafka_on_a_listener_the_broker_advertises(
    services: dict[str, Any],
) -> None:
    advertised = services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    for spec in hub_services(services).values():
        bootstrap = spec["environment"]["KAFKA_BOOTSTRAP_SERVERS"]
        assert f"//{bootstrap}" in advertised


def leaf_command(words: list[str]) -> list[str] | None:
    """The longest prefix of `words` that is a real `sitn` command taking no sub-command."""
    runner = CliRunner()
    found = None
    for end in range(1, len(words) + 1):
        prefix = words[:end]
        result = runner.invoke(app, [*prefix, "--help"], terminal_width=200)
        if result.exit_code != 0 or f"Usage: sitn {' '.join(prefix)} " not in result.output:
            break
        found = None if "COMMAND [ARGS]" in result.output else prefix
    return found


def test_hub_services_run_real_sitn_commands(services: dict[str, Any]) -> None:
    for name, spec in hub_services(services).items():
        program, *words = spec["command"]
        assert program == "sitn", name
        assert leaf_command(words) is not None, f"{name} runs `sitn {' '.join(words)}`"


def test_published_ports_listen_on_this_machine_only(services: dict[str, Any]) -> None:
    published = [port for spec in services.values() for port in spec.get("ports", [])]
    assert published
    assert all(str(port).startswith("127.0.0.1:") for port in published), published


def test_no_password_ships_with_the_file() -> None:
    text = COMPOSE.read_text()
    assert "sitn:sitn@" not in text
    assert "POSTGRES_PASSWORD: ${SITN_POSTGRES_PASSWORD:?" in text
