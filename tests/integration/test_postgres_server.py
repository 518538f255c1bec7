"""The test PostgreSQL helper says what to install when the server programs are missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import postgres_server
from tests.support.postgres_server import PostgresUnavailable, find_server_bin


def test_missing_server_programs_are_reported_with_the_package_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(postgres_server, "DEBIAN_BIN_GLOB", str(tmp_path / "postgresql/*/bin"))

    with pytest.raises(PostgresUnavailable, match=r"postgresql package.*SITN_TEST_POSTGRES_URL"):
        find_server_bin()


def test_the_newest_debian_version_is_preferred(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for version in ("9.6", "15", "13"):
        folder = tmp_path / "postgresql" / version / "bin"
        folder.mkdir(parents=True)
        (folder / "initdb").touch()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(postgres_server, "DEBIAN_BIN_GLOB", str(tmp_path / "postgresql/*/bin"))

    assert find_server_bin() == tmp_path / "postgresql" / "15" / "bin"
