"""The demo generator: reproducible, realistic offers and change streams with flagged rejections.

Offers come from the packaged communes file; a few thousand are enough to check proportions,
which are bounded, never exact. The 60,000-offer run lives in `bench/demo_generate.py`.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import app
from hub.core.charte import check_new_offer
from hub.core.collection import Accepted, Context, OfferState, Rejected, decide
from hub.core.contribution import FieldGroupsChanged, OfferCreated, OfferDeleted, OfferWithdrawn
from hub.core.offer import (
    ClassificationScheme,
    FieldGroup,
    OfferFields,
    OfferType,
    TranslationSource,
)
from hub.core.registry import OrgKind, Registry
from hub.core.territory import Commune, Territory
from hub.records import contribution_from_json
from hub.reference import load_normandy_territory
from hub.registry.format import load_normandy_registry
from producers.demo import (
    CDT_BY_DEPARTMENT,
    CRT,
    EPOCH,
    FEDERATORS,
    OTS_BY_DEPARTMENT,
    DemoChange,
    DemoOffer,
    RuleFamily,
    as_contribution,
    creations,
    generate_changes,
    generate_offers,
)

OFFERS = 3000
CHANGES = 3000
INVALID_RATIO = 0.1


@pytest.fixture(scope="module")
def territory() -> Territory:
    return load_normandy_territory()


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_normandy_registry()


@pytest.fixture(scope="module")
def communes(territory: Territory) -> tuple[Commune, ...]:
    return tuple(territory.values())


@pytest.fixture(scope="module")
def offers(communes: tuple[Commune, ...]) -> list[DemoOffer]:
    return generate_offers(OFFERS, 2026, communes)


@pytest.fixture(scope="module")
def changes(offers: list[DemoOffer]) -> list[tuple[str, DemoChange]]:
    return generate_changes(offers, CHANGES, 14, invalid_ratio=INVALID_RATIO)


def offers_by_id(offers: Sequence[DemoOffer]) -> dict[str, DemoOffer]:
    return {offer.offer_id: offer for offer in offers}


def entitled(registry: Registry, org_id: str, offer: DemoOffer, change: DemoChange) -> bool:
    """Whether the registry lets a non-owner make this change (read straight from the registry)."""
    at = change.occurred_at
    return all(
        any(
            c.covers(offer.offer_type, offer.commune.insee, group, at)
            for c in registry.conventions_of(org_id, at)
        )
        or (
            org_id == CRT
            and any(e.covers(offer.offer_type, group, at) for e in registry.crt_exceptions(at))
        )
        for group in change.payload.changed_groups
    )


# ---------------------------------------------------------------- determinism


def test_the_same_seed_gives_the_same_offers_and_changes(
    communes: tuple[Commune, ...], offers: list[DemoOffer], changes: list[tuple[str, DemoChange]]
) -> None:
    again = generate_offers(OFFERS, 2026, communes)
    assert again == offers
    assert generate_changes(again, CHANGES, 14, invalid_ratio=INVALID_RATIO) == changes


def test_another_seed_gives_other_offers_and_changes(
    communes: tuple[Commune, ...], offers: list[DemoOffer], changes: list[tuple[str, DemoChange]]
) -> None:
    other = generate_offers(OFFERS, 2027, communes)
    assert [o.fields for o in other] != [o.fields for o in offers]
    assert generate_changes(offers, CHANGES, 15, invalid_ratio=INVALID_RATIO) != changes


def test_the_order_the_communes_come_in_does_not_matter(
    communes: tuple[Commune, ...], offers: list[DemoOffer]
) -> None:
    assert generate_offers(200, 2026, tuple(reversed(communes))) == offers[:200]


def test_times_run_from_the_fixed_epoch_not_the_clock(
    offers: list[DemoOffer], changes: list[tuple[str, DemoChange]]
) -> None:
    times = [o.occurred_at for o in offers] + [c.occurred_at for _, c in changes]
    assert times[0] >= EPOCH
    assert times == sorted(times)
    assert all(t.utcoffset() is not None for t in times)
    assert times[-1].year == EPOCH.year


# ---------------------------------------------------------------- realistic offers


def test_every_offer_is_in_a_real_commune_of_its_owners_department(
    territory: Territory, offers: list[DemoOffer]
) -> None:
    for offer in offers:
        location = offer.fields.location
        assert location is not None
        insee = location.address.commune_insee
        assert territory[insee] == offer.commune
        assert location.address.commune_name == territory[insee].name
        assert offer.owner == CDT_BY_DEPARTMENT[territory[insee].department]
        department = territory[insee].department
        assert offer.offer_id.startswith(f"{offer.offer_type.value}NOR0{department}V5")


def test_offer_ids_are_unique_and_tourinsoft_like(offers: list[DemoOffer]) -> None:
    ids = [offer.offer_id for offer in offers]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 16 and i[-5:].isdigit() for i in ids)


def test_every_offer_passes_the_charte(territory: Territory, offers: list[DemoOffer]) -> None:
    refused = {
        offer.offer_id: violations
        for offer in offers
        if (
            violations := check_new_offer(offer.offer_id, offer.offer_type, offer.fields, territory)
        )
    }
    assert refused == {}


def test_points_stay_inside_normandy_and_near_their_department(
    territory: Territory, offers: list[DemoOffer]
) -> None:
    mean_longitude: dict[str, list[float]] = {}
    for offer in offers:
        assert offer.fields.location is not None
        assert offer.fields.location.geo is not None
        geo = offer.fields.location.geo
        assert territory.bounds.contains(geo.latitude, geo.longitude)
        mean_longitude.setdefault(offer.department, []).append(geo.longitude)
    west = sum(mean_longitude["50"]) / len(mean_longitude["50"])
    east = sum(mean_longitude["27"]) / len(mean_longitude["27"])
    assert west < -0.8 < 0.3 < east  # the Manche lies west of Calvados, the Eure east of it


def test_event_dates_are_ordered(offers: list[DemoOffer]) -> None:
    events = [o for o in offers if o.offer_type is OfferType.FMA]
    assert events
    for event in events:
        dates = event.fields.event_dates
        assert dates
        assert all(d.start <= d.end for d in dates)
        assert all(a.end < b.start for a, b in itertools.pairwise(dates))


def test_the_type_mix_is_roughly_that_of_the_regional_base(offers: list[DemoOffer]) -> None:
    share = {t: n / len(offers) for t, n in Counter(o.offer_type for o in offers).items()}
    assert set(share) == set(OfferType)
    for common in ("HLO", "HOT", "RES", "LOI", "PCU", "FMA"):
        assert share[OfferType(common)] > 0.05
    for rare in ("ORG", "VIL", "COM"):
        assert share[OfferType(rare)] < 0.03
    assert share[OfferType.HLO] == max(share.values())


def test_each_type_carries_the_groups_that_suit_it(offers: list[DemoOffer]) -> None:
    for offer in offers:
        groups = offer.fields.groups()
        assert (FieldGroup.EVENT_DATES in groups) == (offer.offer_type is OfferType.FMA)
        if offer.offer_type in (OfferType.HOT, OfferType.HPA, OfferType.HLO):
            assert FieldGroup.CAPACITY in groups
            assert FieldGroup.OPENING in groups
            assert FieldGroup.PRICES in groups
        for group in (FieldGroup.NAMES, FieldGroup.DESCRIPTIONS, FieldGroup.CONTACTS):
            assert group in groups


def test_descriptions_are_french_first_then_rarer_languages(offers: list[DemoOffer]) -> None:
    languages: Counter[str] = Counter()
    machine = 0
    for offer in offers:
        texts = offer.fields.descriptions or ()
        assert texts[0].lang == "fr"
        assert texts[0].source is TranslationSource.HUMAN
        languages.update(t.lang for t in texts)
        machine += sum(t.source is TranslationSource.MACHINE for t in texts)
    assert languages["fr"] == len(offers)
    assert languages["fr"] > languages["en"] > languages["de"] > languages["nl"] > languages["es"]
    assert languages["es"] > 0
    assert 0 < machine < sum(languages.values()) - languages["fr"]


def test_labels_suit_the_type(offers: list[DemoOffer]) -> None:
    schemes: dict[OfferType, set[ClassificationScheme]] = {}
    for offer in offers:
        for label in offer.fields.classifications or ():
            schemes.setdefault(offer.offer_type, set()).add(label.scheme)
    assert ClassificationScheme.PREFECTORAL_STARS in schemes[OfferType.HOT]
    assert ClassificationScheme.PREFECTORAL_STARS in schemes[OfferType.HPA]
    assert ClassificationScheme.GITES_DE_FRANCE in schemes[OfferType.HLO]
    assert ClassificationScheme.CLEVACANCES in schemes[OfferType.HLO]
    assert ClassificationScheme.GITES_DE_FRANCE not in schemes[OfferType.HOT]
    assert ClassificationScheme.LOGIS in schemes[OfferType.HOT]


def test_media_rights_include_expired_and_soon_ending_windows(offers: list[DemoOffer]) -> None:
    expired = ending_soon = open_ended = 0
    for offer in offers:
        media = offer.fields.media or ()
        assert len(media) <= 4
        created = offer.occurred_at.date()
        for item in media:
            assert item.credit.startswith("©")
            if item.rights_end is None:
                open_ended += 1
            elif item.rights_end < created:
                expired += 1
            elif (item.rights_end - created).days <= 60:
                ending_soon += 1
    assert expired
    assert ending_soon
    assert open_ended


def test_most_offers_are_published_and_carry_a_private_block(offers: list[DemoOffer]) -> None:
    private = [o.fields.private for o in offers if o.fields.private is not None]
    assert 0.75 < len(private) / len(offers) < 1
    assert all(p.owner_contacts and p.contract_refs for p in private)
    published = sum(o.fields.diffusion == "published" for o in offers)
    assert 0.85 < published / len(offers) < 1


# ---------------------------------------------------------------- changes


def test_the_invalid_share_is_exact_and_every_family_is_present(
    changes: list[tuple[str, DemoChange]],
) -> None:
    families = Counter(c.expected_rejection for _, c in changes)
    assert sum(n for family, n in families.items() if family is not None) == round(
        CHANGES * INVALID_RATIO
    )
    assert set(families) == {None, *RuleFamily}


def test_invalid_items_are_built_to_trip_their_rule_family(
    registry: Registry, offers: list[DemoOffer], changes: list[tuple[str, DemoChange]]
) -> None:
    by_id = offers_by_id(offers)
    for contributor, change in changes:
        offer = by_id[change.offer_id]
        if change.expected_rejection is RuleFamily.PRINCIPLE:
            assert contributor in CDT_BY_DEPARTMENT.values()
            assert contributor != offer.owner
        elif change.expected_rejection is RuleFamily.CONVENTION:
            assert contributor in OTS_BY_DEPARTMENT[offer.department]
            assert not entitled(registry, contributor, offer, change)
        elif change.expected_rejection is RuleFamily.CHARTE:
            assert contributor == offer.owner


def test_valid_changes_come_from_the_owner_or_an_organisation_the_registry_entitles(
    registry: Registry, offers: list[DemoOffer], changes: list[tuple[str, DemoChange]]
) -> None:
    by_id = offers_by_id(offers)
    authors: Counter[str] = Counter()
    for contributor, change in changes:
        if change.expected_rejection is not None:
            continue
        offer = by_id[change.offer_id]
        if contributor == offer.owner:
            authors["owner"] += 1
        else:
            assert entitled(registry, contributor, offer, change), (contributor, change.intent)
            authors[registry.organisations[contributor].kind] += 1
    assert authors["owner"] > authors[OrgKind.OT] > 0
    assert authors[OrgKind.FEDERATOR] > 0
    assert authors[OrgKind.CRT] > 0


def test_the_hubs_collection_rules_accept_and_reject_exactly_as_flagged(
    territory: Territory,
    registry: Registry,
    offers: list[DemoOffer],
    changes: list[tuple[str, DemoChange]],
) -> None:
    states: dict[str, OfferState] = {}
    outcomes: Counter[str] = Counter()
    for contributor, change in creations(offers) + changes:
        contribution = as_contribution(contributor, change)
        verdict = decide(
            states.get(change.offer_id), contribution, Context(contributor, registry, territory)
        )
        if change.expected_rejection is None:
            assert isinstance(verdict, Accepted), (change.intent, verdict)
            assert verdict.partial is None, (change.intent, verdict.partial)
            states[change.offer_id] = verdict.state
            outcomes["accepted"] += 1
        else:
            assert isinstance(verdict, Rejected), (change.intent, verdict)
            family = {rule.split(".", 1)[0] for rule in verdict.rejection.rule_ids}
            assert family == {change.expected_rejection.value}, (change.intent, verdict)
            outcomes[change.expected_rejection.value] += 1
    assert outcomes["accepted"] == OFFERS + CHANGES - round(CHANGES * INVALID_RATIO)


def test_the_demo_organisations_are_those_of_the_shipped_registry(registry: Registry) -> None:
    kinds = {org_id: org.kind for org_id, org in registry.organisations.items()}
    assert kinds[CRT] is OrgKind.CRT
    for department, cdt in CDT_BY_DEPARTMENT.items():
        assert registry.organisations[cdt].kind is OrgKind.CDT
        assert registry.organisations[cdt].department == department
    for department, ots in OTS_BY_DEPARTMENT.items():
        for ot in ots:
            assert registry.organisations[ot].kind is OrgKind.OT
            assert registry.organisations[ot].department == department
    assert all(kinds[f] is OrgKind.FEDERATOR for f in FEDERATORS)


def test_the_stream_has_updates_withdrawals_and_a_few_deletions(
    changes: list[tuple[str, DemoChange]],
) -> None:
    valid = [c.payload for _, c in changes if c.expected_rejection is None]
    kinds = Counter(type(p).__name__ for p in valid)
    assert kinds["FieldGroupsChanged"] > kinds["OfferWithdrawn"] > kinds["OfferDeleted"] > 0
    assert all(p.reason.strip() for p in valid if isinstance(p, OfferWithdrawn | OfferDeleted))
    updated = Counter(
        g for p in valid if isinstance(p, FieldGroupsChanged) for g in p.changed_groups
    )
    for group in ("descriptions", "prices", "opening", "media", "event_dates"):
        assert updated[FieldGroup(group)] > 0


def test_source_versions_grow_per_contributor_and_offer_from_the_creation(
    offers: list[DemoOffer], changes: list[tuple[str, DemoChange]]
) -> None:
    last: dict[tuple[str, str], int] = {}
    for contributor, change in creations(offers) + changes:
        key = (contributor, change.offer_id)
        assert change.source_version == last.get(key, 0) + 1
        last[key] = change.source_version


def test_no_change_targets_an_offer_already_withdrawn_or_deleted(
    changes: list[tuple[str, DemoChange]],
) -> None:
    gone: set[str] = set()
    for _, change in changes:
        assert change.offer_id not in gone
        if isinstance(change.payload, OfferWithdrawn | OfferDeleted):
            gone.add(change.offer_id)


def test_accepted_changes_keep_offers_within_the_charte_and_charte_items_break_it(
    territory: Territory, offers: list[DemoOffer], changes: list[tuple[str, DemoChange]]
) -> None:
    state: dict[str, OfferFields] = {o.offer_id: o.fields for o in offers}
    types = {o.offer_id: o.offer_type for o in offers}
    charte_items = 0
    for _, change in changes:
        if not isinstance(change.payload, FieldGroupsChanged):
            continue
        merged = state[change.offer_id].merged_with(change.payload.fields)
        violations = check_new_offer(change.offer_id, types[change.offer_id], merged, territory)
        if change.expected_rejection is RuleFamily.CHARTE:
            charte_items += 1
            assert violations, change.intent
            assert all(v.rule.startswith("charte.") for v in violations)
        else:
            assert violations == (), change.intent
            if change.expected_rejection is None:
                state[change.offer_id] = merged
    assert charte_items > 0


def test_changes_without_invalid_ratio_are_all_valid(offers: list[DemoOffer]) -> None:
    assert all(c.expected_rejection is None for _, c in generate_changes(offers, 500, 1))


@pytest.mark.parametrize(
    ("count", "ratio", "message"),
    [
        (-1, 0.0, "count=-1"),
        (10, 1.5, "invalid_ratio=1.5"),
        (10, -0.1, "invalid_ratio=-0.1"),
    ],
)
def test_bad_arguments_are_refused_naming_them(
    offers: list[DemoOffer], count: int, ratio: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        generate_changes(offers, count, 1, invalid_ratio=ratio)


def test_changes_need_offers_and_offers_need_normandy_communes() -> None:
    with pytest.raises(ValueError, match="need offers"):
        generate_changes([], 1, 1)
    with pytest.raises(ValueError, match="count=-5"):
        generate_offers(-5, 1, ())
    with pytest.raises(ValueError, match="no commune"):
        generate_offers(1, 1, (Commune("75056", "75", "Paris"),))


def test_offers_go_only_to_the_departments_given(communes: tuple[Commune, ...]) -> None:
    orne = tuple(c for c in communes if c.department == "61")
    made = generate_offers(300, 3, orne)
    assert {o.owner for o in made} == {"cdt-orne"}


# ---------------------------------------------------------------- the command


def generate_files(out: Path, *extra: str) -> str:
    args = ["demo", "generate", "--offers", "400", "--seed", "5", "--changes", "300"]
    result = CliRunner().invoke(app, [*args, "--invalid-ratio", "0.2", "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_command_writes_identical_files_for_identical_arguments(tmp_path: Path) -> None:
    generate_files(tmp_path / "a")
    generate_files(tmp_path / "b")
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert "cdt-calvados.jsonl" in names
    assert "manifest.json" in names
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_each_file_holds_its_contributors_contributions_in_time_order(tmp_path: Path) -> None:
    output = generate_files(tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    total = 0
    for path in sorted(tmp_path.glob("*.jsonl")):
        lines = path.read_text(encoding="utf-8").splitlines()
        contributions = [contribution_from_json(json.loads(line)) for line in lines]
        assert {c.contributor for c in contributions} == {path.stem}
        times = [c.occurred_at for c in contributions]
        assert times == sorted(times)
        assert manifest["files"][path.name] == len(lines)
        total += len(lines)
    assert total == 400 + 300
    assert len(manifest["expected_rejections"]) == 60
    creations_written = sum(
        isinstance(contribution_from_json(json.loads(line)).payload, OfferCreated)
        for path in tmp_path.glob("cdt-*.jsonl")
        for line in path.read_text(encoding="utf-8").splitlines()
    )
    assert creations_written == 400
    assert "400 offers, 300 changes (60 expected rejections" in output
    assert "Offers per type" in output
    assert "Offers per department" in output


def test_the_command_refuses_a_folder_that_already_holds_contributions(tmp_path: Path) -> None:
    generate_files(tmp_path)
    stale = tmp_path / "ot-stale.jsonl"
    stale.write_text("{}\n", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["demo", "generate", "--offers", "5", "--seed", "1", "--out", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert str(tmp_path) in result.output
    assert "--overwrite" in result.output
    generate_files(tmp_path, "--overwrite")
    assert not stale.exists()


def test_the_command_refuses_a_ratio_outside_zero_to_one(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "demo",
            "generate",
            "--offers",
            "5",
            "--seed",
            "1",
            "--invalid-ratio",
            "2",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 2
    assert "--invalid-ratio" in result.output
