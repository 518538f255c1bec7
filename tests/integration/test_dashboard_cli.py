"""`sitn api serve` serves the operators' dashboard and says how to open it, without the key.

The command runs as a process on a free loopback port with no SITN_OPERATOR_KEY: it makes a key
file under SITN_HOME, prints the dashboard's URL and where the key is, and the key opens the
dashboard over HTTP. A key too short in SITN_OPERATOR_KEY stops the command with one clear line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from typer.testing import CliRunner

from hub.cli import app
from tests.conftest import free_port

START_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Served:
    base: str
    home: Path
    stderr: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One server for the module's tests: they only read through it."""
    tmp_path = tmp_path_factory.mktemp("served")
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "SITN_OPERATOR_KEY"},
        "SITN_HOME": str(tmp_path),
        "SITN_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}",
        # No page asks the broker in this test: nothing needs to listen there.
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as stderr:
        command = ["api", "serve", "--port", str(port)]
        process = subprocess.Popen(
            [sys.executable, "-c", "from hub.cli import main; main()", *command],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            try:
                if httpx2.get(f"{base}/dashboard/login").status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"sitn api serve did not start: {log.read_text()}")
            time.sleep(0.1)
        yield Served(base, tmp_path, log)
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_sitn_api_serve_prints_where_the_dashboard_and_its_key_are(served: Served) -> None:
    key_file = served.home / "operator-key"
    key = key_file.read_text().strip()

    printed = served.stderr.read_text()

    assert (
        f"Operators' dashboard: {served.base}/dashboard/ (log in with the key in {key_file})"
        in " ".join(printed.split())
    )
    assert key not in printed


def test_the_key_file_opens_the_dashboard_served_by_sitn_api_serve(served: Served) -> None:
    key = (served.home / "operator-key").read_text().strip()
    # A browser sends its page's origin with a form: the dashboard refuses a POST without it.
    with httpx2.Client(base_url=served.base, headers={"Origin": served.base}) as client:
        refused = client.post("/dashboard/login", data={"key": "x" * 20})
        login = client.post("/dashboard/login", data={"key": key, "next": "/dashboard/offers"})
        offers = client.get("/dashboard/offers")

    assert refused.status_code == 401
    assert login.status_code == 303
    assert login.headers["location"] == "/dashboard/offers"
    assert offers.status_code == 200
    assert 'id="offers"' in offers.text


def test_a_short_operator_key_stops_sitn_api_serve_with_one_clear_line(tmp_path: Path) -> None:
    env = {
        "SITN_HOME": str(tmp_path),
        "SITN_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}",
        "SITN_OPERATOR_KEY": "too-short",
    }

    result = CliRunner().invoke(app, ["api", "serve", "--port", str(free_port())], env=env)

    assert result.exit_code == 2
    assert "SITN_OPERATOR_KEY has 9 characters; use at least 16" in result.output
    assert "Traceback" not in result.output
