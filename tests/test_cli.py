"""The `sitn` command's help is true: it lists the command groups that exist and the variables."""

from __future__ import annotations

from typer.testing import CliRunner

from hub.cli import app


def test_help_lists_the_command_groups_and_environment_variables() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for word in ("kafka", "topics", "KAFKA_BOOTSTRAP_SERVERS", "SITN_HOME"):
        assert word in result.output


def test_kafka_help_lists_its_four_commands() -> None:
    result = CliRunner().invoke(app, ["kafka", "--help"])
    assert result.exit_code == 0
    for word in ("start", "stop", "status", "logs"):
        assert word in result.output


def test_a_bad_port_variable_fails_with_one_clear_line() -> None:
    result = CliRunner().invoke(app, ["kafka", "status"], env={"SITN_KAFKA_PORT": "abc"})
    assert result.exit_code == 2
    assert "SITN_KAFKA_PORT='abc' is not a port number" in result.output
