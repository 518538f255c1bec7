"""`sitn import` without a broker: dry runs, bad input and a failed publish say what happened."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from hub.cli import app
from hub.reference import load_normandy_territory
from producers import datatourisme, tourinsoft
from producers.snapshot import plan_import, save_state, state_path
from tests.conftest import free_port

FIXTURES = Path(__file__).parents[1] / "fixtures"
TOURINSOFT_EXPORT = FIXTURES / "tourinsoft" / "export-2024-05-02.json"
DATATOURISME_FLUX = FIXTURES / "datatourisme" / "flux"
TAKEN_AT = datetime(2024, 5, 2, 6, 0, tzinfo=UTC)


def sitn(args: list[str], env: Mapping[str, str]) -> Result:
    return CliRunner().invoke(app, args, env=dict(env))


def valid_tourinsoft_ids() -> list[str]:
    parsed = tourinsoft.read_export(TOURINSOFT_EXPORT, load_normandy_territory(), taken_at=TAKEN_AT)
    return [offer.offer_id for offer in parsed.offers]


# ---------------------------------------------------------------- without a broker


def test_import_help_lists_both_sources() -> None:
    result = sitn(["import", "--help"], {})
    assert result.exit_code == 0
    assert "tourinsoft" in result.output
    assert "datatourisme" in result.output


@pytest.mark.parametrize("source", ["tourinsoft", "datatourisme"])
def test_each_import_help_says_that_the_snapshot_replaces_the_previous_one(source: str) -> None:
    result = CliRunner().invoke(app, ["import", source, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    said = " ".join(result.output.split())
    assert "whole snapshot" in said
    assert "withdrawn from every diffuser" in said


def test_a_dry_run_prints_what_would_be_published_and_saves_nothing(tmp_path: Path) -> None:
    env = {"SITN_HOME": str(tmp_path)}
    result = sitn(
        ["import", "tourinsoft", "--as", "cdt14", "--dry-run", str(TOURINSOFT_EXPORT)], env
    )
    # The export holds one bad record on purpose: it is left out, said, and the exit status is 3.
    assert result.exit_code == 3, result.output
    assert "1 bad record(s) were left out (by source field: Commune: 1)" in result.output
    for offer_id in valid_tourinsoft_ids():
        assert f"create   {offer_id}" in result.output
    assert "LOINOR076V500005, Commune: no commune named 'Atlantis'" in result.output
    assert "HOTNOR014V500001, Labels[3]" in result.output  # brackets are not eaten as markup
    assert f"would publish {len(valid_tourinsoft_ids())} change(s)" in result.output
    assert "1 bad record(s)" in result.output
    assert not state_path(tmp_path, "cdt14", "tourinsoft").exists()


def test_a_dry_run_of_a_datatourisme_flux_lists_its_creations(tmp_path: Path) -> None:
    env = {"SITN_HOME": str(tmp_path)}
    args = ["import", "datatourisme", "--as", "cdt76", "--dry-run", str(DATATOURISME_FLUX)]
    result = sitn(args, env)
    assert result.exit_code == 3, result.output  # the flux holds bad records on purpose
    parsed = datatourisme.read_flux(DATATOURISME_FLUX, load_normandy_territory(), taken_at=TAKEN_AT)
    for offer in parsed.offers:
        assert f"create   {offer.offer_id} ({offer.offer_type.value})" in result.output
    assert "XXXNOR014V519999, @type" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as", "CDT 14"], "is not valid"),
        (["--as", "cdt14", "--taken-at", "hier"], "is not an ISO 8601 time"),
        (["--as", "cdt14", "--taken-at", "2024-05-02T06:00:00"], "has no offset"),
    ],
)
def test_bad_options_are_refused_with_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = sitn(
        ["import", "tourinsoft", *args, str(TOURINSOFT_EXPORT)], {"SITN_HOME": str(tmp_path)}
    )
    assert result.exit_code == 2
    assert message in result.output


def test_a_missing_or_unreadable_export_is_refused_with_its_path(tmp_path: Path) -> None:
    missing = tmp_path / "absent.json"
    result = sitn(
        ["import", "tourinsoft", "--as", "cdt14", str(missing)], {"SITN_HOME": str(tmp_path)}
    )
    assert result.exit_code == 2
    assert "absent.json does not exist" in result.output
    broken = tmp_path / "broken.json"
    broken.write_text("<html>", encoding="utf-8")
    result = sitn(
        ["import", "tourinsoft", "--as", "cdt14", str(broken)], {"SITN_HOME": str(tmp_path)}
    )
    assert result.exit_code == 2
    assert "broken.json is not JSON" in result.output


def test_an_empty_snapshot_is_refused_rather_than_withdrawing_everything(tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"value": []}), encoding="utf-8")
    result = sitn(
        ["import", "tourinsoft", "--as", "cdt14", str(empty)], {"SITN_HOME": str(tmp_path)}
    )
    assert result.exit_code == 2
    assert "holds no record" in result.output


def a_flux_imported_once_then_truncated(home: Path) -> tuple[Path, list[str]]:
    """A flux whose earlier import is known, now with one of its files cut short."""
    territory = load_normandy_territory()
    parsed = datatourisme.read_flux(DATATOURISME_FLUX, territory, taken_at=TAKEN_AT)
    plan = plan_import(
        {}, parsed, source_system="datatourisme", taken_at=TAKEN_AT, territory=territory
    )
    save_state(state_path(home, "cdt76", "datatourisme"), plan.next_state)
    flux = home / "flux"
    shutil.copytree(DATATOURISME_FLUX, flux)
    cut = flux / "objects" / "a" / "hotel-des-falaises.json"
    cut.write_bytes(cut.read_bytes()[:200])
    return flux, ["HOTNOR076V510001"]


def test_a_flux_with_a_truncated_file_plans_no_withdrawal_names_the_file_and_exits_4(
    tmp_path: Path,
) -> None:
    flux, missing = a_flux_imported_once_then_truncated(tmp_path)
    args = ["import", "datatourisme", "--as", "cdt76", "--dry-run", str(flux)]
    result = sitn(args, {"SITN_HOME": str(tmp_path), "COLUMNS": "300"})
    assert result.exit_code == 4, result.output
    said = " ".join(result.output.split())
    assert "objects/a/hotel-des-falaises.json: not JSON" in said
    assert "1 file(s) of the snapshot could not be read (objects/a/hotel-des-falaises.json)" in said
    assert "no withdrawal was planned: the 1 offer(s) missing from the flux are left" in said
    assert "--allow-partial" in said
    assert "withdraw HOT" not in result.output
    assert f"keep {missing[0]}: missing from the flux, not withdrawn (a file failed)" in said
    assert "1 failed file(s), 1 withdrawal(s) not planned" in said


def test_allow_partial_withdraws_what_a_flux_with_a_failed_file_misses_and_says_so(
    tmp_path: Path,
) -> None:
    flux, missing = a_flux_imported_once_then_truncated(tmp_path)
    args = ["import", "datatourisme", "--as", "cdt76", "--dry-run", "--allow-partial", str(flux)]
    result = sitn(args, {"SITN_HOME": str(tmp_path), "COLUMNS": "300"})
    assert result.exit_code == 4, result.output
    said = " ".join(result.output.split())
    assert f"withdraw {missing[0]}: absent from the datatourisme snapshot" in said
    assert (
        "--allow-partial: the 1 offer(s) missing from the flux are withdrawn all the same" in said
    )


def test_a_failed_publish_exits_1_says_nothing_was_published_and_keeps_the_state(
    tmp_path: Path,
) -> None:
    env = {"SITN_HOME": str(tmp_path), "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"}
    result = sitn(["import", "tourinsoft", "--as", "cdt14", str(TOURINSOFT_EXPORT)], env)
    assert result.exit_code == 1
    assert f"published 0 of {len(valid_tourinsoft_ids())} change(s)" in result.output
    assert "nothing was published" in result.output
    assert "run the same import again" in result.output
    assert not state_path(tmp_path, "cdt14", "tourinsoft").exists()
