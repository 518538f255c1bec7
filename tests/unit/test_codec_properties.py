"""Properties: any offer content the model can hold survives the wire and the JSON-lines format."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from typing import TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st

from hub import codec
from hub.core.contribution import FieldGroupsChanged, OfferCreated
from hub.core.diffusion_rules import boundary_facts
from hub.core.offer import (
    LANGUAGES,
    Accessibility,
    Address,
    Capacity,
    Classification,
    ClassificationScheme,
    Contact,
    ContactKind,
    DiffuserClass,
    DiffusionStatus,
    Disability,
    EventDate,
    ExternalId,
    GeoPoint,
    LocalizedText,
    Location,
    Media,
    OfferFields,
    OfferType,
    OpeningPeriod,
    PriceLine,
    Prices,
    PrivateBlock,
    TranslationSource,
    Weekday,
)
from hub.core.regional import RegionalChange
from hub.records import (
    contribution_from_json,
    contribution_to_json,
    from_avro_record,
    to_avro_record,
)
from hub.wire import decode_boundary_facts, encode_boundary_facts
from tests.support import examples

T = TypeVar("T")

texts = st.text(max_size=10)
dates = st.dates()
prices = st.decimals(
    min_value=Decimal("-9999999999.99"),
    max_value=Decimal("9999999999.99"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)
counts = st.integers(min_value=-(2**63), max_value=2**63 - 1)
degrees = st.floats(allow_nan=False, allow_infinity=False)


def maybe(strategy: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    return st.none() | strategy


def few(strategy: st.SearchStrategy[T]) -> st.SearchStrategy[tuple[T, ...]]:
    return st.lists(strategy, max_size=3).map(tuple)


def some_of(members: type[T]) -> st.SearchStrategy[tuple[T, ...]]:
    return few(st.sampled_from(members))  # type: ignore[arg-type]


localized = st.builds(
    LocalizedText,
    lang=st.sampled_from(LANGUAGES),
    text=texts,
    source=st.sampled_from(TranslationSource),
)
contacts = st.builds(Contact, kind=st.sampled_from(ContactKind), value=texts, label=maybe(texts))

offer_fields = st.builds(
    OfferFields,
    names=maybe(few(localized)),
    descriptions=maybe(few(localized)),
    location=maybe(
        st.builds(
            Location,
            address=st.builds(
                Address,
                commune_insee=texts,
                street=maybe(texts),
                postal_code=maybe(texts),
                commune_name=maybe(texts),
            ),
            geo=maybe(st.builds(GeoPoint, latitude=degrees, longitude=degrees)),
        )
    ),
    contacts=maybe(few(contacts)),
    opening=maybe(
        few(
            st.builds(
                OpeningPeriod, start=dates, end=dates, weekdays=some_of(Weekday), note=maybe(texts)
            )
        )
    ),
    event_dates=maybe(few(st.builds(EventDate, start=dates, end=dates))),
    prices=maybe(
        st.builds(
            Prices,
            free=st.booleans(),
            lines=few(
                st.builds(
                    PriceLine,
                    label=texts,
                    minimum=maybe(prices),
                    maximum=maybe(prices),
                    currency=st.sampled_from(["EUR", "GBP"]),
                )
            ),
        )
    ),
    classifications=maybe(
        few(
            st.builds(
                Classification,
                scheme=st.sampled_from(ClassificationScheme),
                value=texts,
                valid_until=maybe(dates),
            )
        )
    ),
    accessibility=maybe(
        st.builds(
            Accessibility,
            disabilities=some_of(Disability),
            wheelchair_access=maybe(st.booleans()),
            note=maybe(texts),
        )
    ),
    capacity=maybe(
        st.builds(Capacity, persons=maybe(counts), rooms=maybe(counts), pitches=maybe(counts))
    ),
    media=maybe(
        few(
            st.builds(
                Media,
                url=texts,
                credit=texts,
                licence=texts,
                title=maybe(texts),
                rights_start=maybe(dates),
                rights_end=maybe(dates),
                allowed_classes=some_of(DiffuserClass),
            )
        )
    ),
    diffusion=maybe(st.sampled_from(DiffusionStatus)),
    external_ids=maybe(few(st.builds(ExternalId, system=texts, value=texts))),
    private=maybe(
        st.builds(
            PrivateBlock,
            owner_contacts=few(contacts),
            contract_refs=few(texts),
            internal_notes=maybe(texts),
        )
    ),
)


@settings(max_examples=60, deadline=None)
@given(fields=offer_fields, offer_type=st.sampled_from(OfferType))
def test_any_offer_content_survives_encode_and_decode(
    fields: OfferFields, offer_type: OfferType
) -> None:
    contribution = examples.contribution(OfferCreated(offer_type, fields))
    assert codec.decode_contribution(codec.encode_contribution(contribution)) == contribution


@settings(max_examples=60, deadline=None)
@given(fields=offer_fields)
def test_any_offer_change_survives_a_json_line(fields: OfferFields) -> None:
    contribution = examples.contribution(FieldGroupsChanged(fields))
    line = json.loads(json.dumps(contribution_to_json(contribution)))
    assert contribution_from_json(line) == contribution


@settings(max_examples=30, deadline=None)
@given(fields=offer_fields)
def test_any_public_state_survives_as_a_regional_change(fields: OfferFields) -> None:
    change = replace(examples.regional_change(), public=fields.public(), private=fields.private)
    data = codec.encode("RegionalChange", to_avro_record(change))
    assert from_avro_record(RegionalChange, codec.decode("RegionalChange", data)) == change


@settings(max_examples=30, deadline=None)
@given(fields=offer_fields, offer_type=st.sampled_from(OfferType))
def test_the_boundary_facts_of_any_change_survive_the_wire(
    fields: OfferFields, offer_type: OfferType
) -> None:
    change = replace(examples.regional_change(), offer_type=offer_type, public=fields.public())
    facts = boundary_facts(change)
    assert decode_boundary_facts(encode_boundary_facts(facts)) == facts
