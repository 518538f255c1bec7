"""`sitn registry apply` gives the registry's parties their logins and rights, and `sitn access
show` says who may do what, on a secured broker of the test's own."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import hub.registry
from hub.broker import LocalBroker
from hub.cli import app
from hub.kafka_clients import ensure_topics
from hub.topics import hub_topics
from tests.conftest import logged_in, make_test_broker

NORMANDY_REGISTRY = Path(hub.registry.__file__).parent / "normandy.toml"

pytestmark = pytest.mark.kafka


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[LocalBroker]:
    instance = make_test_broker(tmp_path / "kafka")
    instance.start()
    try:
        with logged_in(instance):
            asyncio.run(ensure_topics(instance.bootstrap, hub_topics()))
            yield instance
    finally:
        instance.stop()


def test_applying_the_registry_gives_each_party_a_login_and_show_says_what_it_may_do(
    broker: LocalBroker, tmp_path: Path
) -> None:
    env = {"KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "SITN_HOME": str(tmp_path / "hub")}
    applied = CliRunner().invoke(app, ["registry", "apply", str(NORMANDY_REGISTRY)], env=env)
    assert applied.exit_code == 0, applied.output
    assert "+ user org.cdt-calvados  (password in" in applied.output
    assert "+ org.cdt-calvados: write topic sitn.contrib.cdt-calvados" in applied.output
    assert (tmp_path / "hub" / "kafka" / "credentials" / "org.cdt-calvados.password").exists()

    again = CliRunner().invoke(app, ["access", "sync"], env=env)
    assert again.exit_code == 0, again.output
    assert "0 user(s) added, 0 removed; 0 right(s) granted, 0 withdrawn" in again.output

    shown = CliRunner().invoke(app, ["access", "show"], env={**env, "COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "diffuser.datatourisme" in shown.output
    assert "read topic sitn.feed.datatourisme" in shown.output
    assert "sitn-operator" in shown.output
    assert "principal(s) besides the administrator" in shown.output


def test_a_principal_that_is_not_the_administrator_is_told_so(
    broker: LocalBroker, tmp_path: Path
) -> None:
    home = tmp_path / "hub"
    env = {"KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "SITN_HOME": str(home)}
    synced = CliRunner().invoke(app, ["access", "sync", "--file", str(NORMANDY_REGISTRY)], env=env)
    assert synced.exit_code == 0, synced.output
    as_org = {
        **env,
        "SITN_KAFKA_USER": "org.cdt-calvados",
        "SITN_KAFKA_PASSWORD_FILE": str(
            home / "kafka" / "credentials" / "org.cdt-calvados.password"
        ),
    }
    refused = CliRunner().invoke(
        app, ["access", "sync", "--file", str(NORMANDY_REGISTRY)], env=as_org
    )
    assert refused.exit_code == 1
    assert "org.cdt-calvados may not manage the broker's users and ACLs" in refused.output
