"""Registry events: the fold gives the registry back, changes are exact, the wire keeps them."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub import codec
from hub.core.offer import LANGUAGES, DiffuserClass, FieldGroup, OfferType
from hub.core.registry import (
    DIFFUSION_FORMATS,
    Concession,
    ConsortiumConvention,
    ContributionConvention,
    CrtException,
    Diffuser,
    DiffusionConvention,
    Organisation,
    OrgKind,
    Registry,
    Validity,
)
from hub.core.registry_events import (
    EntryKind,
    RegistryEntry,
    RegistryEventError,
    RegistryRemoved,
    RegistryValue,
    decode_entry,
    entry_for,
    evolve_registry,
    fold_registry,
    registry_changes,
    registry_of,
    registry_to_events,
)
from hub.core.territory import NORMANDY_DEPARTMENTS
from hub.registry.format import load_normandy_registry
from hub.registry.wire import (
    decode_registry_event,
    encode_registry_event,
    record_key,
    registry_event_to_record,
)

# ---------------------------------------------------------------- strategies

# A small pool of ids, so that two drawn registries share entries (changed, unchanged, removed).
ids = st.sampled_from(["a1", "b2", "c3", "d4", "e5", "f6", "g7", "h8"])
texts = st.text(alphabet="abcdéÉ '[]-", min_size=1, max_size=12).filter(lambda s: s.strip() != "")
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31))
communes = st.builds("{}{:03d}".format, st.sampled_from(NORMANDY_DEPARTMENTS), st.integers(0, 999))
offer_ids = st.builds("HOTNOR{:010d}".format, st.integers(0, 10**10 - 1))


def unique(
    strategy: st.SearchStrategy[str], min_size: int = 0, max_size: int | None = None
) -> st.SearchStrategy[tuple[str, ...]]:
    return st.lists(strategy, unique=True, min_size=min_size, max_size=max_size).map(tuple)


def members(values: list[str], min_size: int = 0) -> st.SearchStrategy[tuple[str, ...]]:
    """A subset of `values` in any order (two draws: cheaper than a list of unique picks)."""
    return st.tuples(st.permutations(values), st.integers(min_size, len(values))).map(
        lambda drawn: tuple(drawn[0][: drawn[1]])
    )


@st.composite
def validities(draw: st.DrawFn) -> Validity:
    start = draw(st.none() | days)
    end = draw(st.none() | days)
    if start is not None and end is not None and end < start:
        start, end = end, start
    return Validity(start, end)


@st.composite
def organisations(draw: st.DrawFn, org_id: str) -> Organisation:
    kind = draw(st.sampled_from(list(OrgKind)))
    department = draw(st.sampled_from(NORMANDY_DEPARTMENTS))
    if kind is OrgKind.CRT:
        return Organisation(org_id, kind, draw(texts))
    if kind is OrgKind.CDT:
        return Organisation(org_id, kind, draw(texts), department)
    codes = draw(unique(st.builds("{:03d}".format, st.integers(0, 999)), min_size=1, max_size=4))
    return Organisation(org_id, kind, draw(texts), department, tuple(department + c for c in codes))


TYPES = [t.value for t in OfferType]
GROUPS = [g.value for g in FieldGroup]
PUBLIC = [g.value for g in FieldGroup if g is not FieldGroup.PRIVATE]
CLASSES = [c.value for c in DiffuserClass]


@st.composite
def values(draw: st.DrawFn, kind: EntryKind, entry_id: str) -> RegistryValue:
    if kind is EntryKind.ORGANISATION:
        return draw(organisations(entry_id))
    if kind is EntryKind.DIFFUSER:
        diffuser_class = draw(st.sampled_from(list(DiffuserClass)))
        needs_org = diffuser_class is DiffuserClass.INSTITUTIONAL
        org = draw(ids) if needs_org else draw(st.none() | ids)
        return Diffuser(entry_id, draw(texts), diffuser_class, org)
    if kind is EntryKind.CONSORTIUM:
        exception_ids = draw(unique(ids, max_size=3))
        exceptions = tuple(
            CrtException(
                e,
                tuple(map(OfferType, draw(members(TYPES)))),
                tuple(map(FieldGroup, draw(members(GROUPS)))),
                draw(validities()),
                draw(st.text(max_size=10)),
            )
            for e in exception_ids
        )
        return ConsortiumConvention(entry_id, draw(validities()), exceptions)
    if kind is EntryKind.CONTRIBUTION_CONVENTION:
        return ContributionConvention(
            entry_id,
            draw(ids),
            tuple(map(OfferType, draw(members(TYPES, 1)))),
            tuple(map(FieldGroup, draw(members(GROUPS, 1)))),
            draw(unique(communes, min_size=1, max_size=3)),
            draw(members(list(NORMANDY_DEPARTMENTS))),
            draw(validities()),
        )
    if kind is EntryKind.CONCESSION:
        return Concession(
            entry_id,
            draw(texts),
            draw(ids),
            draw(unique(offer_ids, max_size=3)),
            tuple(map(DiffuserClass, draw(members(CLASSES, 1)))),
            draw(validities()),
            tuple(map(OfferType, draw(members(TYPES)))),
        )
    return DiffusionConvention(
        entry_id,
        draw(ids),
        draw(texts),
        tuple(map(OfferType, draw(members(TYPES)))),
        draw(members(list(NORMANDY_DEPARTMENTS))),
        tuple(map(FieldGroup, draw(members(PUBLIC, 1)))),
        draw(members(list(LANGUAGES), 1)),
        draw(members(list(DIFFUSION_FORMATS), 1)),
        draw(validities()),
    )


@st.composite
def registries(draw: st.DrawFn) -> Registry:
    drawn: list[RegistryValue] = []
    for kind in EntryKind:
        count = 1 if kind is EntryKind.CONSORTIUM else 4
        for entry_id in draw(unique(ids, max_size=count)):
            drawn.append(draw(values(kind, entry_id)))
    return registry_of(drawn)


# ---------------------------------------------------------------- the fold


@settings(deadline=None, max_examples=60)
@given(registries())
def test_folding_a_registrys_events_from_empty_gives_it_back(registry: Registry) -> None:
    assert fold_registry(registry_to_events(registry)) == registry


@st.composite
def successors(draw: st.DrawFn, current: Registry) -> Registry:
    """A registry keeping some of `current`'s entries, dropping others, adding or changing some."""
    kept = [v for v in registry_to_events(current) if draw(st.booleans())]
    other = registry_to_events(draw(registries()))
    taken = {event.key for event in kept}
    merged = [*kept, *(event for event in other if event.key not in taken)]
    return fold_registry(merged)


@settings(deadline=None, max_examples=60)
@given(st.data())
def test_the_changes_between_two_registries_turn_one_into_the_other(data: st.DataObject) -> None:
    current = data.draw(registries())
    new = data.draw(successors(current))
    changes = registry_changes(current, new)
    assert fold_registry(changes.events, start=current) == new
    assert len(changes.added) + len(changes.changed) + len(changes.unchanged) == len(
        registry_to_events(new)
    )


@settings(deadline=None, max_examples=30)
@given(registries())
def test_every_event_survives_the_wire(registry: Registry) -> None:
    for event in registry_to_events(registry):
        assert decode_registry_event(encode_registry_event(event)) == event


def test_the_shipped_registry_round_trips_through_its_events() -> None:
    registry = load_normandy_registry()
    events = registry_to_events(registry)
    assert fold_registry(events) == registry
    assert len({event.key for event in events}) == len(events)


def test_events_are_published_referents_first_in_a_fixed_order() -> None:
    events = registry_to_events(load_normandy_registry())
    kinds = [event.kind for event in events]
    assert kinds == sorted(kinds, key=list(EntryKind).index)
    assert kinds[0] is EntryKind.ORGANISATION
    for kind in EntryKind:
        of_kind = [event.entry_id for event in events if event.kind is kind]
        assert of_kind == sorted(of_kind)


def test_applying_the_same_registry_again_changes_nothing() -> None:
    registry = load_normandy_registry()
    changes = registry_changes(registry, registry)
    assert changes.events == ()
    assert changes.added == changes.changed == changes.removed == ()


def test_a_convention_that_disappears_is_removed_and_only_it() -> None:
    registry = load_normandy_registry()
    gone = registry.contribution_conventions[0]
    smaller = replace(
        registry,
        contribution_conventions=registry.contribution_conventions[1:],
    )
    changes = registry_changes(registry, smaller)
    assert changes.events == (
        RegistryRemoved(EntryKind.CONTRIBUTION_CONVENTION, gone.convention_id),
    )
    assert changes.removed == (f"contribution_convention:{gone.convention_id}",)
    assert evolve_registry(registry, changes.events[0]) == smaller


def test_a_changed_entry_is_published_again_whole() -> None:
    registry = load_normandy_registry()
    renamed = replace(registry.organisations["ot-bayeux"], name="Bayeux Intercom Tourisme")
    new = replace(registry, organisations={**registry.organisations, "ot-bayeux": renamed})
    changes = registry_changes(registry, new)
    assert changes.changed == ("organisation:ot-bayeux",)
    assert changes.events == (entry_for(renamed),)


def test_removals_come_after_upserts_and_referrers_before_referents() -> None:
    registry = load_normandy_registry()
    changes = registry_changes(registry, Registry(organisations={}))
    kinds = [event.kind for event in changes.events]
    assert all(isinstance(event, RegistryRemoved) for event in changes.events)
    assert kinds == sorted(kinds, key=list(EntryKind).index, reverse=True)
    assert fold_registry(changes.events, start=registry) == Registry()


def test_removing_an_entry_that_is_not_there_changes_nothing() -> None:
    registry = load_normandy_registry()
    assert evolve_registry(registry, RegistryRemoved(EntryKind.DIFFUSER, "nobody")) == registry
    other_consortium = RegistryRemoved(EntryKind.CONSORTIUM, "another-consortium")
    assert evolve_registry(registry, other_consortium) == registry


def test_removing_the_consortium_convention_leaves_the_crt_no_exception() -> None:
    registry = load_normandy_registry()
    assert registry.consortium is not None
    removal = RegistryRemoved(EntryKind.CONSORTIUM, registry.consortium.convention_id)
    assert evolve_registry(registry, removal).consortium is None


def test_a_malformed_entry_is_refused_by_the_fold_with_its_key() -> None:
    bad = RegistryEntry(EntryKind.DIFFUSER, "site-x", {"name": "x", "class": "everyone"})
    with pytest.raises(RegistryEventError, match=r"diffuser:site-x.*unknown diffuser class"):
        evolve_registry(Registry(), bad)


def test_decoding_an_entry_lists_all_its_problems() -> None:
    found = decode_entry(
        EntryKind.DIFFUSION_CONVENTION,
        "dc-x",
        {"diffuser": "d", "purpose": "p", "field_groups": ["private"], "languages": ["pt"]},
    )
    assert isinstance(found, tuple)
    assert len(found) == 2


# ---------------------------------------------------------------- the wire


def test_a_removal_travels_as_a_null_body_keyed_by_kind_and_id() -> None:
    removal = RegistryRemoved(EntryKind.CONCESSION, "concession-x")
    record = registry_event_to_record(removal)
    assert record["body"] == "null"
    assert record_key(removal) == b"concession:concession-x"
    assert decode_registry_event(encode_registry_event(removal)) == removal


def test_the_wire_window_ends_at_midnight_after_the_last_day() -> None:
    registry = load_normandy_registry()
    (expired,) = (
        c for c in registry.contribution_conventions if c.convention_id == "cc-ot-bayeux-2016"
    )
    record = registry_event_to_record(entry_for(expired))
    assert record["valid_from"].isoformat() == "2016-01-01T00:00:00+00:00"
    assert record["valid_until"].isoformat() == "2020-01-01T00:00:00+00:00"


def test_a_record_whose_body_is_not_an_entry_does_not_decode() -> None:
    record = registry_event_to_record(RegistryRemoved(EntryKind.DIFFUSER, "site-x"))
    record["body"] = '{"name": "x", "class": "everyone"}'
    with pytest.raises(codec.DecodeError) as caught:
        decode_registry_event(codec.encode("RegistryEvent", record))
    assert caught.value.reason is codec.DecodeReason.INVALID_VALUE
    assert "diffuser:site-x" in str(caught.value)


def test_a_record_of_an_unknown_kind_does_not_decode() -> None:
    record = registry_event_to_record(RegistryRemoved(EntryKind.DIFFUSER, "site-x"))
    record["kind"] = "brochure"
    with pytest.raises(codec.DecodeError, match="unknown kind 'brochure'"):
        decode_registry_event(codec.encode("RegistryEvent", record))


def test_bytes_that_are_not_a_registry_event_do_not_decode() -> None:
    with pytest.raises(codec.DecodeError):
        decode_registry_event(b'{"kind": "organisation"}')
