"""The registry file: the shipped one loads; every mistake is found, located and explained."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hub.core.registry import OrgKind, Registry
from hub.reference import load_normandy_territory
from hub.registry.format import (
    RegistryProblem,
    load_normandy_registry,
    load_registry_file,
    normandy_registry_text,
    parse_registry,
    registry_to_toml,
)

OTS = {
    "ot-caen-la-mer": "14",
    "ot-bayeux": "14",
    "ot-deauville": "14",
    "ot-evreux": "27",
    "ot-giverny": "27",
    "ot-cherbourg": "50",
    "ot-mont-saint-michel": "50",
    "ot-granville": "50",
    "ot-alencon": "61",
    "ot-rouen": "76",
    "ot-le-havre": "76",
    "ot-etretat": "76",
}
CDTS = {
    "cdt-calvados": "14",
    "cdt-eure": "27",
    "cdt-manche": "50",
    "cdt-orne": "61",
    "cdt-seine-maritime": "76",
}


def parsed(text: str) -> Registry:
    result = parse_registry(text, "test.toml")
    assert isinstance(result, Registry), "\n".join(map(str, result))
    return result


def problems(text: str) -> tuple[RegistryProblem, ...]:
    result = parse_registry(text, "test.toml")
    assert isinstance(result, tuple), "the registry was expected to have problems"
    return result


# ---------------------------------------------------------------- the shipped registry


def test_the_shipped_registry_parses_without_problems() -> None:
    result = parse_registry(normandy_registry_text(), "normandy.toml")
    assert isinstance(result, Registry), "\n".join(map(str, result))


def test_the_shipped_registry_has_the_crt_five_cdts_twelve_ots_and_two_federators() -> None:
    organisations = load_normandy_registry().organisations
    expected = {
        "crt-normandie": OrgKind.CRT,
        **dict.fromkeys(CDTS, OrgKind.CDT),
        **dict.fromkeys(OTS, OrgKind.OT),
        "fed-cci-normandie": OrgKind.FEDERATOR,
        "fed-prefecture-calvados": OrgKind.FEDERATOR,
    }
    assert {org_id: org.kind for org_id, org in organisations.items()} == expected
    for org_id, department in {**CDTS, **OTS}.items():
        assert organisations[org_id].department == department


def test_every_ot_territory_is_made_of_real_communes_of_its_department() -> None:
    territory = load_normandy_territory()
    for org_id, department in OTS.items():
        communes = load_normandy_registry().organisations[org_id].communes
        assert communes, org_id
        assert all(territory.department_of(code) == department for code in communes), org_id


@pytest.mark.parametrize(
    ("org_id", "commune", "name"),
    [
        ("ot-caen-la-mer", "14118", "Caen"),
        ("ot-bayeux", "14047", "Bayeux"),
        ("ot-rouen", "76540", "Rouen"),
    ],
)
def test_each_ot_covers_its_own_town(org_id: str, commune: str, name: str) -> None:
    assert commune in load_normandy_registry().organisations[org_id].communes
    assert load_normandy_territory()[commune].name == name


def test_the_shipped_diffusion_conventions_never_diffuse_private_data() -> None:
    for convention in load_normandy_registry().diffusion_conventions:
        assert "private" not in convention.field_groups, convention.convention_id


def test_every_shipped_diffuser_has_a_diffusion_convention() -> None:
    registry = load_normandy_registry()
    with_convention = {c.diffuser for c in registry.diffusion_conventions}
    assert set(registry.diffusers) == with_convention


def test_writing_the_shipped_registry_back_gives_a_file_that_parses_to_it() -> None:
    registry = load_normandy_registry()
    assert parsed(registry_to_toml(registry)) == registry


def test_the_example_in_the_documentation_is_a_valid_registry() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "registry.md").read_text(encoding="utf-8")
    (example,) = re.findall(r"```toml\n(.*?)```", doc, flags=re.DOTALL)
    registry = parsed(example)
    assert "ot-bayeux" in registry.organisations


def test_entry_order_in_the_file_does_not_change_the_registry() -> None:
    text = BASE + CONVENTION.format(id="cc-b") + CONVENTION.format(id="cc-a")
    swapped = BASE + CONVENTION.format(id="cc-a") + CONVENTION.format(id="cc-b")
    assert parsed(text) == parsed(swapped)


# ---------------------------------------------------------------- problems, one at a time

BASE = """
[[organisation]]
id = "crt-normandie"
kind = "crt"
name = "CRT"

[[organisation]]
id = "cdt-calvados"
kind = "cdt"
name = "CDT du Calvados"
department = "14"

[[organisation]]
id = "ot-bayeux"
kind = "ot"
name = "Bayeux Bessin Tourisme"
department = "14"
communes = ["14047", "14021"]

[[diffuser]]
id = "tourisme-fr"
name = "tourisme.fr"
class = "partner"
"""

CONVENTION = """
[[contribution_convention]]
id = "{id}"
contributor = "ot-bayeux"
offer_types = ["FMA"]
field_groups = ["names"]
communes = ["14047"]
"""


def test_the_base_of_these_cases_is_valid() -> None:
    parsed(BASE + CONVENTION.format(id="cc-ok"))


def _convention(**overrides: str) -> str:
    keys = {
        "id": '"cc-case"',
        "contributor": '"ot-bayeux"',
        "offer_types": '["FMA"]',
        "field_groups": '["names"]',
        "communes": '["14047"]',
        **overrides,
    }
    return "\n[[contribution_convention]]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items())


def _diffusion(**overrides: str) -> str:
    keys = {
        "id": '"dc-case"',
        "diffuser": '"tourisme-fr"',
        "purpose": '"Promotion"',
        "field_groups": '["names"]',
        "languages": '["fr"]',
        **overrides,
    }
    return "\n[[diffusion_convention]]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items())


def _organisation(**keys: str) -> str:
    return "\n[[organisation]]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items())


CASES = [
    pytest.param(
        _convention(contributor='"ot-bayeu"'),
        ("contribution_convention", 1, "cc-case"),
        "unknown organisation 'ot-bayeu' in contributor",
        id="convention-for-an-unknown-contributor",
    ),
    pytest.param(
        _convention(offer_types='["HOTEL"]'),
        ("contribution_convention", 1, "cc-case"),
        "unknown offer type 'HOTEL' in offer_types",
        id="unknown-offer-type",
    ),
    pytest.param(
        _convention(field_groups='["tarifs"]'),
        ("contribution_convention", 1, "cc-case"),
        "unknown field group 'tarifs' in field_groups",
        id="unknown-field-group",
    ),
    pytest.param(
        _diffusion(languages='["fr", "pt"]'),
        ("diffusion_convention", 1, "dc-case"),
        "unknown language 'pt' in languages",
        id="unknown-language",
    ),
    pytest.param(
        _diffusion(departments='["14", "75"]'),
        ("diffusion_convention", 1, "dc-case"),
        "unknown department '75' in departments",
        id="unknown-department",
    ),
    pytest.param(
        _diffusion(formats='["xml"]'),
        ("diffusion_convention", 1, "dc-case"),
        "unknown format 'xml' in formats",
        id="unknown-format",
    ),
    pytest.param(
        _convention(valid_from="2021-01-01", valid_until="2020-01-01"),
        ("contribution_convention", 1, "cc-case"),
        "valid_until 2020-01-01 is before valid_from 2021-01-01",
        id="window-ends-before-it-starts",
    ),
    pytest.param(
        _organisation(
            id='"ot-bayeux"', kind='"ot"', name='"Autre"', department='"14"', communes='["14047"]'
        ),
        ("organisation", 4, "ot-bayeux"),
        "duplicate id: entry #3 already uses 'ot-bayeux'",
        id="duplicate-id",
    ),
    pytest.param(
        _organisation(id='"ot-caen"', kind='"ot"', name='"Caen"', communes='["14118"]'),
        ("organisation", 4, "ot-caen"),
        "an OT needs its department",
        id="ot-without-department",
    ),
    pytest.param(
        _organisation(id='"ot-caen"', kind='"ot"', name='"Caen"', department='"14"'),
        ("organisation", 4, "ot-caen"),
        "an OT needs its territory",
        id="ot-without-communes",
    ),
    pytest.param(
        _organisation(id='"cdt-paris"', kind='"cdt"', name='"Paris"', department='"75"'),
        ("organisation", 4, "cdt-paris"),
        "unknown department '75'; Normandy's are 14, 27, 50, 61, 76",
        id="cdt-outside-normandy",
    ),
    pytest.param(
        _organisation(id='"cdt-x"', kind='"cdt"', name='"X"'),
        ("organisation", 4, "cdt-x"),
        "a CDT needs its department",
        id="cdt-without-department",
    ),
    pytest.param(
        _organisation(id='"cdt-bis"', kind='"cdt"', name='"Bis"', department='"14"'),
        ("organisation", 4, "cdt-bis"),
        "cdt-calvados is already the CDT of department 14",
        id="two-cdts-for-one-department",
    ),
    pytest.param(
        _organisation(id='"crt-bis"', kind='"crt"', name='"Bis"'),
        ("organisation", 4, "crt-bis"),
        "crt-normandie is already the CRT",
        id="two-crts",
    ),
    pytest.param(
        _organisation(
            id='"ot-caen"', kind='"ot"', name='"Caen"', department='"14"', communes='["14999"]'
        ),
        ("organisation", 4, "ot-caen"),
        "commune 14999 is not a Normandy commune",
        id="commune-not-in-normandy",
    ),
    pytest.param(
        _organisation(
            id='"ot-caen"', kind='"ot"', name='"Caen"', department='"14"', communes='["76540"]'
        ),
        ("organisation", 4, "ot-caen"),
        "commune 76540 is not in department 14",
        id="ot-commune-of-another-department",
    ),
    pytest.param(
        _organisation(id='"ot-caen"', kind='"office"', name='"Caen"'),
        ("organisation", 4, "ot-caen"),
        "unknown organisation kind 'office' in kind",
        id="unknown-organisation-kind",
    ),
    pytest.param(
        _organisation(
            id='"OT Caen"', kind='"ot"', name='"Caen"', department='"14"', communes='["14118"]'
        ),
        ("organisation", 4, "OT Caen"),
        "id 'OT Caen' is not valid",
        id="id-with-capitals-and-spaces",
    ),
    pytest.param(
        _convention(communes='["14118"]'),
        ("contribution_convention", 1, "cc-case"),
        "commune(s) 14118 are outside ot-bayeux's territory",
        id="convention-outside-the-ot-territory",
    ),
    pytest.param(
        _convention(communes="[]", departments='["14"]'),
        ("contribution_convention", 1, "cc-case"),
        "department(s) 14 are wider than ot-bayeux's territory",
        id="ot-convention-for-a-whole-department",
    ),
    pytest.param(
        _convention(contributor='"cdt-calvados"'),
        ("contribution_convention", 1, "cc-case"),
        "cdt-calvados is a CDT",
        id="convention-for-a-cdt",
    ),
    pytest.param(
        _convention(contributor='"crt-normandie"'),
        ("contribution_convention", 1, "cc-case"),
        "move this entry there",
        id="convention-for-the-crt",
    ),
    pytest.param(
        _convention(communes="[]"),
        ("contribution_convention", 1, "cc-case"),
        "a contribution convention needs a territory",
        id="convention-without-territory",
    ),
    pytest.param(
        _convention(offer_types="[]"),
        ("contribution_convention", 1, "cc-case"),
        "offer_types is empty",
        id="convention-without-types",
    ),
    pytest.param(
        _convention(offer_types='["FMA", "FMA"]'),
        ("contribution_convention", 1, "cc-case"),
        "offer_types lists 'FMA' twice",
        id="value-listed-twice",
    ),
    pytest.param(
        _convention(valid_form="2020-01-01"),
        ("contribution_convention", 1, "cc-case"),
        "unknown key 'valid_form'",
        id="misspelt-key",
    ),
    pytest.param(
        _convention(valid_from="2020-01-01T10:00:00"),
        ("contribution_convention", 1, "cc-case"),
        "valid_from '2020-01-01T10:00:00' is not a date such as 2024-01-31",
        id="date-with-a-time",
    ),
    pytest.param(
        _convention(valid_from='"01/01/2020"'),
        ("contribution_convention", 1, "cc-case"),
        "valid_from '01/01/2020' is not a date",
        id="date-in-french-order",
    ),
    pytest.param(
        _convention(offer_types='"FMA"'),
        ("contribution_convention", 1, "cc-case"),
        "offer_types must be a list of texts",
        id="text-instead-of-a-list",
    ),
    pytest.param(
        _diffusion(field_groups='["names", "private"]'),
        ("diffusion_convention", 1, "dc-case"),
        "field group 'private' is never diffused",
        id="private-group-diffused",
    ),
    pytest.param(
        _diffusion(diffuser='"ideoguide"'),
        ("diffusion_convention", 1, "dc-case"),
        "unknown diffuser 'ideoguide' in diffuser",
        id="convention-for-an-unknown-diffuser",
    ),
    pytest.param(
        _diffusion(languages="[]"),
        ("diffusion_convention", 1, "dc-case"),
        "languages is empty",
        id="diffusion-without-languages",
    ),
    pytest.param(
        '\n[[diffuser]]\nid = "site-x"\nname = "x.fr"\nclass = "institutional"\n',
        ("diffuser", 2, "site-x"),
        "an institutional diffuser is the CRT, a CDT or an OT itself",
        id="institutional-diffuser-without-organisation",
    ),
    pytest.param(
        '\n[[diffuser]]\nid = "site-x"\nname = "x.fr"\nclass = "institutional"\norg = "ot-x"\n',
        ("diffuser", 2, "site-x"),
        "unknown organisation 'ot-x' in org",
        id="diffuser-of-an-unknown-organisation",
    ),
    pytest.param(
        '\n[[concession]]\nid = "c"\nprofessional = "p"\ncontributor = "cdt-orne"\n'
        'allowed_classes = ["partner"]\n',
        ("concession", 1, "c"),
        "id 'c' is not valid",
        id="one-letter-id",
    ),
    pytest.param(
        '\n[[concession]]\nid = "cx"\nprofessional = "p"\ncontributor = "cdt-orne"\n'
        'allowed_classes = ["everyone"]\n',
        ("concession", 1, "cx"),
        "unknown diffuser class 'everyone' in allowed_classes",
        id="unknown-diffuser-class",
    ),
    pytest.param(
        '\n[consortium]\nid = "consortium-sitn"\n\n[[consortium.exception]]\nid = "crt-x"\n'
        'offer_types = ["VELO"]\n',
        ("consortium", None, "consortium-sitn"),
        "exception #1 (crt-x): unknown offer type 'VELO' in offer_types",
        id="exception-with-unknown-type",
    ),
    pytest.param(
        '\n[[diffuser]]\nname = "anonyme"\nclass = "other"\n',
        ("diffuser", 2, None),
        "'id' is missing",
        id="entry-without-id",
    ),
]


@pytest.mark.parametrize(("addition", "where", "message"), CASES)
def test_a_mistake_is_reported_with_its_entry_and_what_is_wrong(
    addition: str, where: tuple[str, int | None, str | None], message: str
) -> None:
    found = problems(BASE + addition)
    located = [p for p in found if (p.section, p.index, p.entry_id) == where]
    assert any(message in p.message for p in located), "\n".join(map(str, found))
    assert all(p.source == "test.toml" for p in found)


def test_a_problem_reads_as_file_entry_and_message() -> None:
    (problem,) = problems(BASE + _convention(contributor='"ot-bayeu"'))
    assert str(problem).startswith(
        "test.toml: [[contribution_convention]] #1 (cc-case): unknown organisation 'ot-bayeu'"
    )


def test_a_toml_syntax_error_gives_its_line() -> None:
    text = BASE + '\n[[organisation]]\nid = "ot-x"\nkind "ot"\n'
    (problem,) = problems(text)
    assert problem.line == text.splitlines().index('kind "ot"') + 1
    assert str(problem).startswith(f"test.toml, line {problem.line}: not valid TOML")


def test_every_problem_is_reported_not_just_the_first() -> None:
    text = (
        BASE
        + _convention(id='"cc-one"', offer_types='["HOTEL"]')
        + _convention(id='"cc-two"', contributor='"nobody"')
        + _diffusion(languages='["pt"]')
    )
    found = problems(text)
    assert {(p.entry_id, p.message.split(" ")[1]) for p in found} >= {
        ("cc-one", "offer"),
        ("cc-two", "organisation"),
        ("dc-case", "language"),
    }


def test_an_unknown_section_is_reported() -> None:
    (problem,) = problems(BASE + '\n[[diffuseur]]\nid = "x"\n')
    assert "unknown section 'diffuseur'" in problem.message


def test_a_section_written_as_a_single_table_is_reported() -> None:
    text = '[organisation]\nid = "crt-normandie"\nkind = "crt"\nname = "CRT"\n'
    (problem,) = problems(text)
    assert problem.section == "organisation"
    assert "[[organisation]]" in problem.message


def test_a_missing_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    result = load_registry_file(tmp_path / "absent.toml")
    assert isinstance(result, tuple)
    (problem,) = result
    assert problem.source.endswith("absent.toml")
    assert "cannot be read" in problem.message
