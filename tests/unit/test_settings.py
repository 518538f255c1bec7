"""Settings come from the environment, and bad values are refused with the variable's name."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest

from hub import settings as settings_module
from hub.settings import Settings, SettingsError


def test_defaults_point_at_the_local_broker_and_an_sqlite_store(tmp_path: Path) -> None:
    settings = Settings.from_env({"SITN_HOME": str(tmp_path)})
    assert settings.bootstrap_servers == "127.0.0.1:9092"
    assert settings.database_url == f"sqlite:///{tmp_path / 'store.db'}"


def test_overrides_win_over_the_local_defaults() -> None:
    settings = Settings.from_env(
        {"KAFKA_BOOTSTRAP_SERVERS": "kafka:9092", "SITN_DATABASE_URL": "postgresql+psycopg://x/y"}
    )
    assert settings.bootstrap_servers == "kafka:9092"
    assert settings.database_url == "postgresql+psycopg://x/y"


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"SITN_KAFKA_PORT": "kafka"}, "SITN_KAFKA_PORT='kafka' is not a port number"),
        ({"SITN_KAFKA_PORT": "80"}, "SITN_KAFKA_PORT='80' is out of range"),
        (
            {"SITN_KAFKA_PORT": "19092", "SITN_KAFKA_CONTROLLER_PORT": "19092"},
            "both 19092",
        ),
    ],
)
def test_unusable_ports_are_refused_with_the_variable_named(
    variables: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(variables)


def test_the_batch_window_is_fifty_milliseconds_unless_set() -> None:
    assert Settings.from_env({}).batch_ms == 50
    assert Settings.from_env({"SITN_BATCH_MS": "200"}).batch_ms == 200


@pytest.mark.parametrize("raw", ["0", "-5", "10001", "0.5", "soon"])
def test_an_unusable_batch_window_is_refused_with_the_variable_named(raw: str) -> None:
    with pytest.raises(SettingsError, match=rf"SITN_BATCH_MS='{raw}' is not a whole number"):
        Settings.from_env({"SITN_BATCH_MS": raw})


def test_without_sitn_home_a_checkout_keeps_its_state_in_the_project_whatever_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(tmp_path)

    settings = Settings.from_env({})

    assert settings.home == project / ".sitn"
    assert settings.home_origin.startswith("the project's folder")
    assert settings.database_url == f"sqlite:///{project / '.sitn' / 'store.db'}"


def test_an_installed_hub_without_sitn_home_keeps_its_state_in_a_per_user_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed = tmp_path / "site-packages" / "hub" / "settings.py"
    monkeypatch.setattr(settings_module, "__file__", str(installed))

    settings = Settings.from_env({"XDG_STATE_HOME": str(tmp_path / "state")})

    assert settings.home == tmp_path / "state" / "sitn"
    assert settings.home_origin.startswith("the per-user folder")


def test_sitn_home_wins_and_says_so(tmp_path: Path) -> None:
    settings = Settings.from_env({"SITN_HOME": str(tmp_path)})
    assert (settings.home, settings.home_origin) == (tmp_path, "SITN_HOME")


def test_the_webhook_allow_list_holds_addresses_networks_and_host_names() -> None:
    settings = Settings.from_env(
        {"SITN_WEBHOOK_ALLOW": " 127.0.0.1, 10.20.0.0/16 ,[::1],, Hooks.Intranet.Example. "}
    )

    assert settings.webhook_allow == (
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("10.20.0.0/16"),
        ipaddress.ip_network("::1/128"),
        "hooks.intranet.example",
    )
    assert Settings.from_env({}).webhook_allow == ()


@pytest.mark.parametrize(
    "entry", ["not a host", "10.0.0.0/33", "http://x.example/", "-bad-.example"]
)
def test_an_unusable_webhook_allow_list_entry_is_refused_naming_it(entry: str) -> None:
    with pytest.raises(SettingsError, match=f"SITN_WEBHOOK_ALLOW: {re.escape(repr(entry))}"):
        Settings.from_env({"SITN_WEBHOOK_ALLOW": f"127.0.0.1,{entry}"})
