"""The diffusion rules (architecture §5), judged on the shipped Normandy registry.

Real diffusers of `hub/registry/normandy.toml`: the Calvados board's site (institutional, department
14, six languages), calendrierdesfetes.fr (partner, events only, French), DATAtourisme (open data,
French and English, limited groups, one concession only: Manche heritage entered by its CDT),
tourisme.fr (partner, whose 2016 convention expired on 2021-12-31 and was followed by a wider one)
and the Ouest-France agenda (in force from 2021-09-01, events and leisure of 14, 50 and 61).
Offers sit in real communes: Deauville (14220), Évreux (27229), Le Mont-Saint-Michel (50353).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.core.diffusion import DiffusionChange, DiffusionKind, DiffusionReason
from hub.core.diffusion_rules import (
    BoundaryPlanner,
    Excluded,
    View,
    boundary_facts,
    fan_out,
    last_received,
    next_boundary,
    project,
    route,
)
from hub.core.offer import (
    LANGUAGES,
    Address,
    Contact,
    ContactKind,
    DiffuserClass,
    DiffusionStatus,
    EventDate,
    FieldGroup,
    GeoPoint,
    LocalizedText,
    Location,
    Media,
    OfferFields,
    OfferType,
    PriceLine,
    Prices,
    PrivateBlock,
)
from hub.core.regional import ContributorVersion, OfferStatus, Provenance, RegionalChange
from hub.core.registry import Diffuser, DiffusionConvention, Registry, Validity
from hub.registry.format import load_normandy_registry
from tests.support import examples
from tests.unit.test_codec_properties import offer_fields

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
CANARY = "CANARI-7f3a"  # private: must never reach any diffuser
EXPIRED = "EXPIRE-51c9"  # in a media whose rights ended on 2024-12-31

DEAUVILLE = Location(
    Address("14220", "1 boulevard de la Mer", "14800", "Deauville"), GeoPoint(49.36, 0.07)
)
EVREUX = Location(
    Address("27229", "1 place du Général de Gaulle", "27000", "Évreux"), GeoPoint(49.02, 1.15)
)
MONT_SAINT_MICHEL = Location(
    Address("50353", "Grande Rue", "50170", "Le Mont-Saint-Michel"), GeoPoint(48.636, -1.511)
)

PHOTO = Media(
    url="https://media.example/plage.jpg",
    credit="© Office de tourisme de Deauville",
    licence="CC-BY-4.0",
    title="La plage au petit matin",
    rights_start=date(2020, 1, 1),
)
EXPIRED_PHOTO = Media(
    url=f"https://media.example/{EXPIRED}.jpg",
    credit=f"© {EXPIRED}",
    licence="concession-2019-4",
    rights_start=date(2019, 1, 1),
    rights_end=date(2024, 12, 31),
)
SUMMER_PHOTO = Media(
    url="https://media.example/planches-ete.jpg",
    credit="© J. Leroy",
    licence="concession-2026-31",
    title="Les planches en été",
    rights_start=date(2026, 4, 1),
    rights_end=date(2026, 9, 30),
)
INSTITUTIONAL_PHOTO = Media(
    url="https://media.example/vue-aerienne.jpg",
    credit="© Calvados Attractivité",
    licence="usage institutionnel",
    allowed_classes=(DiffuserClass.INSTITUTIONAL,),
)
SECRET = PrivateBlock(
    owner_contacts=(Contact(ContactKind.MOBILE, "+33 6 11 22 33 44", CANARY),),
    contract_refs=(f"CONC-{CANARY}",),
    internal_notes=f"Ne pas diffuser : {CANARY}",
)
JUNE_FESTIVAL = (EventDate(date(2026, 6, 10), date(2026, 6, 14)),)


@cache
def registry() -> Registry:
    return load_normandy_registry()


def diffuser(diffuser_id: str) -> Diffuser:
    found = registry().diffuser(diffuser_id)
    assert found is not None, diffuser_id
    return found


def convention(convention_id: str) -> DiffusionConvention:
    (found,) = (c for c in registry().diffusion_conventions if c.convention_id == convention_id)
    return found


def without_convention(convention_id: str) -> Registry:
    kept = tuple(c for c in registry().diffusion_conventions if c.convention_id != convention_id)
    assert len(kept) == len(registry().diffusion_conventions) - 1
    return replace(registry(), diffusion_conventions=kept)


def with_concession_ending(concession_id: str, last_day: date) -> Registry:
    """The registry after an operator ends a concession on `last_day` (inclusive)."""
    concessions = tuple(
        replace(c, validity=replace(c.validity, valid_until=last_day))
        if c.concession_id == concession_id
        else c
        for c in registry().concessions
    )
    assert concessions != registry().concessions
    return replace(registry(), concessions=concessions)


def public_fields(location: Location | None = DEAUVILLE, **groups: object) -> OfferFields:
    """A published offer with every public group set, six languages, live and expired media."""
    base = replace(
        examples.rich_offer_fields(),
        location=location,
        media=(PHOTO, EXPIRED_PHOTO),
        diffusion=DiffusionStatus.PUBLISHED,
        private=None,
    )
    return replace(base, **groups)  # type: ignore[arg-type]


def offer(
    offer_type: OfferType = OfferType.HOT,
    public: OfferFields | None = None,
    *,
    contributor: str = "cdt-calvados",
    others: dict[FieldGroup, str] | None = None,
    offer_id: str | None = None,
    version: int = 1,
    status: OfferStatus = OfferStatus.ACTIVE,
    private: PrivateBlock | None = SECRET,
) -> RegionalChange:
    """Version `version` of an offer whose groups `contributor` set (except those in `others`)."""
    fields = public if public is not None else public_fields()
    if status is OfferStatus.DELETED:
        fields, private = OfferFields(), None
    oid = offer_id or f"{offer_type.value}NOR014V500001"
    event_id = f"{contributor}/{oid}/{version}"
    groups = fields.groups() + ((FieldGroup.PRIVATE,) if private is not None else ())
    who = {g: (others or {}).get(g, contributor) for g in groups}
    return RegionalChange(
        offer_id=oid,
        version=version,
        offer_type=offer_type,
        status=status,
        changed_groups=groups,
        public=fields,
        private=private,
        provenance=tuple(
            Provenance(g, who[g], event_id, version, NOW, f"principle:{who[g]}") for g in groups
        ),
        event_id=event_id,
        contributor=contributor,
        occurred_at=NOW,
        source_version=version,
        contributor_versions=tuple(
            ContributorVersion(c, version) for c in sorted(set(who.values()))
        ),
    )


def festival(location: Location = DEAUVILLE, **groups: object) -> RegionalChange:
    return offer(OfferType.FMA, public_fields(location, event_dates=JUNE_FESTIVAL, **groups))


def manche_heritage(contributor: str = "cdt-manche", **groups: object) -> RegionalChange:
    fields = public_fields(MONT_SAINT_MICHEL, **groups)
    return offer(OfferType.PCU, fields, contributor=contributor, offer_id="PCUNOR050V500001")


def view(
    change: RegionalChange, diffuser_id: str, at: datetime = NOW, reg: Registry | None = None
) -> View:
    projected = project(change, diffuser(diffuser_id), reg or registry(), at)
    assert isinstance(projected, View), projected
    return projected


def excluded(
    change: RegionalChange, diffuser_id: str, at: datetime = NOW, reg: Registry | None = None
) -> Excluded:
    projected = project(change, diffuser(diffuser_id), reg or registry(), at)
    assert isinstance(projected, Excluded), projected
    return projected


def languages_of(texts: tuple[LocalizedText, ...] | None) -> tuple[str, ...]:
    assert texts is not None
    return tuple(text.lang for text in texts)


def midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def send(
    previous: View | None,
    change: RegionalChange,
    diffuser_id: str,
    at: datetime = NOW,
    reg: Registry | None = None,
) -> tuple[DiffusionChange | None, View | None]:
    return route(previous, change, diffuser(diffuser_id), reg or registry(), at)


# ---------------------------------------------------------------- scope: convention in force


def test_a_diffuser_receives_nothing_before_its_convention_comes_into_force() -> None:
    event = festival()
    before = excluded(event, "agenda-ouest-france", datetime(2021, 8, 31, 23, 59, tzinfo=UTC))
    assert before.reason is DiffusionReason.CONVENTION_ENDED
    assert "agenda-ouest-france" in before.detail
    assert "2021-08-31" in before.detail
    view(event, "agenda-ouest-france", datetime(2021, 9, 1, tzinfo=UTC))


def test_an_expired_convention_gives_way_to_its_successor_on_the_next_day() -> None:
    hotel = offer()
    last_day = view(hotel, "tourisme-fr", datetime(2021, 12, 31, 23, 59, tzinfo=UTC))
    first_day = view(hotel, "tourisme-fr", datetime(2022, 1, 1, tzinfo=UTC))
    assert languages_of(last_day.fields.names) == convention("dc-tourisme-fr-2016").languages
    assert last_day.fields.prices is None
    assert languages_of(first_day.fields.names) == convention("dc-tourisme-fr-2022").languages
    assert first_day.fields.prices == hotel.public.prices


def test_a_diffuser_whose_only_convention_expired_receives_nothing() -> None:
    reg = without_convention("dc-tourisme-fr-2022")
    gone = excluded(offer(), "tourisme-fr", datetime(2022, 1, 1, tzinfo=UTC), reg)
    assert gone.reason is DiffusionReason.CONVENTION_ENDED


# ---------------------------------------------------------------- scope: type and territory


def test_a_diffuser_receives_only_the_offer_types_of_its_convention() -> None:
    assert excluded(offer(), "calendrierdesfetes").reason is DiffusionReason.OUT_OF_TERRITORY
    assert "HOT" in excluded(offer(), "calendrierdesfetes").detail
    view(festival(), "calendrierdesfetes")


def test_a_diffuser_receives_only_offers_in_the_departments_of_its_convention() -> None:
    in_evreux = offer(public=public_fields(EVREUX), contributor="cdt-eure")
    outside = excluded(in_evreux, "site-cdt-calvados")
    assert outside.reason is DiffusionReason.OUT_OF_TERRITORY
    assert "department 27" in outside.detail
    view(in_evreux, "site-cdt-eure")
    view(in_evreux, "site-crt-normandie")  # a region-wide convention
    view(offer(), "site-cdt-calvados")


def test_an_offer_without_location_is_covered_only_by_region_wide_conventions() -> None:
    nowhere = offer(public=public_fields(location=None))
    assert excluded(nowhere, "site-cdt-calvados").reason is DiffusionReason.OUT_OF_TERRITORY
    view(nowhere, "site-crt-normandie")


# ---------------------------------------------------------------- scope: published


@pytest.mark.parametrize("status", [DiffusionStatus.UNPUBLISHED, None])
def test_an_offer_not_published_reaches_no_diffuser(status: DiffusionStatus | None) -> None:
    hidden = offer(public=public_fields(diffusion=status))
    assert fan_out(hidden, {}, registry(), NOW) == ()
    assert excluded(hidden, "site-crt-normandie").reason is DiffusionReason.UNPUBLISHED


@pytest.mark.parametrize("status", [OfferStatus.WITHDRAWN, OfferStatus.DELETED])
def test_a_withdrawn_or_deleted_offer_reaches_no_diffuser(status: OfferStatus) -> None:
    gone = offer(status=status)
    assert fan_out(gone, {}, registry(), NOW) == ()
    assert excluded(gone, "site-crt-normandie").reason is DiffusionReason.WITHDRAWN


def test_the_conditions_are_checked_in_the_documented_order() -> None:
    # A hotel in Évreux, unpublished, seen by calendrierdesfetes before its convention: every
    # condition fails; each fix reveals the next one.
    at = datetime(2018, 6, 1, tzinfo=UTC)
    failing = offer(public=public_fields(EVREUX, diffusion=DiffusionStatus.UNPUBLISHED))
    steps = [
        (replace(failing, status=OfferStatus.WITHDRAWN), DiffusionReason.WITHDRAWN),
        (failing, DiffusionReason.UNPUBLISHED),
        (offer(public=public_fields(EVREUX)), DiffusionReason.CONVENTION_ENDED),
    ]
    for change, reason in steps:
        assert excluded(change, "calendrierdesfetes", at).reason is reason
    assert excluded(offer(public=public_fields(EVREUX)), "calendrierdesfetes").reason is (
        DiffusionReason.OUT_OF_TERRITORY
    )
    assert excluded(offer(public=public_fields(EVREUX)), "datatourisme").reason is (
        DiffusionReason.RIGHTS_ENDED
    )


# ---------------------------------------------------------------- scope: events that are over


def test_an_event_leaves_every_feed_the_day_after_its_last_date() -> None:
    event = festival()
    view(event, "calendrierdesfetes", datetime(2026, 6, 14, 23, 59, tzinfo=UTC))
    over = excluded(event, "calendrierdesfetes", datetime(2026, 6, 15, tzinfo=UTC))
    assert over.reason is DiffusionReason.EVENT_ENDED
    assert "2026-06-14" in over.detail


def test_an_event_is_over_only_after_its_last_occurrence() -> None:
    dates = (
        EventDate(date(2026, 6, 10), date(2026, 6, 14)),
        EventDate(date(2026, 8, 1), date(2026, 8, 2)),
    )
    event = offer(OfferType.FMA, public_fields(event_dates=dates))
    view(event, "calendrierdesfetes", datetime(2026, 7, 1, tzinfo=UTC))
    assert excluded(event, "calendrierdesfetes", datetime(2026, 8, 3, tzinfo=UTC)).reason is (
        DiffusionReason.EVENT_ENDED
    )


def test_past_event_dates_do_not_end_an_offer_that_is_not_an_event() -> None:
    hotel = offer(
        public=public_fields(event_dates=(EventDate(date(2020, 1, 1), date(2020, 1, 2)),))
    )
    assert view(hotel, "site-cdt-calvados").fields.event_dates == hotel.public.event_dates


# ---------------------------------------------------------------- scope: concessions


def test_the_open_data_diffuser_gets_no_offer_without_a_concession_for_open_data() -> None:
    hotel = offer()
    refused = excluded(hotel, "datatourisme")
    assert refused.reason is DiffusionReason.RIGHTS_ENDED
    assert "open_data" in refused.detail
    assert "cdt-calvados" in refused.detail
    view(hotel, "site-cdt-calvados")
    view(manche_heritage(), "datatourisme")


def test_a_concession_counts_only_from_the_day_it_comes_into_force() -> None:
    heritage = manche_heritage()
    before = excluded(heritage, "datatourisme", datetime(2020, 5, 31, 23, 59, tzinfo=UTC))
    assert before.reason is DiffusionReason.RIGHTS_ENDED
    view(heritage, "datatourisme", datetime(2020, 6, 1, tzinfo=UTC))


def test_a_concession_restricted_by_type_does_not_cover_other_types() -> None:
    hotel = offer(public=public_fields(MONT_SAINT_MICHEL), contributor="cdt-manche")
    assert excluded(hotel, "datatourisme").reason is DiffusionReason.RIGHTS_ENDED


def test_a_blanket_concession_counts_when_its_holder_contributed_to_the_offer() -> None:
    by_the_office = manche_heritage(contributor="ot-mont-saint-michel")
    assert excluded(by_the_office, "datatourisme").reason is DiffusionReason.RIGHTS_ENDED
    located_by_the_cdt = replace(
        by_the_office,
        provenance=offer(
            OfferType.PCU,
            by_the_office.public,
            contributor="ot-mont-saint-michel",
            others={FieldGroup.LOCATION: "cdt-manche"},
        ).provenance,
    )
    view(located_by_the_cdt, "datatourisme")


def test_a_concession_listing_the_offer_counts_whoever_contributed() -> None:
    route_ids = ("ITINOR0760000101", "ITINOR014V599999")
    listed, unlisted = (
        replace(offer(OfferType.ITI, contributor="crt-normandie"), offer_id=oid)
        for oid in route_ids
    )
    view(listed, "datatourisme")
    assert excluded(unlisted, "datatourisme").reason is DiffusionReason.RIGHTS_ENDED
    orphan = replace(listed, provenance=())
    view(orphan, "datatourisme")


# ---------------------------------------------------------------- the view: fields and languages


def test_a_view_holds_only_the_field_groups_of_the_convention() -> None:
    heritage = manche_heritage()
    groups = view(heritage, "datatourisme").fields.groups()
    allowed = convention("dc-datatourisme-2019").field_groups
    assert groups == tuple(g for g in heritage.public.groups() if g in allowed)
    for left_out in (FieldGroup.PRICES, FieldGroup.CAPACITY, FieldGroup.DIFFUSION):
        assert left_out in heritage.public.groups()
        assert left_out not in groups


def test_a_view_holds_only_the_languages_of_the_convention() -> None:
    heritage = manche_heritage()
    assert len(languages_of(heritage.public.names)) == len(LANGUAGES)
    open_data = view(heritage, "datatourisme").fields
    assert languages_of(open_data.names) == ("fr", "en")
    assert languages_of(open_data.descriptions) == ("fr", "en")
    assert languages_of(view(festival(), "calendrierdesfetes").fields.names) == ("fr",)
    assert languages_of(view(heritage, "site-crt-normandie").fields.names) == LANGUAGES


def test_a_text_group_with_nothing_in_the_conventions_languages_stays_set_and_empty() -> None:
    german_only = (LocalizedText("de", "Die Abtei auf dem Felsen"),)
    heritage = manche_heritage(descriptions=german_only)
    assert view(heritage, "datatourisme").fields.descriptions == ()
    assert view(heritage, "site-cdt-manche").fields.descriptions == german_only


def _everything_claims_private(reg: Registry) -> Registry:
    return replace(
        reg,
        diffusion_conventions=tuple(
            replace(c, field_groups=tuple(FieldGroup)) for c in reg.diffusion_conventions
        ),
    )


def test_no_view_ever_holds_private_data_whatever_the_convention_or_the_change_says() -> None:
    heritage = manche_heritage()
    # On purpose: a malformed change carrying its private block among the public fields, and
    # conventions claiming the private group (the registry file refuses that; a fold might not).
    leaky = replace(heritage, public=replace(heritage.public, private=SECRET))
    assert CANARY in repr(leaky.public)
    for reg in (registry(), _everything_claims_private(registry())):
        for at in (NOW, datetime(2024, 12, 31, tzinfo=UTC), datetime(2031, 1, 1, tzinfo=UTC)):
            entries = fan_out(leaky, {}, reg, at)
            assert entries, at
            for entry in entries:
                assert entry.view is not None
                assert entry.view.private is None
                assert CANARY not in repr(entry)


# ---------------------------------------------------------------- the view: media


@pytest.mark.parametrize(
    ("at", "shown"),
    [
        (datetime(2026, 3, 31, 23, 59, tzinfo=UTC), False),
        (datetime(2026, 4, 1, 0, 0, tzinfo=UTC), True),
        (datetime(2026, 9, 30, 23, 59, tzinfo=UTC), True),
        (datetime(2026, 10, 1, 0, 0, tzinfo=UTC), False),
    ],
    ids=["before-start", "first-day", "last-day", "after-end"],
)
def test_a_media_is_shown_only_inside_its_rights_window(at: datetime, shown: bool) -> None:
    hotel = offer(public=public_fields(media=(PHOTO, SUMMER_PHOTO)))
    media = view(hotel, "site-cdt-calvados", at).fields.media
    assert media is not None
    assert (SUMMER_PHOTO in media) is shown
    assert PHOTO in media  # unchanged: url, credit, licence and title kept


def test_a_media_whose_rights_ended_appears_in_no_view() -> None:
    hotel = offer()
    assert EXPIRED_PHOTO in (hotel.public.media or ())
    entries = fan_out(hotel, {}, registry(), NOW)
    assert entries
    assert all(EXPIRED not in repr(entry) for entry in entries)


def test_a_media_reaches_only_the_classes_its_licence_allows() -> None:
    hotel = offer(public=public_fields(media=(PHOTO, INSTITUTIONAL_PHOTO)))
    assert view(hotel, "site-cdt-calvados").fields.media == (PHOTO, INSTITUTIONAL_PHOTO)
    assert view(hotel, "tourisme-fr").fields.media == (PHOTO,)


def test_the_time_of_a_naive_datetime_is_read_as_utc() -> None:
    hotel = offer(public=public_fields(media=(SUMMER_PHOTO,)))
    naive = datetime(2026, 4, 1, 0, 30)  # noqa: DTZ001 - on purpose
    assert view(hotel, "site-cdt-calvados", naive).fields.media == (SUMMER_PHOTO,)


# ---------------------------------------------------------------- transitions


def test_an_offer_entering_the_scope_is_sent_whole() -> None:
    hotel = replace(offer(), changed_groups=(FieldGroup.PRICES,))
    entry, held = send(None, hotel, "site-cdt-calvados")
    assert entry is not None
    assert (entry.kind, entry.reason) == (DiffusionKind.UPSERT, DiffusionReason.ENTERED_SCOPE)
    assert entry.view is not None
    assert entry.view.groups() == hotel.public.groups()  # every group, not only prices
    assert (entry.offer_id, entry.version, entry.offer_type) == (hotel.offer_id, 1, OfferType.HOT)
    assert (entry.diffuser_id, entry.occurred_at) == ("site-cdt-calvados", NOW)
    assert held == view(hotel, "site-cdt-calvados")
    assert last_received(entry) == held


def _repriced(change: RegionalChange, version: int = 2) -> RegionalChange:
    prices = Prices(lines=(PriceLine("Chambre double", None, None),))
    return replace(
        change,
        version=version,
        public=replace(change.public, prices=prices),
        changed_groups=(FieldGroup.PRICES,),
    )


def test_a_change_inside_the_view_is_sent_as_an_upsert() -> None:
    _, held = send(None, offer(), "site-cdt-calvados")
    later = NOW + timedelta(hours=1)
    entry, now_held = send(held, _repriced(offer()), "site-cdt-calvados", later)
    assert entry is not None
    assert (entry.kind, entry.reason) == (DiffusionKind.UPSERT, DiffusionReason.CHANGED)
    assert (entry.version, entry.occurred_at) == (2, later)
    assert entry.view is not None
    assert entry.view.prices == _repriced(offer()).public.prices
    assert now_held is not None
    assert now_held != held


def test_a_change_outside_the_view_sends_nothing() -> None:
    heritage = manche_heritage()
    _, held = send(None, heritage, "datatourisme")
    assert held is not None
    assert send(held, _repriced(heritage), "datatourisme") == (None, held)


def test_a_change_of_the_private_block_sends_nothing_to_anyone() -> None:
    hotel = offer()
    held = {
        e.diffuser_id: v for e in fan_out(hotel, {}, registry(), NOW) if (v := last_received(e))
    }
    assert held
    renoted = replace(hotel, version=2, private=replace(SECRET, internal_notes="autre note"))
    assert fan_out(renoted, held, registry(), NOW) == ()


def test_an_offer_never_received_and_out_of_scope_sends_nothing() -> None:
    assert send(None, offer(), "calendrierdesfetes") == (None, None)


def _removal(
    before: RegionalChange,
    after: RegionalChange,
    diffuser_id: str,
    at: datetime = NOW,
    reg: Registry | None = None,
    then: datetime = NOW,
) -> DiffusionChange:
    _, held = send(None, before, diffuser_id, then, reg)
    assert held is not None
    entry, now_held = send(held, after, diffuser_id, at, reg)
    assert entry is not None
    assert now_held is None
    assert (entry.kind, entry.view, entry.offer_type) == (DiffusionKind.REMOVAL, None, None)
    assert (entry.offer_id, entry.version, entry.occurred_at) == (after.offer_id, after.version, at)
    assert last_received(entry) is None
    return entry


def test_a_withdrawn_offer_is_removed_from_the_feeds_that_held_it() -> None:
    entry = _removal(offer(), offer(version=2, status=OfferStatus.WITHDRAWN), "site-cdt-calvados")
    assert entry.reason is DiffusionReason.WITHDRAWN


def test_an_unpublished_offer_is_removed_from_the_feeds_that_held_it() -> None:
    hidden = offer(public=public_fields(diffusion=DiffusionStatus.UNPUBLISHED), version=2)
    assert _removal(offer(), hidden, "tourisme-fr").reason is DiffusionReason.UNPUBLISHED


def test_an_offer_whose_concession_ended_is_removed_on_the_next_day() -> None:
    reg = with_concession_ending("concession-opendata-manche-patrimoine", date(2026, 6, 30))
    heritage = manche_heritage()
    view(heritage, "datatourisme", datetime(2026, 6, 30, 23, 59, tzinfo=UTC), reg)
    entry = _removal(heritage, heritage, "datatourisme", datetime(2026, 7, 1, tzinfo=UTC), reg)
    assert entry.reason is DiffusionReason.RIGHTS_ENDED


def test_an_offer_is_removed_when_the_diffusers_convention_ends() -> None:
    reg = without_convention("dc-tourisme-fr-2022")
    last_day = datetime(2021, 12, 31, tzinfo=UTC)
    entry = _removal(offer(), offer(), "tourisme-fr", midnight(date(2022, 1, 1)), reg, last_day)
    assert entry.reason is DiffusionReason.CONVENTION_ENDED


def test_an_event_that_is_over_is_removed() -> None:
    event = festival()
    entry = _removal(event, event, "calendrierdesfetes", midnight(date(2026, 6, 15)))
    assert entry.reason is DiffusionReason.EVENT_ENDED


def test_a_convention_change_is_sent_as_an_upsert_of_the_new_view() -> None:
    hotel = offer()
    _, held = send(None, hotel, "tourisme-fr", datetime(2021, 12, 31, tzinfo=UTC))
    entry, _ = send(held, hotel, "tourisme-fr", midnight(date(2022, 1, 1)))
    assert entry is not None
    assert (entry.kind, entry.reason) == (DiffusionKind.UPSERT, DiffusionReason.CHANGED)


# ---------------------------------------------------------------- fan-out


def test_fan_out_visits_every_diffuser_in_id_order() -> None:
    entries = fan_out(offer(), {}, registry(), NOW)
    ids = [e.diffuser_id for e in entries]
    assert ids == sorted(ids)
    assert {"site-crt-normandie", "site-cdt-calvados", "tourisme-fr"} <= set(ids)
    assert not {"site-cdt-eure", "calendrierdesfetes", "datatourisme"} & set(ids)
    assert all(e.reason is DiffusionReason.ENTERED_SCOPE for e in entries)


def test_fan_out_again_with_what_each_diffuser_holds_emits_nothing() -> None:
    hotel = offer()
    held = {
        e.diffuser_id: v for e in fan_out(hotel, {}, registry(), NOW) if (v := last_received(e))
    }
    assert fan_out(hotel, held, registry(), NOW) == ()


def test_fan_out_removes_the_offer_only_from_the_feeds_that_held_it() -> None:
    hotel = offer()
    held = {"site-cdt-calvados": view(hotel, "site-cdt-calvados")}
    entries = fan_out(offer(version=2, status=OfferStatus.WITHDRAWN), held, registry(), NOW)
    assert [(e.diffuser_id, e.kind) for e in entries] == [
        ("site-cdt-calvados", DiffusionKind.REMOVAL)
    ]


# ---------------------------------------------------------------- time-driven boundaries


def test_the_next_boundary_of_a_media_is_its_first_day_then_the_day_after_its_last() -> None:
    hotel = offer(public=public_fields(media=(SUMMER_PHOTO,)))
    assert next_boundary(hotel, registry(), NOW) == midnight(date(2026, 4, 1))
    assert next_boundary(hotel, registry(), midnight(date(2026, 4, 1))) == midnight(
        date(2026, 10, 1)
    )


def test_the_next_boundary_of_an_event_is_the_day_after_its_last_date_then_none() -> None:
    event = festival(media=(PHOTO,))
    assert next_boundary(event, registry(), NOW) == midnight(date(2026, 6, 15))
    assert next_boundary(event, registry(), midnight(date(2026, 6, 15))) is None


def test_nothing_after_the_end_of_an_event_is_a_boundary() -> None:
    # The media's rights end on 2026-09-30, but the event left every feed on 2026-06-15.
    event = festival(media=(SUMMER_PHOTO,))
    assert next_boundary(event, registry(), midnight(date(2026, 4, 1))) == midnight(
        date(2026, 6, 15)
    )
    assert next_boundary(event, registry(), midnight(date(2026, 6, 15))) is None


def test_the_expiry_of_a_diffusion_convention_is_a_boundary() -> None:
    hotel = offer(public=public_fields(media=(PHOTO,)))
    after = datetime(2021, 6, 1, tzinfo=UTC)
    assert next_boundary(hotel, registry(), after) == midnight(date(2022, 1, 1))


def test_the_start_of_a_diffusion_convention_is_a_boundary() -> None:
    event = offer(OfferType.FMA, public_fields(media=(PHOTO,), event_dates=JUNE_FESTIVAL))
    after = datetime(2021, 6, 1, tzinfo=UTC)
    assert next_boundary(event, registry(), after) == midnight(date(2021, 9, 1))


def test_the_start_and_end_of_a_concession_are_boundaries() -> None:
    heritage = manche_heritage(media=(PHOTO,))
    after = datetime(2020, 3, 1, tzinfo=UTC)
    assert next_boundary(heritage, registry(), after) == midnight(date(2020, 6, 1))
    reg = with_concession_ending("concession-opendata-manche-patrimoine", date(2026, 6, 30))
    assert next_boundary(heritage, reg, NOW) == midnight(date(2026, 7, 1))
    assert next_boundary(heritage, registry(), NOW) is None


def test_a_boundary_is_strictly_after_the_given_time() -> None:
    hotel = offer(public=public_fields(media=(SUMMER_PHOTO,)))
    first = next_boundary(hotel, registry(), NOW)
    assert first is not None
    assert next_boundary(hotel, registry(), first) == midnight(date(2026, 10, 1))
    assert next_boundary(hotel, registry(), first - timedelta(microseconds=1)) == first


@pytest.mark.parametrize(
    "change",
    [
        offer(public=public_fields(media=(SUMMER_PHOTO,)), status=OfferStatus.WITHDRAWN),
        offer(public=public_fields(media=(SUMMER_PHOTO,)), status=OfferStatus.DELETED),
        offer(public=public_fields(media=(SUMMER_PHOTO,), diffusion=DiffusionStatus.UNPUBLISHED)),
    ],
    ids=["withdrawn", "deleted", "unpublished"],
)
def test_an_offer_out_of_every_scope_for_good_has_no_boundary(change: RegionalChange) -> None:
    assert next_boundary(change, registry(), NOW) is None


def _ticks(change: RegionalChange, start: datetime) -> list[datetime]:
    ticks: list[datetime] = []
    moment = next_boundary(change, registry(), start)
    while moment is not None:
        assert moment > (ticks[-1] if ticks else start)
        assert len(ticks) < 20, ticks
        ticks.append(moment)
        moment = next_boundary(change, registry(), moment)
    return ticks


def _summer_festival() -> RegionalChange:
    dates = (
        EventDate(date(2026, 6, 10), date(2026, 6, 14)),
        EventDate(date(2026, 8, 1), date(2026, 8, 2)),
    )
    spring = replace(SUMMER_PHOTO, rights_start=date(2026, 4, 15), rights_end=None)
    winter = replace(PHOTO, rights_end=date(2026, 5, 31))
    return offer(OfferType.FMA, public_fields(event_dates=dates, media=(spring, winter)))


def test_ticks_at_the_boundaries_give_the_feed_a_daily_check_would_give() -> None:
    event = _summer_festival()
    ticks = _ticks(event, NOW)
    assert ticks == [
        midnight(date(2026, 4, 15)),
        midnight(date(2026, 6, 1)),
        midnight(date(2026, 8, 3)),
    ]

    def feed(instants: list[datetime]) -> list[DiffusionChange]:
        held: dict[str, View] = {}
        out: list[DiffusionChange] = []
        for at in instants:
            for entry in fan_out(event, held, registry(), at):
                received = last_received(entry)
                if received is None:
                    held.pop(entry.diffuser_id, None)
                else:
                    held[entry.diffuser_id] = received
                out.append(entry)
        return out

    every_day = [NOW] + [midnight(date(2026, 3, 2) + timedelta(days=n)) for n in range(200)]
    assert feed([NOW, *ticks]) == feed(every_day)
    last = feed([NOW, *ticks])[-1]
    assert (last.kind, last.reason) == (DiffusionKind.REMOVAL, DiffusionReason.EVENT_ENDED)


@settings(deadline=None, max_examples=100)
@given(offset=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)))
def test_no_projection_changes_between_two_boundaries(offset: timedelta) -> None:
    event = _summer_festival()
    at = NOW + offset
    boundaries = [NOW, *_ticks(event, NOW)]
    since = max(b for b in boundaries if b <= at)

    def outcome(when: datetime, d: Diffuser) -> View | DiffusionReason:
        projected = project(event, d, registry(), when)
        return projected.reason if isinstance(projected, Excluded) else projected

    for diffuser_id in sorted(registry().diffusers):
        assert outcome(at, diffuser(diffuser_id)) == outcome(since, diffuser(diffuser_id))


# ---------------------------------------------------------------- properties


@settings(deadline=None, max_examples=300)
@given(
    diffuser_id=st.sampled_from(sorted(load_normandy_registry().diffusers)),
    offer_type=st.sampled_from(OfferType),
    place=st.sampled_from((DEAUVILLE, EVREUX, MONT_SAINT_MICHEL)),
    contributor=st.sampled_from(sorted(load_normandy_registry().organisations)),
    languages=st.lists(st.sampled_from(LANGUAGES), min_size=1, unique=True),
    day=st.dates(min_value=date(2013, 1, 1), max_value=date(2032, 12, 31)),
    claims_private=st.booleans(),
)
def test_no_view_ever_holds_the_private_group_or_a_language_outside_the_convention(
    diffuser_id: str,
    offer_type: OfferType,
    place: Location,
    contributor: str,
    languages: list[str],
    day: date,
    claims_private: bool,
) -> None:
    reg = _everything_claims_private(registry()) if claims_private else registry()
    texts = tuple(LocalizedText(lang, f"Texte ({lang})") for lang in languages)
    fields = public_fields(
        place,
        names=texts,
        descriptions=texts,
        event_dates=(EventDate(date(2033, 1, 1), date(2033, 1, 2)),),
        private=SECRET,  # on purpose: private data where it must never be
    )
    change = offer(offer_type, fields, contributor=contributor)
    at = midnight(day) + timedelta(hours=12)
    projected = project(change, diffuser(diffuser_id), reg, at)
    if isinstance(projected, Excluded):
        return
    allowed = {lang for c in reg.diffusion_conventions_of(diffuser_id, at) for lang in c.languages}
    assert projected.fields.private is None
    assert FieldGroup.PRIVATE not in projected.fields.groups()
    assert CANARY not in repr(projected)
    assert set(languages_of(projected.fields.names)) <= allowed
    assert set(languages_of(projected.fields.descriptions)) <= allowed


@settings(max_examples=60, deadline=None)
@given(
    fields=offer_fields,
    offer_type=st.sampled_from(OfferType),
    contributors=st.lists(st.sampled_from(["cdt-calvados", "ot-deauville", "crt-normandie"])),
    listed=st.booleans(),
    # Hypothesis takes naive bounds; `timezones` makes every value aware.
    after=st.datetimes(
        datetime(2020, 1, 1),  # noqa: DTZ001
        datetime(2030, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
)
def test_the_planner_finds_the_boundaries_next_boundary_finds(
    fields: OfferFields,
    offer_type: OfferType,
    contributors: list[str],
    listed: bool,
    after: datetime,
) -> None:
    change = replace(
        examples.regional_change(),
        offer_type=offer_type,
        public=fields.public(),
        provenance=tuple(
            replace(examples.regional_change().provenance[0], contributor=c) for c in contributors
        ),
    )
    shipped = registry()
    # A concession naming this very offer, in force from a day of its own.
    naming = replace(
        shipped.concessions[0],
        concession_id="c-named",
        offers=(change.offer_id,),
        validity=Validity(date(2027, 3, 9), None),
    )
    chosen = replace(shipped, concessions=(*shipped.concessions, naming)) if listed else shipped
    planner = BoundaryPlanner(chosen)
    other = replace(change, offer_id=f"{change.offer_id}-twin")  # same key, another offer

    for facts in (boundary_facts(change), boundary_facts(other), boundary_facts(change)):
        assert planner.next_boundary(facts, after) == next_boundary(facts, chosen, after)


# ---------------------------------------------------------------- shared projections


def _literal_view(change: RegionalChange, diffuser_id: str, at: datetime) -> OfferFields:
    """The view as the module docstring defines it, computed for one diffuser alone."""
    department = change.public.location.address.commune_insee[:2]  # type: ignore[union-attr]
    covering = [
        c
        for c in registry().diffusion_conventions_of(diffuser_id, at)
        if (not c.offer_types or change.offer_type in c.offer_types)
        and (not c.departments or department in c.departments)
    ]
    groups = tuple(
        g
        for g in FieldGroup
        if g is not FieldGroup.PRIVATE and any(g in c.field_groups for c in covering)
    )
    languages = {lang for c in covering for lang in c.languages}
    fields = change.public.only(groups)

    def texts(value: tuple[LocalizedText, ...] | None) -> tuple[LocalizedText, ...] | None:
        return None if value is None else tuple(t for t in value if t.lang in languages)

    klass = diffuser(diffuser_id).diffuser_class
    media = None
    if fields.media is not None:
        media = tuple(
            m
            for m in fields.media
            if klass in m.allowed_classes and Validity(m.rights_start, m.rights_end).covers(at)
        )
    return replace(
        fields, names=texts(fields.names), descriptions=texts(fields.descriptions), media=media
    )


@settings(max_examples=60, deadline=None)
@given(
    public=offer_fields,
    media=st.lists(
        st.sampled_from((PHOTO, EXPIRED_PHOTO, SUMMER_PHOTO, INSTITUTIONAL_PHOTO)), max_size=4
    ),
    day=st.integers(min_value=0, max_value=365),
)
def test_every_view_fan_out_shares_is_the_one_each_diffuser_would_get_alone(
    public: OfferFields, media: list[Media], day: int
) -> None:
    fields = replace(
        public,
        location=DEAUVILLE,
        diffusion=DiffusionStatus.PUBLISHED,
        media=tuple(media) if public.media is not None else None,
        private=None,
    )
    at = NOW + timedelta(days=day)
    entries = fan_out(offer(public=fields), {}, registry(), at)
    assert entries, "the Deauville hotel reaches the region's and Calvados' sites"
    for entry in entries:
        assert entry.view == _literal_view(offer(public=fields), entry.diffuser_id, at)
    # Equal views are one object: the feeds encode each of them once.
    by_content: dict[str, set[int]] = {}
    for entry in entries:
        by_content.setdefault(repr(entry.view), set()).add(id(entry.view))
    assert all(len(ids) == 1 for ids in by_content.values())
