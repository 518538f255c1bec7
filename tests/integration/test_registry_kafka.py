"""`sitn registry apply` on the real broker: publishes the difference, then nothing again."""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import app
from hub.core.registry import Registry
from hub.core.registry_events import EntryKind, RegistryRemoved, registry_to_events
from hub.registry.format import load_normandy_registry, registry_to_toml
from hub.registry.topic import TopicState, read_registry_topic

pytestmark = pytest.mark.kafka


def fresh_topic() -> str:
    return f"test.registry.{os.urandom(4).hex()}"


def write(path: Path, registry: Registry) -> Path:
    path.write_text(registry_to_toml(registry), encoding="utf-8")
    return path


def apply(bootstrap: str, path: Path, topic: str) -> str:
    result = CliRunner().invoke(
        app,
        ["registry", "apply", str(path), "--topic", topic],
        env={"KAFKA_BOOTSTRAP_SERVERS": bootstrap},
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def read(bootstrap: str, topic: str) -> TopicState:
    return asyncio.run(read_registry_topic(bootstrap, topic))


def test_applying_the_shipped_registry_publishes_one_event_per_entry(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic = fresh_topic()
    registry = load_normandy_registry()
    entries = len(registry_to_events(registry))
    output = apply(kafka_bootstrap, write(tmp_path / "r.toml", registry), topic)
    assert f"{entries} added, 0 changed, 0 removed, 0 unchanged" in output
    state = read(kafka_bootstrap, topic)
    assert len(state.events) == entries
    assert state.registry == registry


def test_applying_the_same_file_again_publishes_nothing(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic = fresh_topic()
    registry = load_normandy_registry()
    path = write(tmp_path / "r.toml", registry)
    apply(kafka_bootstrap, path, topic)
    published = len(read(kafka_bootstrap, topic).events)
    again = apply(kafka_bootstrap, path, topic)
    assert f"0 added, 0 changed, 0 removed, {published} unchanged" in again
    assert len(read(kafka_bootstrap, topic).events) == published


def test_a_convention_removed_from_the_file_is_removed_from_the_topic(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic = fresh_topic()
    registry = load_normandy_registry()
    apply(kafka_bootstrap, write(tmp_path / "before.toml", registry), topic)
    published = len(read(kafka_bootstrap, topic).events)
    (gone,) = (
        c for c in registry.contribution_conventions if c.convention_id == "cc-ot-bayeux-2016"
    )
    smaller = replace(
        registry,
        contribution_conventions=tuple(
            c for c in registry.contribution_conventions if c is not gone
        ),
    )
    output = apply(kafka_bootstrap, write(tmp_path / "after.toml", smaller), topic)
    assert "0 added, 0 changed, 1 removed" in output
    assert "- contribution_convention:cc-ot-bayeux-2016" in output
    state = read(kafka_bootstrap, topic)
    removal = RegistryRemoved(EntryKind.CONTRIBUTION_CONVENTION, gone.convention_id)
    assert state.events[published:] == (removal,)
    assert state.registry == smaller


def test_show_reads_what_apply_published(kafka_bootstrap: str, tmp_path: Path) -> None:
    topic = fresh_topic()
    apply(kafka_bootstrap, write(tmp_path / "r.toml", load_normandy_registry()), topic)
    result = CliRunner().invoke(
        app,
        ["registry", "show", "--topic", topic, "--at", "2019-03-01"],
        env={"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert f"from {topic}" in result.stdout
    in_force, _, dormant = result.stdout.partition("Not in force on 2019-03-01")
    assert "cc-ot-bayeux-2016" in in_force
    assert "cc-ot-bayeux-2020" in dormant


def test_a_file_with_problems_publishes_nothing(kafka_bootstrap: str, tmp_path: Path) -> None:
    topic = fresh_topic()
    path = tmp_path / "bad.toml"
    path.write_text(
        registry_to_toml(load_normandy_registry()).replace(
            'contributor = "ot-bayeux"', 'contributor = "ot-bayeu"'
        ),
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        app,
        ["registry", "apply", str(path), "--topic", topic],
        env={"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap},
    )
    assert result.exit_code == 2
    assert read(kafka_bootstrap, topic).events == ()
