"""`sitn registry check` and `show --file`: no broker needed, problems stop everything."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import app
from hub.registry.format import load_normandy_registry, normandy_registry_text

WIDE = {"COLUMNS": "200"}
NARROW = {"COLUMNS": "80"}


@pytest.fixture
def shipped(tmp_path: Path) -> Path:
    path = tmp_path / "normandy.toml"
    path.write_text(normandy_registry_text(), encoding="utf-8")
    return path


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    text = (
        normandy_registry_text()
        .replace('contributor = "ot-bayeux"', 'contributor = "ot-bayeu"')
        .replace('languages = ["fr"]\n', 'languages = ["fr", "pt"]\n', 1)
    )
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_check_accepts_the_shipped_registry_and_summarises_it(shipped: Path) -> None:
    result = CliRunner().invoke(app, ["registry", "check", str(shipped)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.stdout
    assert f"{len(load_normandy_registry().organisations)} organisations" in result.stdout


def test_check_prints_every_problem_with_its_file_and_entry_and_exits_2(broken: Path) -> None:
    result = CliRunner().invoke(app, ["registry", "check", str(broken)], env=WIDE)
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith(str(broken))]
    bayeux = [line for line in lines if "unknown organisation 'ot-bayeu'" in line]
    referrers = normandy_registry_text().count('contributor = "ot-bayeux"')
    assert len(bayeux) == referrers  # Bayeux's conventions and its concession
    assert any(
        "[[contribution_convention]]" in line and "(cc-ot-bayeux-2020)" in line for line in bayeux
    )
    assert any("unknown language 'pt'" in line for line in lines)
    assert f"{referrers + 1} problems in {broken}" in result.stderr


def test_check_of_a_missing_file_names_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["registry", "check", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2
    assert "nope.toml" in result.stderr


def test_apply_of_a_broken_file_publishes_nothing_and_needs_no_broker(broken: Path) -> None:
    # The bootstrap points nowhere: validation must stop the command before any connection.
    env = {**WIDE, "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}
    result = CliRunner().invoke(app, ["registry", "apply", str(broken)], env=env)
    assert result.exit_code == 2
    assert "unknown organisation 'ot-bayeu'" in result.stderr
    assert "cannot reach Kafka" not in result.output


def test_show_lists_what_is_in_force_on_a_date_and_what_is_not(shipped: Path) -> None:
    result = CliRunner().invoke(
        app, ["registry", "show", "--file", str(shipped), "--at", "2019-03-01"], env=WIDE
    )
    assert result.exit_code == 0, result.output
    in_force, _, dormant = result.stdout.partition("Not in force on 2019-03-01")
    assert "cc-ot-bayeux-2016" in in_force
    assert "cc-ot-bayeux-2020" not in in_force
    assert "cc-ot-bayeux-2020" in dormant
    assert "crt-fma-armada-2019" in in_force
    for title in ("Organisations", "Contribution conventions", "Diffusion conventions"):
        assert title in in_force


def test_show_at_a_later_date_swaps_the_conventions(shipped: Path) -> None:
    result = CliRunner().invoke(
        app, ["registry", "show", "--file", str(shipped), "--at", "2024-03-01"], env=WIDE
    )
    in_force, _, dormant = result.stdout.partition("Not in force on 2024-03-01")
    assert "cc-ot-bayeux-2020" in in_force
    assert "cc-ot-bayeux-2016" in dormant
    assert "crt-fma-armada-2019" in dormant


def test_show_on_a_narrow_terminal_keeps_ids_whole(shipped: Path) -> None:
    result = CliRunner().invoke(
        app, ["registry", "show", "--file", str(shipped), "--at", "2024-03-01"], env=NARROW
    )
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.stdout.splitlines() if "│" in line) <= 80
    assert "cc-fed-prefecture-calvados-classements" in result.stdout
    assert "diffuser: calendrierdesfetes" in result.stdout


def test_show_refuses_a_date_that_is_not_one(shipped: Path) -> None:
    result = CliRunner().invoke(
        app, ["registry", "show", "--file", str(shipped), "--at", "01/03/2019"]
    )
    assert result.exit_code == 2
    assert "01/03/2019" in result.output


def test_the_registry_group_is_listed_in_the_help() -> None:
    result = CliRunner().invoke(app, ["registry", "--help"])
    assert result.exit_code == 0
    for command in ("check", "apply", "show"):
        assert command in result.output
