"""Normandy's territory: the packaged communes file loads whole; bad reference data is refused."""

from __future__ import annotations

import csv
import io
import math
from importlib.resources import files
from pathlib import Path

import pytest

from hub.core.territory import NORMANDY_DEPARTMENTS, Commune, Territory, TerritoryError
from hub.reference import (
    COMMUNES_FILE,
    ReferenceDataError,
    load_normandy_territory,
    load_territory,
    parse_communes,
)

GOOD_HEADER = "insee_code,department,name\n"
ONE_PER_DEPARTMENT = "14118,14,Caen\n27229,27,Évreux\n50129,50,Cherbourg-en-Cotentin\n"
ONE_PER_DEPARTMENT += "61001,61,Alençon\n76540,76,Rouen\n"


def packaged_rows() -> list[list[str]]:
    text = files("hub.reference").joinpath(COMMUNES_FILE).read_text(encoding="utf-8")
    return list(csv.reader(io.StringIO(text)))[1:]


def test_the_packaged_file_loads_every_commune_it_lists() -> None:
    territory = load_normandy_territory()
    rows = packaged_rows()
    assert len(territory) == len(rows)
    assert all(territory[insee] == Commune(insee, dept, name) for insee, dept, name in rows)


def test_the_territory_is_read_once_and_then_served_from_memory() -> None:
    assert load_normandy_territory() is load_normandy_territory()


@pytest.mark.parametrize(
    ("insee", "department", "name"),
    [("14118", "14", "Caen"), ("76540", "76", "Rouen"), ("50129", "50", "Cherbourg-en-Cotentin")],
)
def test_norman_communes_are_found_with_their_department(
    insee: str, department: str, name: str
) -> None:
    territory = load_normandy_territory()
    assert insee in territory
    assert territory.department_of(insee) == department
    assert territory[insee].name == name


@pytest.mark.parametrize("insee", ["75056", "35238", "14000", "", "Caen", "14118 ", "１４１１８"])
def test_paris_brittany_postal_codes_and_garbage_are_not_norman_communes(insee: str) -> None:
    territory = load_normandy_territory()
    assert insee not in territory
    assert territory.department_of(insee) is None


def test_the_territory_covers_the_five_departments_and_only_them() -> None:
    territory = load_normandy_territory()
    assert territory.departments == NORMANDY_DEPARTMENTS == ("14", "27", "50", "61", "76")
    assert sorted({c.department for c in territory.values()}) == list(NORMANDY_DEPARTMENTS)


@pytest.mark.parametrize(
    ("place", "latitude", "longitude"),
    [
        ("Caen", 49.1829, -0.3707),
        ("Rouen", 49.4431, 1.0993),
        ("Nez de Jobourg", 49.675, -1.940),
        ("Le Tréport", 50.060, 1.372),
        ("Grande-Île de Chausey", 48.874, -1.823),
        ("Mont-Saint-Michel", 48.636, -1.511),
    ],
)
def test_places_of_normandy_lie_inside_its_bounding_box(
    place: str, latitude: float, longitude: float
) -> None:
    assert load_normandy_territory().bounds.contains(latitude, longitude), place


@pytest.mark.parametrize(
    ("place", "latitude", "longitude"),
    [
        ("Brest", 48.390, -4.486),
        ("Rennes", 48.117, -1.678),
        ("Saint-Malo", 48.649, -2.026),
        ("Saint Helier, Jersey", 49.186, -2.107),
        ("Paris", 48.857, 2.352),
        ("Amiens", 49.894, 2.296),
        ("not a number", math.nan, -0.37),
        ("infinity", 49.18, math.inf),
    ],
)
def test_places_outside_normandy_lie_outside_its_bounding_box(
    place: str, latitude: float, longitude: float
) -> None:
    assert not load_normandy_territory().bounds.contains(latitude, longitude), place


def test_the_order_of_the_rows_does_not_change_the_territory() -> None:
    rows = [("76540", "76", "Rouen"), ("14118", "14", "Caen"), ("50129", "50", "Cherbourg")]
    forwards, backwards = Territory.from_rows(rows), Territory.from_rows(reversed(rows))
    assert list(forwards) == list(backwards) == sorted(insee for insee, _, _ in rows)
    assert forwards == backwards


def test_a_territory_cannot_be_modified() -> None:
    territory = Territory.from_rows([("14118", "14", "Caen")])
    with pytest.raises(TypeError):
        territory["75056"] = Commune("75056", "75", "Paris")  # type: ignore[index]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([("14118", "14", "Caen"), ("14118", "14", "Caen bis")], "'14118' appears twice"),
        ([("75056", "75", "Paris")], "department '75' is not one of 14, 27, 50, 61, 76"),
        ([("76540", "14", "Rouen")], "does not start with its department '14'"),
        ([("1411", "14", "Caen")], "not 5 characters"),
        ([("14118", "14", "  ")], "the name is empty"),
    ],
)
def test_inconsistent_communes_are_refused_with_their_code_named(
    rows: list[tuple[str, str, str]], message: str
) -> None:
    with pytest.raises(TerritoryError, match=message):
        Territory.from_rows(rows)


def test_a_communes_file_with_one_commune_per_department_loads(tmp_path: Path) -> None:
    path = tmp_path / COMMUNES_FILE
    path.write_text(GOOD_HEADER + ONE_PER_DEPARTMENT, encoding="utf-8")
    assert sorted(load_territory(path)) == ["14118", "27229", "50129", "61001", "76540"]


def test_a_missing_communes_file_is_reported_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / COMMUNES_FILE
    with pytest.raises(ReferenceDataError, match="is missing; reinstall") as caught:
        load_territory(path)
    assert str(path) in str(caught.value)


def test_a_communes_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / COMMUNES_FILE
    path.write_bytes((GOOD_HEADER + ONE_PER_DEPARTMENT).encode("latin-1"))
    with pytest.raises(ReferenceDataError, match="cannot be read as UTF-8"):
        load_territory(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"line 1: header is None"),
        ("code,dep,nom\n" + ONE_PER_DEPARTMENT, r"line 1: header is \['code', 'dep', 'nom'\]"),
        (GOOD_HEADER + "14118,14\n", r"line 2: 2 column\(s\) in \['14118', '14'\]"),
        (GOOD_HEADER + ONE_PER_DEPARTMENT + "\n14001,14,Ablon\n", "line 7: 0 column"),
        (GOOD_HEADER + "14118,14,Caen\n76540,76,Rouen\n", "no commune in department.s. 27, 50, 61"),
        (GOOD_HEADER + ONE_PER_DEPARTMENT + "75056,75,Paris\n", "commune '75056'"),
        (GOOD_HEADER + '14118,14,"Caen\n', "line 2: unexpected end of data"),
    ],
)
def test_a_malformed_communes_file_is_refused_with_the_line_and_the_fix(
    text: str, message: str
) -> None:
    with pytest.raises(ReferenceDataError, match=message) as caught:
        parse_communes(text, source="copy.csv")
    assert str(caught.value).startswith("copy.csv")
