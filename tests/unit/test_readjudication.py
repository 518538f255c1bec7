"""Re-judging history with another registry (`hub.core.readjudication`), without Kafka.

A "worker run" (`tests.support.readjudication_cases.WorkerRun`) is the real `CollectionProcessor`
over Avro-encoded contributions with the registry of the time; its regional changes, decoded, are
the current state. Then the registry is changed and `readjudicate` says what to correct.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from hub.collection_processor import CollectionProcessor
from hub.core.contribution import (
    Contribution,
    OfferCreated,
    OfferWithdrawn,
)
from hub.core.offer import (
    Accessibility,
    FieldGroup,
    OfferFields,
    OfferType,
)
from hub.core.readjudication import (
    EVENT_PREFIX,
    READJUDICATION,
    ContributionRecord,
    CorrectionKind,
    GroupChangeKind,
    judged_prefix,
    merge_order,
    readjudicate,
)
from hub.core.regional import OfferStatus
from hub.reference import load_normandy_territory
from tests.support.hub_pipeline import (
    demo_contributions,
    regional_changes,
)
from tests.support.readjudication_cases import (
    ALL_GROUPS,
    BASE,
    CDT,
    EVERYTHING,
    LATER,
    NO_CONTACTS,
    NOW,
    OFFER,
    OT,
    OT_CONTACTS,
    OT_PRICES,
    PRICES,
    Stream,
    WorkerRun,
    applied,
    changed,
    created,
    normandy,
    offer_fields,
    only,
    registry,
    through_the_wire,
)

# ---------------------------------------------------------------- no registry change


def test_the_same_registry_gives_no_correction_for_the_demo_stream() -> None:
    run = WorkerRun(demo_contributions(), normandy())
    assert run.current, "the demo stream leaves offers in the base"
    assert run.readjudicate(normandy()) == ()


def test_the_same_registry_gives_no_correction_after_refusals_and_partial_acceptances() -> None:
    stream = Stream()
    created(stream)
    changed(stream, OT, prices=OT_PRICES)  # refused: no convention covers prices
    changed(stream, OT, contacts=OT_CONTACTS, prices=OT_PRICES)  # contacts accepted, prices not
    run = WorkerRun(stream.contributions, registry(BASE))
    result = readjudicate(
        run.records, run.current, registry(BASE), load_normandy_territory(), LATER
    )
    assert result.corrections == ()
    assert (result.accepted, result.partially_rejected, result.rejected) == (1, 1, 1)


# ---------------------------------------------------------------- each kind of correction


def test_a_change_refused_for_lack_of_a_convention_is_accepted_once_one_covers_it() -> None:
    stream = Stream()
    created(stream)
    price_change = changed(stream, OT, prices=OT_PRICES)
    run = WorkerRun(stream.contributions, registry(BASE))
    assert run.current[OFFER].version == 1, "the worker refused the price change"

    correction = only(run.readjudicate(registry(BASE, PRICES)))

    assert correction.kind is CorrectionKind.GROUPS
    change = correction.change
    assert (change.version, change.status) == (2, OfferStatus.ACTIVE)
    assert change.public.prices == OT_PRICES
    assert change.changed_groups == (FieldGroup.PRICES,)
    (group,) = correction.groups
    assert group.kind is GroupChangeKind.REPLACED
    assert group.after is not None
    assert (group.after.contributor, group.after.event_id, group.after.authority) == (
        OT,
        price_change.event_id,
        "convention:cc-ot-test-prices",
    )
    assert {v.contributor: v.version for v in change.contributor_versions} == {CDT: 1, OT: 1}


def test_an_offer_whose_creation_was_refused_enters_the_base_once_a_convention_covers_it() -> None:
    stream = Stream()
    created(stream, by=OT)
    changed(stream, OT, accessibility=Accessibility(wheelchair_access=True))
    run = WorkerRun(stream.contributions, registry(BASE))
    assert OFFER not in run.current, "the worker refused the creation and then the unknown offer"

    correction = only(run.readjudicate(registry(EVERYTHING)))

    assert correction.kind is CorrectionKind.ACCEPTED
    assert correction.previous is None
    change = correction.change
    assert (change.version, change.status, change.offer_type) == (
        1,
        OfferStatus.ACTIVE,
        OfferType.RES,
    )
    assert change.public.accessibility == Accessibility(wheelchair_access=True)
    assert {p.authority for p in change.provenance} == {"convention:cc-ot-test-everything"}
    assert {g.kind for g in correction.groups} == {GroupChangeKind.GAINED}


def test_a_group_accepted_under_a_convention_since_narrowed_goes_back_to_the_earlier_value() -> (
    None
):
    stream = Stream()
    creation = created(stream)
    contacts = changed(stream, OT, contacts=OT_CONTACTS)
    run = WorkerRun(stream.contributions, registry(BASE))
    assert run.current[OFFER].public.contacts == OT_CONTACTS

    correction = only(run.readjudicate(registry(NO_CONTACTS)))

    assert correction.kind is CorrectionKind.GROUPS
    assert correction.change.version == 3
    assert correction.change.public.contacts == offer_fields().contacts
    (group,) = correction.groups
    assert group.group is FieldGroup.CONTACTS
    assert group.kind is GroupChangeKind.REPLACED
    assert group.before is not None
    assert group.before.event_id == contacts.event_id
    assert group.after is not None
    assert group.after.event_id == creation.event_id
    assert group.after.authority == f"principle:{CDT}"
    assert group.refusal is not None
    assert group.refusal.rule_ids == ("convention",)
    assert "contacts" in group.refusal.message
    assert [(v.contributor, v.version) for v in correction.change.contributor_versions] == [
        (CDT, 1)
    ]


def test_a_group_only_the_refused_contributor_had_set_is_withdrawn() -> None:
    stream = Stream()
    creation = replace(offer_fields(), accessibility=None)
    stream.add(CDT, OfferCreated(OfferType.RES, creation))
    changed(stream, OT, accessibility=Accessibility(wheelchair_access=False))
    run = WorkerRun(stream.contributions, registry(BASE))
    assert run.current[OFFER].public.accessibility is not None

    narrowed = replace(BASE, field_groups=(FieldGroup.NAMES, FieldGroup.CONTACTS))
    correction = only(run.readjudicate(registry(narrowed)))

    assert correction.change.public.accessibility is None
    assert FieldGroup.ACCESSIBILITY not in {p.group for p in correction.change.provenance}
    (group,) = correction.groups
    assert (group.group, group.kind, group.after) == (
        FieldGroup.ACCESSIBILITY,
        GroupChangeKind.LOST,
        None,
    )
    assert group.refusal is not None
    assert group.refusal.rule_ids == ("convention",)


def test_an_offer_none_of_whose_contributions_stands_any_more_is_withdrawn_from_the_base() -> None:
    stream = Stream()
    created(stream, by=OT)
    run = WorkerRun(stream.contributions, registry(EVERYTHING))
    assert run.current[OFFER].status is OfferStatus.ACTIVE

    correction = only(run.readjudicate(registry(BASE)))

    assert correction.kind is CorrectionKind.WITHDRAWN
    change = correction.change
    assert (change.version, change.status) == (2, OfferStatus.DELETED)
    assert change.public == OfferFields()
    assert (change.private, change.provenance, change.contributor_versions) == (None, (), ())
    assert {g.kind for g in correction.groups} == {GroupChangeKind.LOST}
    assert all(
        g.refusal is not None and g.refusal.rule_ids == ("convention",) for g in correction.groups
    )


def test_a_withdrawal_refused_before_and_allowed_now_changes_the_status() -> None:
    stream = Stream()
    created(stream)
    stream.add(OT, OfferWithdrawn("Fermeture définitive"))
    run = WorkerRun(stream.contributions, registry(BASE))
    assert run.current[OFFER].status is OfferStatus.ACTIVE

    with_diffusion = replace(BASE, field_groups=(*BASE.field_groups, FieldGroup.DIFFUSION))
    correction = only(run.readjudicate(registry(with_diffusion)))

    assert correction.kind is CorrectionKind.STATUS
    assert (correction.previous and correction.previous.status, correction.change.status) == (
        OfferStatus.ACTIVE,
        OfferStatus.WITHDRAWN,
    )


def test_a_convention_replaced_by_another_covering_the_same_groups_moves_the_authority_only() -> (
    None
):
    stream = Stream()
    created(stream)
    changed(stream, OT, contacts=OT_CONTACTS)
    run = WorkerRun(stream.contributions, registry(BASE))

    renewed = replace(BASE, convention_id=f"cc-{OT}-2026")
    correction = only(run.readjudicate(registry(renewed)))

    (group,) = correction.groups
    assert group.kind is GroupChangeKind.REAUTHORISED
    assert group.before is not None
    assert group.before.authority == "convention:cc-ot-test-base"
    assert group.after is not None
    assert group.after.authority == "convention:cc-ot-test-2026"
    assert correction.change.public == run.current[OFFER].public


# ---------------------------------------------------------------- what every correction is


def test_a_correction_is_the_offers_next_version_named_after_the_readjudication() -> None:
    stream = Stream()
    created(stream)
    changed(stream, OT, contacts=OT_CONTACTS)
    run = WorkerRun(stream.contributions, registry(BASE))
    previous = run.current[OFFER]

    change = only(run.readjudicate(registry(NO_CONTACTS))).change

    assert change.version == previous.version + 1
    assert (change.contributor, change.source_version) == (READJUDICATION, 0)
    assert change.event_id.startswith(f"{EVENT_PREFIX}{OFFER}:3:")
    assert change.occurred_at == LATER
    assert through_the_wire(change) == change, "it travels as any regional change"


def test_a_correction_never_goes_back_in_time_before_the_offers_latest_change() -> None:
    stream = Stream()
    created(stream)
    changed(stream, OT, contacts=OT_CONTACTS)
    run = WorkerRun(stream.contributions, registry(BASE))
    early = NOW - timedelta(days=365)
    result = readjudicate(
        run.records, run.current, registry(NO_CONTACTS), load_normandy_territory(), early
    )
    assert only(result.corrections).change.occurred_at == run.current[OFFER].occurred_at


def test_the_same_inputs_give_the_same_correction_with_the_same_event_id() -> None:
    stream = Stream()
    created(stream)
    changed(stream, OT, prices=OT_PRICES)
    run = WorkerRun(stream.contributions, registry(BASE))
    assert run.readjudicate(registry(BASE, PRICES)) == run.readjudicate(registry(BASE, PRICES))


def test_once_its_corrections_are_in_the_history_running_it_again_corrects_nothing() -> None:
    stream = Stream()
    created(stream)
    changed(stream, OT, prices=OT_PRICES)
    changed(stream, OT, contacts=OT_CONTACTS)
    created(stream, by=OT, offer_id="RESNOR014V900002")
    run = WorkerRun(stream.contributions, registry(BASE))
    new = registry(NO_CONTACTS, PRICES)
    corrections = run.readjudicate(new)
    assert len(corrections) == 1
    assert run.readjudicate(new, applied(run.current, corrections)) == ()


def test_offers_without_any_contribution_read_are_left_alone() -> None:
    stream = Stream()
    created(stream)
    changed(stream, OT, contacts=OT_CONTACTS)
    run = WorkerRun(stream.contributions, registry(BASE))
    elsewhere = replace(run.current[OFFER], offer_id="HOTNOR014V999999")
    current = {**run.current, elsewhere.offer_id: elsewhere}
    corrected = run.readjudicate(registry(NO_CONTACTS), current)
    assert [c.change.offer_id for c in corrected] == [OFFER]


def test_a_worker_restored_from_the_corrections_finds_nothing_left_to_accept_in_the_demo() -> None:
    # Every office may now enter every group of its types, and Deauville no longer its prices.
    shipped = normandy()
    widened = tuple(
        replace(c, field_groups=ALL_GROUPS)
        if c.contributor != "ot-deauville"
        else replace(c, field_groups=tuple(g for g in c.field_groups if g is not FieldGroup.PRICES))
        for c in shipped.contribution_conventions
    )
    new = replace(shipped, contribution_conventions=widened)
    run = WorkerRun(demo_contributions(), shipped)

    corrections = run.readjudicate(new)

    assert {c.kind for c in corrections} >= {CorrectionKind.GROUPS}
    restored = CollectionProcessor(new, load_normandy_territory())
    restored.restore(
        [*regional_changes(run.log), *(through_the_wire(c.change) for c in corrections)]
    )
    for record in run.inbound:
        restored.process(record)
    assert restored.tally.accepted + restored.tally.partially_rejected == 0
    assert run.readjudicate(new, applied(run.current, corrections)) == ()


# ---------------------------------------------------------------- the merge order and the prefix


def record(
    topic: str, partition: int, offset: int, ms: int, contribution: Contribution
) -> ContributionRecord:
    return ContributionRecord(
        topic, partition, offset, ms, topic.removeprefix("sitn.contrib."), contribution
    )


def test_contributions_are_judged_again_in_the_order_the_hub_gave_its_verdicts() -> None:
    # The office's change was published after the board's creation but reached the hub first and
    # waited for it past the deadline: it was refused (unknown offer). Judged in publication order
    # it would now be accepted.
    stream = Stream()
    creation = created(stream)
    change = changed(stream, OT, contacts=OT_CONTACTS)
    run = WorkerRun([change, creation], registry(BASE), deadline_after=0)
    assert run.current[OFFER].public.contacts == offer_fields().contacts
    published = [
        record(f"sitn.contrib.{CDT}", 0, 0, 1_000, creation),
        record(f"sitn.contrib.{OT}", 0, 0, 2_000, change),
    ]
    verdicts = {(OT, change.event_id): 3_000, (CDT, creation.event_id): 4_000}

    ordered = merge_order(published, verdicts)

    assert [r.contribution for r in ordered] == [change, creation]
    territory = load_normandy_territory()
    assert readjudicate(ordered, run.current, registry(BASE), territory, LATER).corrections == ()
    naive = readjudicate(published, run.current, registry(BASE), territory, LATER).corrections
    assert naive != (), "publication order would have corrected what the hub rightly did"


def test_a_record_without_a_verdict_follows_the_one_before_it_in_its_partition() -> None:
    stream = Stream()
    first = created(stream)
    duplicate = first  # re-sent: the hub found it already applied and said nothing
    other = created(stream, offer_id="RESNOR014V900002")
    topic = f"sitn.contrib.{CDT}"
    records = [
        record(topic, 0, 0, 1_000, first),
        record(topic, 0, 1, 1_500, duplicate),
        record(topic, 1, 0, 1_200, other),
    ]
    verdicts = {(CDT, first.event_id): 5_000, (CDT, other.event_id): 6_000}
    ordered = merge_order(records, verdicts)
    assert [(r.partition, r.offset) for r in ordered] == [(0, 0), (0, 1), (1, 0)]


def test_the_merge_order_is_total_and_independent_of_the_reading_order() -> None:
    run = WorkerRun(demo_contributions(), normandy())
    verdicts = {r.event_key: r.timestamp_ms for r in run.records[::3]}
    assert merge_order(run.records, verdicts) == merge_order(list(reversed(run.records)), verdicts)


def test_the_judged_prefix_is_the_committed_offset_or_the_last_record_an_output_names() -> None:
    stream = Stream()
    a, b, c = (
        created(stream),
        changed(stream, CDT, contacts=OT_CONTACTS),
        changed(stream, CDT, prices=OT_PRICES),
    )
    topic = f"sitn.contrib.{CDT}"
    records = [record(topic, 0, n, n, x) for n, x in enumerate((a, b, c))]
    assert judged_prefix(records, {(topic, 0): 1}, []) == {(topic, 0): 1}
    assert judged_prefix(records, {(topic, 0): 1}, [(CDT, b.event_id)]) == {(topic, 0): 2}
    assert judged_prefix(records, {}, []) == {}
    assert judged_prefix(records, {(topic, 0): 3}, [(CDT, a.event_id)]) == {(topic, 0): 3}
