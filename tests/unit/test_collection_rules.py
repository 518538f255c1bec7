"""The collection rules (architecture §4), judged on the shipped Normandy registry.

Each rule has its accept and its reject path. Offers are placed in real communes: Deauville
(14220, department 14, covered by ot-deauville's convention), Bayeux (14047), Évreux (27229).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cache

import pytest

from hub.core.collection import (
    Accepted,
    Context,
    NoEffect,
    OfferState,
    Rejected,
    Verdict,
    decide,
    evolve,
)
from hub.core.contribution import (
    Contribution,
    FieldGroupsChanged,
    OfferCreated,
    OfferDeleted,
    OfferWithdrawn,
    Payload,
)
from hub.core.offer import (
    Address,
    Classification,
    ClassificationScheme,
    DiffusionStatus,
    FieldGroup,
    GeoPoint,
    LocalizedText,
    Location,
    OfferFields,
    OfferType,
    Prices,
    PrivateBlock,
)
from hub.core.regional import OfferStatus
from hub.core.registry import Registry
from hub.reference import load_normandy_territory
from hub.registry.format import load_normandy_registry
from tests.support import examples

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DEAUVILLE = Location(Address("14220", "1 boulevard de la Mer", "14800", "Deauville"), None)
BAYEUX = Location(Address("14047", "4 rue des Cuisiniers", "14400", "Bayeux"), None)
EVREUX = Location(Address("27229", "1 place du Général de Gaulle", "27000", "Évreux"), None)


@cache
def registry() -> Registry:
    return load_normandy_registry()


def context(owner: str) -> Context:
    return Context(topic_owner=owner, registry=registry(), territory=load_normandy_territory())


def offer_fields(location: Location = DEAUVILLE) -> OfferFields:
    geo = {"14220": GeoPoint(49.36, 0.07), "14047": GeoPoint(49.28, -0.70)}.get(
        location.address.commune_insee, GeoPoint(49.02, 1.15)
    )
    return replace(examples.rich_offer_fields(), location=replace(location, geo=geo))


def contribution(
    contributor: str,
    payload: Payload,
    *,
    version: int = 1,
    offer_id: str = "HOTNOR014V500001",
    at: datetime = NOW,
) -> Contribution:
    return Contribution(
        event_id=f"{contributor}/{offer_id}/{version}",
        contributor=contributor,
        offer_id=offer_id,
        source_version=version,
        occurred_at=at,
        source_system="tests",
        source_id=offer_id,
        payload=payload,
    )


def judge(state: OfferState | None, c: Contribution, *, owner: str | None = None) -> Verdict:
    return decide(state, c, context(owner or c.contributor))


def accepted(verdict: Verdict) -> Accepted:
    assert isinstance(verdict, Accepted), verdict
    return verdict


def rejected(verdict: Verdict) -> Rejected:
    assert isinstance(verdict, Rejected), verdict
    return verdict


def created_by(
    contributor: str,
    offer_type: OfferType = OfferType.HOT,
    location: Location = DEAUVILLE,
    offer_id: str = "HOTNOR014V500001",
) -> OfferState:
    payload = OfferCreated(offer_type, offer_fields(location))
    return accepted(judge(None, contribution(contributor, payload, offer_id=offer_id))).state


def change(**groups: object) -> FieldGroupsChanged:
    return FieldGroupsChanged(OfferFields(**groups))  # type: ignore[arg-type]


NEW_NAMES = (LocalizedText("fr", "Hôtel de la Plage"), LocalizedText("en", "Beach Hotel"))


# ---------------------------------------------------------------- rule 1: identity


def test_a_contributor_publishing_on_its_own_topic_is_judged() -> None:
    verdict = judge(None, contribution("cdt-calvados", OfferCreated(OfferType.HOT, offer_fields())))
    assert accepted(verdict).change.version == 1


def test_an_envelope_claiming_another_organisation_is_rejected() -> None:
    c = contribution("cdt-calvados", OfferCreated(OfferType.HOT, offer_fields()))
    rejection = rejected(judge(None, c, owner="ot-deauville")).rejection
    assert rejection.rule_ids == ("identity",)
    assert "'cdt-calvados'" in rejection.message
    assert "'ot-deauville'" in rejection.message


def test_a_forged_envelope_is_refused_to_the_topic_owner_not_to_the_organisation_it_names() -> None:
    c = contribution("cdt-calvados", OfferCreated(OfferType.HOT, offer_fields()))
    rejection = rejected(judge(None, c, owner="ot-deauville")).rejection
    assert rejection.contributor == "ot-deauville"


def test_an_organisation_unknown_to_the_registry_is_rejected() -> None:
    c = contribution("ot-nowhere", OfferCreated(OfferType.HOT, offer_fields()))
    assert rejected(judge(None, c)).rejection.rule_ids == ("identity",)


# ---------------------------------------------------------------- rule 2: principle


def test_a_cdt_contributes_for_offers_located_in_its_department() -> None:
    state = created_by("cdt-calvados")
    assert state.status is OfferStatus.ACTIVE
    assert {p.authority for p in state.provenance} == {"principle:cdt-calvados"}


def test_a_cdt_cannot_contribute_for_an_offer_in_another_department() -> None:
    c = contribution("cdt-eure", OfferCreated(OfferType.HOT, offer_fields(DEAUVILLE)))
    rejection = rejected(judge(None, c)).rejection
    assert rejection.rule_ids == ("principle",)
    assert "department 27" in rejection.message
    assert "14220" in rejection.message


def test_a_cdt_cannot_move_its_offer_into_another_department() -> None:
    state = created_by("cdt-calvados")
    moved = contribution("cdt-calvados", change(location=EVREUX), version=2)
    assert rejected(judge(state, moved)).rejection.rule_ids == ("principle",)


# ---------------------------------------------------------------- rule 3: CRT exceptions


def test_the_crt_creates_regional_itineraries_under_its_exception() -> None:
    iti = OfferCreated(OfferType.ITI, offer_fields())
    verdict = judge(None, contribution("crt-normandie", iti, offer_id="ITINOR014V500001"))
    assert {p.authority for p in accepted(verdict).change.provenance} == {
        "exception:crt-iti-veloroutes"
    }


def test_the_crt_cannot_create_a_hotel_it_collects_from_the_cdts() -> None:
    c = contribution("crt-normandie", OfferCreated(OfferType.HOT, offer_fields()))
    rejection = rejected(judge(None, c)).rejection
    assert rejection.rule_ids == ("crt_exception",)
    assert "collects from the CDTs" in rejection.message


def test_the_crt_photo_library_changes_media_but_not_prices() -> None:
    state = created_by("cdt-calvados")
    both = change(media=(), prices=Prices(free=True))
    verdict = accepted(judge(state, contribution("crt-normandie", both)))
    assert verdict.change.changed_groups == (FieldGroup.MEDIA,)
    assert verdict.partial is not None
    assert verdict.partial.rejected_groups == (FieldGroup.PRICES,)
    assert verdict.partial.rule_ids == ("crt_exception",)


def test_a_crt_exception_is_judged_at_the_event_time_not_today() -> None:
    state = created_by("cdt-calvados")
    before = contribution("crt-normandie", change(media=()), at=datetime(2015, 6, 1, tzinfo=UTC))
    assert rejected(judge(state, before)).rejection.rule_ids == ("crt_exception",)


# ---------------------------------------------------------------- rule 4: conventions


def test_ot_with_a_convention_changes_names_of_an_offer_in_its_communes() -> None:
    state = created_by("cdt-calvados")
    verdict = accepted(judge(state, contribution("ot-deauville", change(names=NEW_NAMES))))
    assert verdict.partial is None
    assert verdict.change.public.names == NEW_NAMES
    (names,) = [p for p in verdict.change.provenance if p.group is FieldGroup.NAMES]
    assert names.authority == "convention:cc-ot-deauville-2019"
    assert names.contributor == "ot-deauville"


def test_ot_without_convention_cannot_change_prices() -> None:
    state = created_by("cdt-calvados", OfferType.RES, BAYEUX, "RESNOR014V500001")
    both = change(names=NEW_NAMES, prices=Prices(free=True))
    c = contribution("ot-bayeux", both, offer_id="RESNOR014V500001")
    verdict = accepted(judge(state, c))
    assert verdict.change.changed_groups == (FieldGroup.NAMES,)
    assert verdict.change.public.prices == state.fields.prices
    assert verdict.partial is not None
    assert verdict.partial.rejected_groups == (FieldGroup.PRICES,)
    assert "'prices'" in verdict.partial.message


def test_ot_cannot_contribute_outside_its_communes() -> None:
    state = created_by("cdt-calvados", OfferType.RES, BAYEUX, "RESNOR014V500001")
    c = contribution("ot-deauville", change(names=NEW_NAMES), offer_id="RESNOR014V500001")
    rejection = rejected(judge(state, c)).rejection
    assert rejection.rule_ids == ("convention",)
    assert "commune 14047" in rejection.message


def test_an_expired_convention_covered_the_offer_only_while_in_force() -> None:
    state = created_by("cdt-calvados", OfferType.LOI, BAYEUX, "LOINOR014V500001")
    in_2018 = datetime(2018, 5, 1, tzinfo=UTC)
    old = contribution(
        "ot-bayeux", change(names=NEW_NAMES), offer_id="LOINOR014V500001", at=in_2018
    )
    assert accepted(judge(state, old)).change.provenance[0].authority == (
        "convention:cc-ot-bayeux-2016"
    )
    hlo = created_by("cdt-calvados", OfferType.HLO, BAYEUX, "HLONOR014V500001")
    uncovered = contribution(
        "ot-bayeux", change(names=NEW_NAMES), offer_id=hlo.offer_id, at=in_2018
    )
    assert "covers HLO offers" in rejected(judge(hlo, uncovered)).rejection.message


def test_a_convention_that_starts_in_the_future_does_not_cover_today() -> None:
    alencon = Location(Address("61001", None, "61000", "Alençon"), None)
    state = created_by("cdt-orne", OfferType.RES, alencon, "RESNOR061V500001")
    c = contribution("ot-alencon", change(names=NEW_NAMES), offer_id="RESNOR061V500001")
    assert "no contribution convention in force" in rejected(judge(state, c)).rejection.message


def test_a_federator_sets_classifications_and_nothing_else() -> None:
    state = created_by("cdt-calvados")
    stars = (Classification(ClassificationScheme.PREFECTORAL_STARS, "4"),)
    ok = accepted(
        judge(state, contribution("fed-prefecture-calvados", change(classifications=stars)))
    )
    assert ok.change.public.classifications == stars
    names = contribution("fed-prefecture-calvados", change(names=NEW_NAMES), version=2)
    assert rejected(judge(ok.state, names)).rejection.rule_ids == ("convention",)


# ---------------------------------------------------------------- rule 5: ordering


def test_a_redelivered_contribution_has_no_effect() -> None:
    state = created_by("cdt-calvados")
    again = contribution("cdt-calvados", OfferCreated(OfferType.HOT, offer_fields()))
    assert isinstance(judge(state, again), NoEffect)


def test_an_older_source_version_has_no_effect() -> None:
    state = created_by("cdt-calvados")
    v3 = accepted(judge(state, contribution("cdt-calvados", change(names=NEW_NAMES), version=3)))
    older = contribution("cdt-calvados", change(prices=Prices(free=True)), version=2)
    assert isinstance(judge(v3.state, older), NoEffect)


def test_another_event_reusing_the_last_applied_version_is_rejected_naming_that_event() -> None:
    state = created_by("cdt-calvados")
    reused = replace(
        contribution("cdt-calvados", change(names=NEW_NAMES)), event_id="cdt-calvados/other"
    )
    rejection = rejected(judge(state, reused)).rejection
    assert rejection.rule_ids == ("ordering.stale",)
    assert "source version 1 of cdt-calvados was applied to HOTNOR014V500001 already" in (
        rejection.message
    )
    assert "as event cdt-calvados/HOTNOR014V500001/1" in rejection.message


def test_a_reused_version_has_no_effect_when_the_change_predates_recorded_events() -> None:
    state = created_by("cdt-calvados")
    legacy = replace(
        state,
        contributor_versions=tuple(replace(v, event_id=None) for v in state.contributor_versions),
    )
    reused = replace(
        contribution("cdt-calvados", change(names=NEW_NAMES)), event_id="cdt-calvados/other"
    )
    assert isinstance(judge(legacy, reused), NoEffect)


def test_other_contributors_versions_are_independent() -> None:
    v3 = accepted(
        judge(
            created_by("cdt-calvados"),
            contribution("cdt-calvados", change(names=NEW_NAMES), version=3),
        )
    )
    ot_first = contribution("ot-deauville", change(prices=Prices(free=True)), version=1)
    assert accepted(judge(v3.state, ot_first)).change.version == 3


@pytest.mark.parametrize("version", [0, -1, 2**53 + 1, 2**63 - 1])
def test_an_absurd_source_version_is_rejected_whatever_the_state(version: int) -> None:
    created = contribution("cdt-calvados", OfferCreated(OfferType.HOT, offer_fields()))
    absurd = replace(created, source_version=version)
    rejection = rejected(judge(None, absurd)).rejection
    assert rejection.rule_ids == ("ordering.source_version",)
    assert f"source version {version} is not between 1 and 2^53" in rejection.message
    later = change(names=NEW_NAMES)
    on_state = replace(contribution("cdt-calvados", later, version=2), source_version=version)
    assert rejected(judge(created_by("cdt-calvados"), on_state)).rejection.rule_ids == (
        "ordering.source_version",
    )


def test_the_largest_exact_json_integer_is_a_valid_source_version() -> None:
    created = contribution("cdt-calvados", OfferCreated(OfferType.HOT, offer_fields()))
    assert accepted(judge(None, replace(created, source_version=2**53))).change.version == 1


def test_an_event_time_before_1990_is_rejected() -> None:
    created = contribution(
        "cdt-calvados",
        OfferCreated(OfferType.HOT, offer_fields()),
        at=datetime(1, 1, 1, tzinfo=UTC),
    )
    rejection = rejected(judge(None, created)).rejection
    assert rejection.rule_ids == ("ordering.event_time",)
    assert "is before 1990" in rejection.message


def test_an_event_time_more_than_a_year_after_its_arrival_is_rejected() -> None:
    created = contribution(
        "cdt-calvados",
        OfferCreated(OfferType.HOT, offer_fields()),
        at=datetime(9999, 12, 31, tzinfo=UTC),
    )
    arrived = replace(context("cdt-calvados"), received_at=NOW)
    rejection = rejected(decide(None, created, arrived)).rejection
    assert rejection.rule_ids == ("ordering.event_time",)
    assert "more than a year after it reached the hub" in rejection.message
    soon = replace(created, occurred_at=NOW + timedelta(days=364))
    assert accepted(decide(None, soon, arrived)).change.occurred_at == soon.occurred_at


def test_without_an_arrival_time_only_the_era_bounds_the_event_time() -> None:
    far = contribution(
        "cdt-calvados",
        OfferCreated(OfferType.HOT, offer_fields()),
        at=datetime(2999, 1, 1, tzinfo=UTC),
    )
    assert accepted(judge(None, far)).change.version == 1


def test_the_state_rebuilt_from_the_latest_change_judges_like_the_live_state() -> None:
    live = accepted(
        judge(created_by("cdt-calvados"), contribution("ot-deauville", change(names=NEW_NAMES)))
    )
    rebuilt = evolve(live.change)
    assert rebuilt == live.state
    again = contribution("ot-deauville", change(names=NEW_NAMES))
    assert isinstance(judge(rebuilt, again), NoEffect)


# ---------------------------------------------------------------- rule 6: charte de saisie


def test_a_change_breaking_the_charte_is_rejected_with_the_rule_and_field() -> None:
    state = created_by("cdt-calvados")
    english_only = change(names=(LocalizedText("en", "Beach Hotel"),))
    rejection = rejected(
        judge(state, contribution("cdt-calvados", english_only, version=2))
    ).rejection
    assert rejection.rule_ids == ("charte.name_fr",)
    assert rejection.rejected_groups == (FieldGroup.NAMES,)
    assert rejection.message.startswith("names")


def test_a_creation_outside_normandy_is_rejected_by_the_charte() -> None:
    paris = Location(Address("75056", None, "75001", "Paris"), GeoPoint(48.85, 2.35))
    c = contribution(
        "cdt-calvados", OfferCreated(OfferType.HOT, replace(offer_fields(), location=paris))
    )
    assert "charte.commune" in rejected(judge(None, c)).rejection.rule_ids


# ---------------------------------------------------------------- rule 7: privacy


def test_the_private_block_travels_apart_from_the_public_state() -> None:
    state = created_by("cdt-calvados")
    assert state.fields.private is not None
    change_record = accepted(
        judge(state, contribution("ot-deauville", change(names=NEW_NAMES)))
    ).change
    assert change_record.public.private is None
    assert change_record.private == state.fields.private


def test_an_ot_whose_convention_omits_private_fields_cannot_set_them() -> None:
    private = PrivateBlock(internal_notes="owner prefers calls after 6pm")
    state = created_by("cdt-eure", OfferType.LOI, EVREUX, "LOINOR027V500001")
    c = contribution("ot-evreux", change(names=NEW_NAMES, private=private), offer_id=state.offer_id)
    verdict = accepted(judge(state, c))
    assert verdict.partial is not None
    assert verdict.partial.rejected_groups == (FieldGroup.PRIVATE,)
    assert verdict.change.private == state.fields.private


# ---------------------------------------------------------------- the offer's life cycle


def test_a_change_to_an_unknown_offer_is_rejected() -> None:
    rejection = rejected(
        judge(None, contribution("cdt-calvados", change(names=NEW_NAMES)))
    ).rejection
    assert rejection.rule_ids == ("offer.unknown",)


def test_an_offer_cannot_change_type() -> None:
    state = created_by("cdt-calvados")
    c = contribution("cdt-calvados", OfferCreated(OfferType.RES, offer_fields()), version=2)
    assert rejected(judge(state, c)).rejection.rule_ids == ("offer.type_change",)


def test_withdrawal_keeps_the_content_and_republishing_reactivates() -> None:
    state = created_by("cdt-calvados")
    gone = accepted(judge(state, contribution("cdt-calvados", OfferWithdrawn("closed"), version=2)))
    assert gone.change.status is OfferStatus.WITHDRAWN
    assert gone.change.public.names == state.fields.names
    back = contribution("cdt-calvados", change(diffusion=DiffusionStatus.PUBLISHED), version=3)
    assert accepted(judge(gone.state, back)).change.status is OfferStatus.ACTIVE


def test_an_ot_cannot_delete_an_offer_it_may_only_partly_change() -> None:
    state = created_by("cdt-calvados")
    c = contribution("ot-deauville", OfferDeleted("duplicate"))
    assert rejected(judge(state, c)).rejection.rule_ids == ("convention",)


def test_deletion_empties_the_offer_and_later_changes_are_refused() -> None:
    state = created_by("cdt-calvados")
    deleted = accepted(
        judge(state, contribution("cdt-calvados", OfferDeleted("duplicate"), version=2))
    )
    assert deleted.change.status is OfferStatus.DELETED
    assert deleted.change.public == OfferFields()
    late = contribution("cdt-calvados", change(names=NEW_NAMES), version=3)
    assert "deleted" in rejected(judge(deleted.state, late)).rejection.message


@pytest.mark.parametrize("version", [2, 7])
def test_each_accepted_change_gets_the_next_regional_version(version: int) -> None:
    state = created_by("cdt-calvados")
    c = contribution("cdt-calvados", change(names=NEW_NAMES), version=version)
    assert accepted(judge(state, c)).change.version == 2
