"""The `sitn` command's help is true: it lists the command groups that exist and the variables."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import COMMANDS, app
from tests.conftest import free_port


def test_help_lists_the_command_groups_and_environment_variables() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for word in ("kafka", "topics", "KAFKA_BOOTSTRAP_SERVERS", "SITN_HOME"):
        assert word in result.output


def test_every_listed_command_has_its_own_help() -> None:
    listed = CliRunner().invoke(app, ["--help"]).output
    for name in COMMANDS:
        assert name in listed
        result = CliRunner().invoke(app, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert "Usage:" in result.output


def test_an_unknown_command_is_refused_with_the_commands_it_is_close_to() -> None:
    result = CliRunner().invoke(app, ["wroker"])
    assert result.exit_code == 2
    assert "No such command 'wroker'" in result.output
    assert "Did you mean 'worker'?" in result.output


def test_a_stage_process_loads_no_database_http_or_web_library() -> None:
    # `sitn worker --stage scheduler` as the supervisor runs it, up to its first line of work.
    probe = (
        "import sys; from hub.cli import main; sys.argv = ['sitn', 'worker', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "from hub.stages.roots import STAGES; import hub.scheduler, hub.registry.follower\n"
        "print(sorted(m for m in ('sqlalchemy', 'alembic', 'aiohttp', 'starlette') "
        "if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.splitlines()[-1]
    assert loaded == "[]"


def test_kafka_help_lists_its_four_commands() -> None:
    result = CliRunner().invoke(app, ["kafka", "--help"])
    assert result.exit_code == 0
    for word in ("start", "stop", "status", "logs"):
        assert word in result.output


def test_a_bad_port_variable_fails_with_one_clear_line() -> None:
    result = CliRunner().invoke(app, ["kafka", "status"], env={"SITN_KAFKA_PORT": "abc"})
    assert result.exit_code == 2
    assert "SITN_KAFKA_PORT='abc' is not a port number" in result.output


@pytest.mark.kafka
def test_sitn_kafka_start_twice_is_a_no_op_and_stop_ends_the_broker(tmp_path: Path) -> None:
    env = {
        "SITN_HOME": str(tmp_path),
        "SITN_KAFKA_PORT": str(free_port()),
        "SITN_KAFKA_CONTROLLER_PORT": str(free_port()),
    }
    runner = CliRunner()
    try:
        first = runner.invoke(app, ["kafka", "start"], env=env)
        assert first.exit_code == 0, first.output
        assert "ready on" in first.output
        second = runner.invoke(app, ["kafka", "start"], env=env)
        assert second.exit_code == 0, second.output
        assert "already running" in second.output
        status = runner.invoke(app, ["kafka", "status"], env=env)
        assert status.exit_code == 0
        assert status.output.startswith("running")
        logs = runner.invoke(app, ["kafka", "logs", "-n", "5"], env=env)
        assert logs.exit_code == 0
        assert len(logs.output.splitlines()) == 5
    finally:
        stopped = runner.invoke(app, ["kafka", "stop"], env=env)
    assert stopped.output.strip() == "Kafka stopped"
    after = runner.invoke(app, ["kafka", "status"], env=env)
    assert after.exit_code == 1
    assert after.output.startswith("stopped")
