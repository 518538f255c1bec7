"""`sitn api key create` and `sitn api serve`: keys shown once and stored hashed; a real server.

The key commands run on a fresh SQLite store per test. The serve test starts `sitn api serve`
as a process on a free loopback port and reads a feed through it with a key made by the CLI.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from typer.testing import CliRunner

from consumers.feeds import KeyOwner, SqlFeedStore, hash_key
from hub.cli import app
from tests.conftest import free_port
from tests.support.diffusion_changes import upsert

START_TIMEOUT_SECONDS = 60


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"SITN_HOME": str(tmp_path), "SITN_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}"}


def create_key(env: dict[str, str], *options: str) -> str:
    result = CliRunner().invoke(app, ["api", "key", "create", *options], env=env)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


@pytest.mark.parametrize(
    ("options", "owner"),
    [
        (("--diffuser", "tourisme-fr"), KeyOwner("diffuser", "tourisme-fr")),
        (("--contributor", "ot-caen-la-mer"), KeyOwner("contributor", "ot-caen-la-mer")),
    ],
)
def test_a_created_key_is_printed_once_and_stored_as_its_hash_only(
    env: dict[str, str], tmp_path: Path, options: tuple[str, str], owner: KeyOwner
) -> None:
    key = create_key(env, *options)

    assert len(key) >= 43
    with SqlFeedStore(env["SITN_DATABASE_URL"]) as feeds:
        assert feeds.owner_of(hash_key(key)) == owner
    assert key.encode() not in (tmp_path / "hub.db").read_bytes()


def test_two_keys_for_one_diffuser_are_different_and_both_work(env: dict[str, str]) -> None:
    first = create_key(env, "--diffuser", "ideoguide")
    second = create_key(env, "--diffuser", "ideoguide")

    assert first != second
    with SqlFeedStore(env["SITN_DATABASE_URL"]) as feeds:
        assert feeds.owner_of(hash_key(first)) == feeds.owner_of(hash_key(second))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--diffuser", "tourisme-com"], "diffuser 'tourisme-com' is not in the registry"),
        (["--contributor", "ot-paris"], "contributor 'ot-paris' is not in the registry"),
        (["--diffuser", "ideoguide", "--contributor", "ot-caen-la-mer"], "exactly one"),
        ([], "exactly one"),
    ],
)
def test_a_key_for_no_one_or_for_an_unknown_id_is_refused(
    env: dict[str, str], options: list[str], message: str
) -> None:
    result = CliRunner().invoke(app, ["api", "key", "create", *options], env=env)

    assert result.exit_code == 2
    assert message in result.output
    assert result.stdout == ""


def test_ids_are_checked_against_the_registry_file_given(
    env: dict[str, str], tmp_path: Path
) -> None:
    registry = tmp_path / "registry.toml"
    registry.write_text('[[diffuser]]\nid = "seul-diffuseur"\n', encoding="utf-8")

    result = CliRunner().invoke(
        app,
        ["api", "key", "create", "--diffuser", "tourisme-fr", "--registry", str(registry)],
        env=env,
    )

    assert result.exit_code == 2
    assert f"sitn registry check {registry}" in result.output


@pytest.fixture
def served(env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from hub.cli import main; main()",
            "api",
            "serve",
            "--port",
            str(port),
        ],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            try:
                if httpx2.get(f"{base}/openapi.json").status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                _, stderr = process.communicate(timeout=10)
                pytest.fail(f"sitn api serve did not start: {stderr.decode()}")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stderr is not None:
            process.stderr.close()


def test_sitn_api_serve_serves_a_feed_to_its_diffuser(env: dict[str, str], served: str) -> None:
    key = create_key(env, "--diffuser", "tourisme-fr")
    with SqlFeedStore(env["SITN_DATABASE_URL"]) as feeds:
        feeds.append([upsert("HOT-1", 1)], {})

    response = httpx2.get(f"{served}/v1/feeds/tourisme-fr/changes", headers={"X-API-Key": key})
    refused = httpx2.get(f"{served}/v1/feeds/ideoguide/changes", headers={"X-API-Key": key})

    assert response.status_code == 200
    assert [c["offer_id"] for c in response.json()["changes"]] == ["HOT-1"]
    assert refused.status_code == 403
