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
from typer.testing import CliRunner, Result

import hub.registry
from consumers.feeds import KeyOwner, SqlFeedStore, hash_key, key_id
from hub.cli import app
from tests.conftest import free_port
from tests.support.diffusion_changes import upsert

START_TIMEOUT_SECONDS = 60
NORMANDY = Path(hub.registry.__file__).parent / "normandy.toml"


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


def key_command(env: dict[str, str], *arguments: str) -> Result:
    return CliRunner().invoke(app, ["api", "key", *arguments], env=env)


def owners(env: dict[str, str], *keys: str) -> list[KeyOwner | None]:
    with SqlFeedStore(env["SITN_DATABASE_URL"]) as feeds:
        return [feeds.owner_of(hash_key(key)) for key in keys]


def test_a_rotation_prints_a_new_key_and_the_old_ones_stop_working(env: dict[str, str]) -> None:
    old = create_key(env, "--diffuser", "ideoguide")
    also_old = create_key(env, "--diffuser", "ideoguide")
    theirs = create_key(env, "--diffuser", "tourisme-fr")

    result = key_command(env, "rotate", "--diffuser", "ideoguide")

    assert result.exit_code == 0, result.output
    new = result.stdout.strip()
    ideoguide = KeyOwner("diffuser", "ideoguide")
    assert owners(env, old, also_old, new, theirs) == [
        None,
        None,
        ideoguide,
        KeyOwner("diffuser", "tourisme-fr"),
    ]
    revoked = sorted([key_id(hash_key(old)), key_id(hash_key(also_old))])
    assert sorted(result.stderr.split("previous keys: ")[1].strip().split(", ")) == revoked
    assert old not in result.output


def test_revoking_one_key_by_its_id_leaves_the_owners_other_keys_working(
    env: dict[str, str],
) -> None:
    first = create_key(env, "--diffuser", "ideoguide")
    second = create_key(env, "--diffuser", "ideoguide")

    result = key_command(env, "revoke", "--key-id", key_id(hash_key(first)))

    assert result.exit_code == 0, result.output
    assert f"API key {key_id(hash_key(first))} of diffuser 'ideoguide' is revoked" in result.stderr
    assert owners(env, first, second) == [None, KeyOwner("diffuser", "ideoguide")]


def test_a_key_id_and_an_owner_together_are_refused_and_revoke_nothing(
    env: dict[str, str],
) -> None:
    first = create_key(env, "--diffuser", "ideoguide")
    second = create_key(env, "--diffuser", "ideoguide")

    result = key_command(
        env, "revoke", "--diffuser", "ideoguide", "--key-id", key_id(hash_key(first))
    )

    assert result.exit_code == 2
    assert "give either --key-id (that one key) or --diffuser/--contributor" in result.stderr
    assert owners(env, first, second) == [KeyOwner("diffuser", "ideoguide")] * 2


def test_revoking_a_contributor_revokes_its_keys_and_no_one_elses(env: dict[str, str]) -> None:
    mine = create_key(env, "--contributor", "ot-caen-la-mer")
    theirs = create_key(env, "--diffuser", "tourisme-fr")

    result = key_command(env, "revoke", "--contributor", "ot-caen-la-mer")
    again = key_command(env, "revoke", "--contributor", "ot-caen-la-mer")

    assert result.exit_code == 0, result.output
    assert key_id(hash_key(mine)) in result.stderr
    assert owners(env, mine, theirs) == [None, KeyOwner("diffuser", "tourisme-fr")]
    assert again.exit_code == 0
    assert "has no key in force: nothing to revoke" in again.stderr


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--key-id", "0123456789ab"], "no API key has the id '0123456789ab'; `sitn api key list`"),
        (["--key-id", "tourisme-fr"], "'tourisme-fr' is not a key id"),
        ([], "give either --diffuser ID or --contributor ORG or --key-id ID (exactly one)"),
    ],
)
def test_revoking_an_unknown_or_malformed_key_id_is_refused_and_revokes_nothing(
    env: dict[str, str], arguments: list[str], message: str
) -> None:
    key = create_key(env, "--diffuser", "tourisme-fr")

    result = key_command(env, "revoke", *arguments)

    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())
    assert owners(env, key) == [KeyOwner("diffuser", "tourisme-fr")]


def test_the_key_list_shows_ids_owners_and_states_but_never_a_key(env: dict[str, str]) -> None:
    kept = create_key(env, "--diffuser", "tourisme-fr")
    gone = create_key(env, "--contributor", "ot-caen-la-mer")
    key_command(env, "revoke", "--key-id", key_id(hash_key(gone)))

    result = key_command(env, "list")

    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if "│" in line}
    assert kept not in result.stdout
    assert gone not in result.stdout
    assert "in force" in rows[key_id(hash_key(kept))]
    assert "in force" not in rows[key_id(hash_key(gone))]


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
            "--registry",  # the shipped registry: no broker to read sitn.registry from here
            str(NORMANDY),
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
                if httpx2.get(f"{base}/v1/context.jsonld").status_code == 200:
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


def test_sitn_api_serve_keeps_its_docs_and_metrics_for_the_operators(
    env: dict[str, str], served: str, tmp_path: Path
) -> None:
    operator = (tmp_path / "operator-key").read_text().strip()

    anonymous = [httpx2.get(f"{served}{path}").status_code for path in ("/docs", "/metrics")]
    opened = httpx2.get(f"{served}/openapi.json", headers={"X-API-Key": operator})

    assert anonymous == [401, 401]
    assert opened.status_code == 200
    assert "/v1/feeds/{diffuser}/changes" in opened.json()["paths"]
