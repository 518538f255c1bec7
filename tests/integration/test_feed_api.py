"""The HTTP feed API on real in-memory stores: feeds, keys, scopes, formats, the OpenAPI document.

Diffusers follow their feed page by page with a cursor (upserts and tombstones), read one offer,
stream a snapshot; contributors read their rejections. Every body is checked against the models
the OpenAPI document is made of. A canary value kept privately in the regional store must never
come out of any endpoint.
"""

from __future__ import annotations

import json
from base64 import b64encode
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from consumers.api import create_app
from consumers.api.jsonld import TYPES, offer_document, offer_node
from consumers.api.jsonld_schema import LdChangesPage, LdOfferDocument
from consumers.api.media import wants_jsonld
from consumers.api.models import ChangesPage, FeedChange, OfferView, RejectionsPage
from consumers.feeds import FeedEntry, InMemoryFeedStore, hash_key, key_id
from hub.core.contribution import CustomerChannel, CustomerRecord
from hub.core.diffusion import DiffusionReason
from hub.core.offer import (
    PRIVATE_GROUPS,
    Accessibility,
    Address,
    Capacity,
    Classification,
    ClassificationScheme,
    Contact,
    ContactKind,
    DiffusionStatus,
    Disability,
    ExternalId,
    FieldGroup,
    GeoPoint,
    LocalizedText,
    Location,
    Media,
    OfferFields,
    OfferType,
    OpeningPeriod,
    PriceLine,
    Prices,
    TranslationSource,
    Weekday,
)
from hub.core.registry import Registry
from hub.dashboard import OperatorKey
from hub.reference import load_normandy_territory
from hub.registry.format import load_normandy_registry
from hub.registry.source import FixedRegistry, RegistryReading
from hub.store import InMemoryStore, StoredRejection
from producers import datatourisme
from producers.snapshot import CommuneNames
from tests.support.diffusion_changes import DIFFUSER, OTHER_DIFFUSER, removal, upsert
from tests.support.regional_changes import T0, change, private_block

DIFFUSER_KEY = "key-of-tourisme-fr"
OTHER_KEY = "key-of-ideoguide"
CONTRIBUTOR = "ot-caen-la-mer"
CONTRIBUTOR_KEY = "key-of-ot-caen-la-mer"
OTHER_CONTRIBUTOR_KEY = "key-of-ot-bayeux"
BIG_DIFFUSER = "agenda-ouest-france"
BIG_KEY = "key-of-agenda-ouest-france"

# Kept privately in the regional store (private block, customer data): never in any response.
CANARY = "CANARY-7f3a-ne-jamais-diffuser"


def rich_view() -> OfferFields:
    """A view with every diffusable group set, as a convention granting everything gives it."""
    return OfferFields(
        names=(
            LocalizedText("fr", "Hôtel des Falaises"),
            LocalizedText("en", "Cliffs Hotel", TranslationSource.MACHINE),
        ),
        descriptions=(
            LocalizedText("fr", "Face aux falaises d'Étretat."),
            LocalizedText("de", "Gegenüber den Klippen.", TranslationSource.MACHINE),
        ),
        location=Location(
            Address("76254", "1 rue de la Mer", "76790", "Étretat"), GeoPoint(49.7071, 0.2043)
        ),
        contacts=(
            Contact(ContactKind.PHONE, "+33 2 35 27 00 00"),
            Contact(ContactKind.EMAIL, "contact@hotel-falaises.example"),
            Contact(ContactKind.WEBSITE, "https://hotel-falaises.example"),
        ),
        opening=(
            OpeningPeriod(date(2026, 4, 1), date(2026, 10, 31), (Weekday.MON, Weekday.TUE), "midi"),
        ),
        prices=Prices(lines=(PriceLine("Chambre double", Decimal("95.00"), Decimal("180.00")),)),
        classifications=(Classification(ClassificationScheme.PREFECTORAL_STARS, "3"),),
        accessibility=Accessibility((Disability.MOTOR,), wheelchair_access=True),
        capacity=Capacity(persons=40, rooms=20),
        media=(
            Media(
                "https://medias.example/falaises.jpg",
                "OT Étretat",
                "CC BY-SA 4.0",
                "La façade",
                date(2026, 1, 1),
                date(2027, 12, 31),
            ),
        ),
        diffusion=DiffusionStatus.PUBLISHED,
        external_ids=(ExternalId("tourinsoft", "HOTNOR076V510001"),),
    )


def feed_entries() -> list[Any]:
    """The hand-made feeds: tourisme-fr gets HOT-1 (then removed), RES-6 twice, FMA-5 and PCU-23,
    all on partition 5, so its entries are numbered 1 to 6 there in this order."""
    return [
        upsert("HOT-1", 1, view=rich_view()),
        upsert("RES-6", 1, offer_type=OfferType.RES),
        upsert("RES-6", 2, offer_type=OfferType.RES, name="Le Bistrot du Port"),
        upsert("ONLY-OTHER", 1, diffuser=OTHER_DIFFUSER),
        upsert("FMA-5", 1, offer_type=OfferType.FMA),
        removal("HOT-1", 2, reason=DiffusionReason.RIGHTS_ENDED),
        upsert("PCU-23", 3, offer_type=OfferType.PCU, reason=DiffusionReason.ENTERED_SCOPE),
    ]


def stored_rejection(event_id: str, contributor: str, minutes: int) -> StoredRejection:
    return StoredRejection(
        event_id=event_id,
        contributor=contributor,
        offer_id="HOT-1",
        occurred_at=T0 + timedelta(minutes=minutes),
        rule_ids=("convention.field_group",),
        message=f"{event_id}: no convention covers the prices group; ask the CDT",
        field_groups=(FieldGroup.PRICES,),
    )


@pytest.fixture
def feeds() -> InMemoryFeedStore:
    feeds = InMemoryFeedStore()
    feeds.append(feed_entries(), {("sitn.regional.changes", 0): 7})
    feeds.append([upsert(f"LOI-{n:03}", 1, diffuser=BIG_DIFFUSER) for n in range(150)], {})
    for kind, owner, key in (
        ("diffuser", DIFFUSER, DIFFUSER_KEY),
        ("diffuser", OTHER_DIFFUSER, OTHER_KEY),
        ("diffuser", BIG_DIFFUSER, BIG_KEY),
        ("contributor", CONTRIBUTOR, CONTRIBUTOR_KEY),
        ("contributor", "ot-bayeux", OTHER_CONTRIBUTOR_KEY),
    ):
        feeds.set_key(kind, owner, hash_key(key), at=T0)  # type: ignore[arg-type]
    return feeds


@pytest.fixture
def store() -> InMemoryStore:
    store = InMemoryStore()
    store.apply([change("HOT-1", 1, private=private_block(CANARY))], {})
    store.record_customer_data(
        [
            CustomerRecord(
                event_id="form:1",
                collector=CONTRIBUTOR,
                collected_at=T0,
                channel=CustomerChannel.WEB_FORM,
                full_name=CANARY,
                email=f"{CANARY}@mail.example",
                consent_marketing=False,
            )
        ],
        {},
    )
    store.record_rejections(
        [
            stored_rejection("e-3", CONTRIBUTOR, 3),
            stored_rejection("b-1", "ot-bayeux", 1),
            stored_rejection("e-1", CONTRIBUTOR, 1),
        ],
        {},
    )
    store.record_rejections([stored_rejection("e-2", CONTRIBUTOR, 2)], {})  # recorded last
    return store


@pytest.fixture
def client(feeds: InMemoryFeedStore, store: InMemoryStore) -> Iterator[TestClient]:
    with TestClient(api(feeds, store)) as client:
        yield client


OPERATOR_KEY = OperatorKey("operator-key-for-the-feed-tests", "tests")


def api(
    feeds: InMemoryFeedStore, store: InMemoryStore, registry: Registry | None = None
) -> FastAPI:
    """The feed API over the stores, with the shipped registry (or `registry`) in force."""
    in_force = registry if registry is not None else load_normandy_registry()
    return create_app(feeds, store, registry=FixedRegistry(in_force), operator_key=OPERATOR_KEY)


def as_diffuser(key: str = DIFFUSER_KEY) -> dict[str, str]:
    return {"X-API-Key": key}


FEED = f"/v1/feeds/{DIFFUSER}"
REJECTIONS = f"/v1/contributors/{CONTRIBUTOR}/rejections"


# ---------------------------------------------------------------- changes


def test_a_diffuser_follows_its_feed_page_by_page_with_tombstones(client: TestClient) -> None:
    seen: list[tuple[str, int, str, bool]] = []
    cursor = "0"
    pages = 0
    while True:
        response = client.get(
            f"{FEED}/changes", params={"after": cursor, "limit": 2}, headers=as_diffuser()
        )
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        page = ChangesPage.model_validate(response.json())
        pages += 1
        seen += [(c.offer_id, c.version, c.kind.value, c.offer is not None) for c in page.changes]
        cursor = page.next_cursor
        if not page.has_more:
            break

    assert pages == 3
    assert seen == [
        ("HOT-1", 1, "upsert", True),
        ("RES-6", 1, "upsert", True),
        ("RES-6", 2, "upsert", True),
        ("FMA-5", 1, "upsert", True),
        ("HOT-1", 2, "removal", False),
        ("PCU-23", 3, "upsert", True),
    ]
    idle = client.get(f"{FEED}/changes", params={"after": cursor}, headers=as_diffuser()).json()
    assert (idle["changes"], idle["next_cursor"], idle["has_more"]) == ([], cursor, False)


def test_a_client_resumes_after_the_last_cursor_it_stored(client: TestClient) -> None:
    first = client.get(f"{FEED}/changes", params={"limit": 3}, headers=as_diffuser()).json()
    stored_cursor = first["changes"][-1]["cursor"]
    assert first["next_cursor"] == stored_cursor

    rest = client.get(f"{FEED}/changes", params={"after": stored_cursor}, headers=as_diffuser())

    assert [c["offer_id"] for c in rest.json()["changes"]] == ["FMA-5", "HOT-1", "PCU-23"]


def test_a_tombstone_names_the_offer_its_version_and_why(client: TestClient) -> None:
    changes = client.get(f"{FEED}/changes", headers=as_diffuser()).json()["changes"]

    tombstone = next(c for c in changes if c["kind"] == "removal")

    assert tombstone == {
        "cursor": "0.0.0.0.0.5",  # the feed's offers share partition 5
        "diffuser_id": DIFFUSER,
        "offer_id": "HOT-1",
        "version": 2,
        "kind": "removal",
        "reason": "rights_ended",
        "occurred_at": "2026-05-01T09:02:00Z",
    }


def test_an_upsert_carries_the_whole_view_in_the_records_json_shape(client: TestClient) -> None:
    first = client.get(f"{FEED}/changes", params={"limit": 1}, headers=as_diffuser()).json()

    offer = first["changes"][0]["offer"]

    assert OfferView.model_validate(offer).model_dump(mode="json", exclude_none=True) == offer
    assert offer["prices"]["lines"][0]["minimum"] == "95.00"
    assert offer["names"][1] == {"lang": "en", "text": "Cliffs Hotel", "source": "machine"}
    assert "private" not in offer


def test_the_default_page_holds_100_changes_and_the_limit_is_bounded(
    client: TestClient,
) -> None:
    url = f"/v1/feeds/{BIG_DIFFUSER}/changes"
    by_default = client.get(url, headers=as_diffuser(BIG_KEY)).json()
    largest = client.get(url, params={"limit": 1000}, headers=as_diffuser(BIG_KEY)).json()
    smallest = client.get(url, params={"limit": 1}, headers=as_diffuser(BIG_KEY)).json()

    assert (len(by_default["changes"]), by_default["has_more"]) == (100, True)
    assert (len(largest["changes"]), largest["has_more"]) == (150, False)
    # The LOI offers are spread over the partitions, all at one time: the first is partition 0's.
    assert (len(smallest["changes"]), smallest["next_cursor"]) == (1, "1.0.0.0.0.0")


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "1001"},
        {"limit": "-5"},
        {"limit": "many"},
        {"after": "-1"},
        {"after": "abc"},
        {"after": "007"},
        {"after": "1" * 19},
        {"after": "1.2"},  # a cursor holds one number, or one per partition
        {"after": "1.2.3.4.5.007"},
        {"format": "xml"},
    ],
)
def test_a_malformed_parameter_is_422_naming_it(client: TestClient, params: dict[str, str]) -> None:
    response = client.get(f"{FEED}/changes", params=params, headers=as_diffuser())

    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["query", *params]]


def test_a_cursor_beyond_the_end_of_the_feed_is_409(client: TestClient) -> None:
    response = client.get(f"{FEED}/changes", params={"after": "999"}, headers=as_diffuser())

    assert response.status_code == 409
    assert "cursor 999 is beyond the end" in response.json()["detail"]


# ---------------------------------------------------------------- keys and scopes

ENDPOINTS = [
    f"{FEED}/changes",
    f"{FEED}/offers/RES-6",
    f"{FEED}/snapshot",
    REJECTIONS,
]


@pytest.mark.parametrize("url", ENDPOINTS)
def test_no_key_is_401_with_a_challenge(client: TestClient, url: str) -> None:
    response = client.get(url)

    assert response.status_code == 401
    assert "X-API-Key" in response.json()["detail"]
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("url", ENDPOINTS)
@pytest.mark.parametrize(
    "headers",
    [
        {"X-API-Key": "not-a-key-anyone-has"},
        {"Authorization": "Bearer not-a-key-anyone-has"},
        {"Authorization": f"Basic {DIFFUSER_KEY}"},
        {"X-API-Key": hash_key(DIFFUSER_KEY)},  # the stored hash is not a key
    ],
)
def test_a_bad_key_is_401(client: TestClient, url: str, headers: dict[str, str]) -> None:
    response = client.get(url, headers=headers)

    assert response.status_code == 401


def test_a_key_works_as_a_bearer_token_too(client: TestClient) -> None:
    response = client.get(
        f"{FEED}/offers/RES-6", headers={"Authorization": f"Bearer {DIFFUSER_KEY}"}
    )

    assert response.status_code == 200


@pytest.mark.parametrize("url", ENDPOINTS[:3])
def test_another_diffusers_feed_is_403(client: TestClient, url: str) -> None:
    response = client.get(url, headers=as_diffuser(OTHER_KEY))

    assert response.status_code == 403
    assert response.json()["detail"] == (
        f"this API key does not open the feed of {DIFFUSER!r}; use the key the SITN operators "
        "gave for that feed"
    )
    assert OTHER_DIFFUSER not in response.text  # whose key it is stays unsaid


@pytest.mark.parametrize("url", ENDPOINTS[:3])
def test_a_contributor_key_reads_no_feed(client: TestClient, url: str) -> None:
    assert client.get(url, headers=as_diffuser(CONTRIBUTOR_KEY)).status_code == 403


@pytest.mark.parametrize("key", [DIFFUSER_KEY, OTHER_CONTRIBUTOR_KEY])
def test_a_contributors_rejections_need_its_own_key(client: TestClient, key: str) -> None:
    response = client.get(REJECTIONS, headers=as_diffuser(key))

    assert response.status_code == 403
    assert response.json()["detail"] == (
        f"this API key does not open the rejections of {CONTRIBUTOR!r}; use the key the SITN "
        "operators gave for them"
    )
    assert "ot-bayeux" not in response.text  # whose key it is stays unsaid


def test_a_revoked_key_is_401_saying_so_and_every_other_key_still_works(
    client: TestClient, feeds: InMemoryFeedStore
) -> None:
    feeds.revoke_key(key_id(hash_key(DIFFUSER_KEY)), at=T0)

    refused = client.get(f"{FEED}/changes", headers=as_diffuser())

    assert refused.status_code == 401
    assert refused.json()["detail"] == (
        f"this API key (id {key_id(hash_key(DIFFUSER_KEY))}) was revoked; ask the SITN "
        "operators for a new one"
    )
    assert DIFFUSER_KEY not in refused.text
    assert refused.headers["www-authenticate"].startswith("Bearer")
    others = [
        (f"/v1/feeds/{OTHER_DIFFUSER}/changes", OTHER_KEY),
        (f"/v1/feeds/{BIG_DIFFUSER}/changes", BIG_KEY),
        (REJECTIONS, CONTRIBUTOR_KEY),
    ]
    assert [client.get(url, headers=as_diffuser(key)).status_code for url, key in others] == [
        200,
        200,
        200,
    ]


def test_a_key_replaced_by_a_rotation_stops_working_at_once(
    client: TestClient, feeds: InMemoryFeedStore
) -> None:
    before = client.get(f"{FEED}/changes", headers=as_diffuser())
    feeds.set_key("diffuser", DIFFUSER, hash_key("the-new-key"), at=T0, replace=True)

    old = client.get(f"{FEED}/changes", headers=as_diffuser())
    new = client.get(f"{FEED}/changes", headers=as_diffuser("the-new-key"))

    assert (before.status_code, old.status_code, new.status_code) == (200, 401, 200)
    assert "was revoked" in old.json()["detail"]
    assert new.json() == before.json()


def test_a_diffuser_removed_from_the_registry_is_refused_and_the_others_still_read(
    feeds: InMemoryFeedStore, store: InMemoryStore
) -> None:
    normandy = load_normandy_registry()
    without = replace(
        normandy, diffusers={d: v for d, v in normandy.diffusers.items() if d != DIFFUSER}
    )

    with TestClient(api(feeds, store, without)) as client:
        refused = client.get(f"{FEED}/changes", headers=as_diffuser())
        others = [
            client.get(f"/v1/feeds/{OTHER_DIFFUSER}/changes", headers=as_diffuser(OTHER_KEY)),
            client.get(REJECTIONS, headers=as_diffuser(CONTRIBUTOR_KEY)),
        ]

    assert refused.status_code == 401
    assert refused.json()["detail"] == (
        f"this API key (id {key_id(hash_key(DIFFUSER_KEY))}) belongs to a diffuser no longer in "
        "the SITN registry, so it opens nothing; ask the SITN operators"
    )
    assert [response.status_code for response in others] == [200, 200]
    assert feeds.owner_of(hash_key(DIFFUSER_KEY)) == (
        "diffuser",
        DIFFUSER,
    )  # the store is as it was


def test_a_contributor_removed_from_the_registry_reads_no_more_rejections(
    feeds: InMemoryFeedStore, store: InMemoryStore
) -> None:
    normandy = load_normandy_registry()
    without = replace(
        normandy,
        organisations={o: v for o, v in normandy.organisations.items() if o != CONTRIBUTOR},
    )

    with TestClient(api(feeds, store, without)) as client:
        refused = client.get(REJECTIONS, headers=as_diffuser(CONTRIBUTOR_KEY))
        other = client.get(f"/v1/feeds/{OTHER_DIFFUSER}/changes", headers=as_diffuser(OTHER_KEY))

    assert refused.status_code == 401
    assert "belongs to a contributor no longer in the SITN registry" in refused.json()["detail"]
    assert CONTRIBUTOR not in refused.text
    assert other.status_code == 200


def test_no_key_is_checked_while_no_registry_could_be_read(
    feeds: InMemoryFeedStore, store: InMemoryStore
) -> None:
    unread = UnreadRegistry()

    with TestClient(create_app(feeds, store, registry=unread)) as client:
        response = client.get(f"{FEED}/changes", headers=as_diffuser())

    assert response.status_code == 503
    assert response.json()["detail"] == (
        "the registry could not be read, so no key can be checked now; try again in a minute"
    )
    assert "broker.invalid" not in response.text  # where the registry lives stays in the log


class UnreadRegistry:
    """What `TopicRegistry` gives before its first read when the broker does not answer."""

    async def reading(self) -> RegistryReading:
        return RegistryReading(Registry(), "sitn.registry on broker.invalid:9092 did not answer")


# ---------------------------------------------------------------- the operators' endpoints

OPERATORS_PATHS = ["/openapi.json", "/docs"]


@pytest.mark.parametrize("path", OPERATORS_PATHS)
@pytest.mark.parametrize(
    "headers",
    [{}, {"X-API-Key": DIFFUSER_KEY}, {"Authorization": "Bearer not-the-operator-key"}],
    ids=["no key", "a diffuser's key", "a wrong key"],
)
def test_the_docs_need_the_operator_key(
    client: TestClient, path: str, headers: dict[str, str]
) -> None:
    response = client.get(path, headers=headers)

    assert response.status_code == 401
    assert response.json()["detail"].startswith("the docs need the operator key")
    assert response.headers["www-authenticate"] == 'Basic realm="SITN operators"'
    assert OPERATOR_KEY.value not in response.text


@pytest.mark.parametrize("path", OPERATORS_PATHS)
@pytest.mark.parametrize(
    "headers",
    [
        {"X-API-Key": OPERATOR_KEY.value},
        {"Authorization": f"Bearer {OPERATOR_KEY.value}"},
        {"Authorization": "Basic " + b64encode(f"ops:{OPERATOR_KEY.value}".encode()).decode()},
    ],
    ids=["as an API key", "as a bearer token", "as a Basic password"],
)
def test_the_operator_key_opens_the_docs(
    client: TestClient, path: str, headers: dict[str, str]
) -> None:
    assert client.get(path, headers=headers).status_code == 200


def test_the_docs_open_to_everyone_only_when_asked(
    feeds: InMemoryFeedStore, store: InMemoryStore
) -> None:
    registry = FixedRegistry(load_normandy_registry())
    public = create_app(feeds, store, registry=registry, public_docs=True)
    closed = create_app(feeds, store, registry=registry)  # and no operator key at all

    with TestClient(public) as open_client, TestClient(closed) as closed_client:
        opened = [open_client.get(path).status_code for path in OPERATORS_PATHS]
        feed = open_client.get(f"{FEED}/changes")
        refused = closed_client.get("/openapi.json", headers=as_diffuser("any key"))

    assert opened == [200, 200]
    assert feed.status_code == 401  # opening the docs opens no feed
    assert refused.status_code == 401
    assert (
        "runs without one; set SITN_OPERATOR_KEY, or SITN_API_PUBLIC_DOCS=1"
        in (refused.json()["detail"])
    )


def test_the_json_ld_context_stays_open_for_json_ld_processors(client: TestClient) -> None:
    assert client.get("/v1/context.jsonld").status_code == 200


# ---------------------------------------------------------------- one offer


def test_an_offer_reads_as_its_last_upsert(client: TestClient) -> None:
    response = client.get(f"{FEED}/offers/RES-6", headers=as_diffuser())

    assert response.status_code == 200
    body = FeedChange.model_validate(response.json())
    # The cursor is the feed's when it was read: nothing later of this offer comes before it.
    assert (body.cursor, body.version, body.kind.value, body.offer_type) == (
        "0.0.0.0.0.6",
        2,
        "upsert",
        "RES",
    )
    assert body.offer is not None
    assert body.offer.names is not None
    assert body.offer.names[0].text == "Le Bistrot du Port"


@pytest.mark.parametrize(
    ("offer_id", "why"),
    [
        ("ONLY-OTHER", "in another diffuser's feed only"),
        ("HOT-1", "removed from this feed"),
        ("NO-SUCH-OFFER", "never diffused"),
    ],
)
def test_an_offer_outside_the_feed_is_404(client: TestClient, offer_id: str, why: str) -> None:
    response = client.get(f"{FEED}/offers/{offer_id}", headers=as_diffuser())

    assert response.status_code == 404, why
    assert response.json()["detail"].startswith(f"offer {offer_id!r} is not in diffuser")


# ---------------------------------------------------------------- JSON-LD


def test_json_ld_is_chosen_by_the_accept_header_or_the_format_parameter(
    client: TestClient,
) -> None:
    by_accept = client.get(
        f"{FEED}/changes", headers={**as_diffuser(), "Accept": "application/ld+json"}
    )
    by_format = client.get(f"{FEED}/changes", params={"format": "jsonld"}, headers=as_diffuser())
    forced_json = client.get(
        f"{FEED}/changes",
        params={"format": "json"},
        headers={**as_diffuser(), "Accept": "application/ld+json"},
    )

    assert by_accept.headers["content-type"] == "application/ld+json"
    assert by_accept.json() == by_format.json()
    assert forced_json.headers["content-type"] == "application/json"
    ChangesPage.model_validate(forced_json.json())


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, False),
        ("*/*", False),
        ("application/json", False),
        ("application/ld+json", True),
        ("application/ld+json, application/json", True),
        ("application/json, application/ld+json;q=0.5", False),
        ("application/json;q=0.2, application/ld+json;q=0.9", True),
        ("application/ld+json;q=0", False),
        ("application/ld+json;q=oops", False),
        ("text/html", False),
    ],
)
def test_the_accept_header_picks_json_ld_only_when_preferred(
    accept: str | None, expected: bool
) -> None:
    assert wants_jsonld(accept, None) is expected
    assert wants_jsonld(accept, "jsonld") is True
    assert wants_jsonld(accept, "json") is False


def test_a_json_ld_page_is_a_graph_of_changes_around_schema_org_offers(
    client: TestClient,
) -> None:
    response = client.get(f"{FEED}/changes", params={"format": "jsonld"}, headers=as_diffuser())
    document = response.json()
    LdChangesPage.model_validate(document)

    context = document["@context"]
    assert context["schema"] == "http://schema.org/"
    assert context["@vocab"] == "https://www.datatourisme.fr/ontology/core#"
    assert context["rdfs:label"] == {"@container": "@language"}
    assert (document["sitn:nextCursor"], document["sitn:hasMore"]) == ("0.0.0.0.0.6", False)
    hotel = document["@graph"][0]["sitn:offer"]
    assert hotel["@id"] == "urn:sitn:offer:HOT-1"
    assert hotel["@type"][:2] == ["schema:Hotel", "Hotel"]
    assert hotel["rdfs:label"] == {"fr": ["Hôtel des Falaises"], "en": ["Cliffs Hotel"]}
    place = hotel["isLocatedAt"][0]
    assert place["schema:geo"]["schema:latitude"] == 49.7071
    assert place["schema:address"][0]["schema:postalCode"] == "76790"
    assert place["schema:address"][0]["hasAddressCity"]["insee"] == "76254"
    assert (hotel["sitn:version"], hotel["lastUpdate"]) == (1, "2026-05-01T09:01:00Z")
    tombstone = document["@graph"][4]
    assert (tombstone["sitn:kind"], tombstone["sitn:reason"]) == ("removal", "rights_ended")
    assert tombstone["sitn:offer"] == {"@id": "urn:sitn:offer:HOT-1", "dc:identifier": "HOT-1"}


def test_a_json_ld_offer_is_a_document_with_its_context(client: TestClient) -> None:
    response = client.get(
        f"{FEED}/offers/FMA-5", headers={**as_diffuser(), "Accept": "application/ld+json"}
    )

    document = response.json()
    LdOfferDocument.model_validate(document)
    assert response.headers["content-type"] == "application/ld+json"
    assert document["@context"]["sitn"] == "urn:sitn:terms:"
    assert document["@type"][:2] == ["schema:Event", "EntertainmentAndEvent"]


def test_the_hubs_datatourisme_reader_reads_a_json_ld_offer_back() -> None:
    view = rich_view()
    entry = upsert("HOTNOR076V510001", 4, view=view)
    document = offer_document(FeedEntry(1, entry), "https://hub.example/v1/context.jsonld")

    parsed, problems = datatourisme.parse_object(
        json.loads(json.dumps(document)),
        "feed",
        CommuneNames(load_normandy_territory()),
        taken_at=datetime(2000, 1, 1, tzinfo=UTC),
    )

    assert problems == []
    assert parsed is not None
    back = parsed.fields
    assert (parsed.offer_id, parsed.offer_type) == ("HOTNOR076V510001", OfferType.HOT)
    assert parsed.occurred_at == entry.occurred_at
    assert (back.names, back.descriptions, back.location) == (
        view.names,
        view.descriptions,
        view.location,
    )
    assert back.contacts == view.contacts
    assert view.opening is not None
    # The reader keeps no weekdays (DATAtourisme's are times of day, which the hub has not).
    assert back.opening == tuple(replace(p, weekdays=()) for p in view.opening)
    assert back.prices == view.prices
    assert (back.capacity, back.diffusion) == (view.capacity, view.diffusion)
    assert view.media is not None
    assert back.media == tuple(replace(m, licence=datatourisme.MEDIA_LICENCE) for m in view.media)


@pytest.mark.parametrize("offer_type", list(OfferType))
def test_every_bordereau_reads_back_as_itself_through_its_json_ld_types(
    offer_type: OfferType,
) -> None:
    view = OfferFields(
        names=(LocalizedText("fr", "Une offre"),),
        location=Location(Address("14118")),
    )
    node = offer_node("X-1", offer_type, view)

    parsed, problems = datatourisme.parse_object(
        node, "feed", CommuneNames(load_normandy_territory()), taken_at=T0
    )

    assert parsed is not None, problems
    assert parsed.offer_type is offer_type
    types = node["@type"]
    assert isinstance(types, list)
    assert types[0].startswith("schema:")
    assert tuple(types[: len(TYPES[offer_type])]) == TYPES[offer_type]


def test_a_json_ld_offer_never_carries_the_private_group() -> None:
    leaking = replace(rich_view(), private=private_block(CANARY))

    node = offer_node("HOT-1", OfferType.HOT, leaking)

    assert CANARY not in json.dumps(node)


# ---------------------------------------------------------------- snapshot


def test_the_snapshot_streams_the_offers_in_the_feed_with_the_cursor_to_follow(
    client: TestClient,
) -> None:
    with client.stream("GET", f"{FEED}/snapshot", headers=as_diffuser()) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/x-ndjson"
        cursor = response.headers["x-feed-cursor"]
        lines = [FeedChange.model_validate_json(line) for line in response.iter_lines() if line]

    assert cursor == "0.0.0.0.0.6"
    assert [(line.offer_id, line.version, line.cursor) for line in lines] == [
        ("RES-6", 2, cursor),  # each line: where to follow the feed from after the snapshot
        ("FMA-5", 1, cursor),
        ("PCU-23", 3, cursor),
    ]
    after = client.get(f"{FEED}/changes", params={"after": cursor}, headers=as_diffuser())
    assert after.json()["changes"] == []


def test_json_ld_snapshot_lines_point_to_the_served_context(client: TestClient) -> None:
    response = client.get(f"{FEED}/snapshot", params={"format": "jsonld"}, headers=as_diffuser())
    documents = [json.loads(line) for line in response.text.splitlines()]

    context_url = documents[0]["@context"]
    served = client.get(context_url)
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/ld+json"
    assert served.json()["@context"]["schema"] == "http://schema.org/"
    assert [d["dc:identifier"] for d in documents] == ["RES-6", "FMA-5", "PCU-23"]
    for document in documents:
        LdOfferDocument.model_validate(document)


def test_an_empty_feed_has_an_empty_snapshot_at_cursor_0(
    feeds: InMemoryFeedStore, store: InMemoryStore
) -> None:
    feeds.set_key("diffuser", "resa-campings", hash_key("k-resa"), at=T0)
    with TestClient(api(feeds, store)) as client:
        response = client.get("/v1/feeds/resa-campings/snapshot", headers=as_diffuser("k-resa"))

    assert (response.status_code, response.text, response.headers["x-feed-cursor"]) == (
        200,
        "",
        "0",
    )


# ---------------------------------------------------------------- rejections


def test_a_contributor_reads_its_rejections_in_the_order_they_were_recorded(
    client: TestClient,
) -> None:
    first = client.get(REJECTIONS, params={"limit": 2}, headers=as_diffuser(CONTRIBUTOR_KEY))
    page = RejectionsPage.model_validate(first.json())
    rest = client.get(
        REJECTIONS, params={"after": page.next_cursor}, headers=as_diffuser(CONTRIBUTOR_KEY)
    )

    assert [r.event_id for r in page.rejections] == ["e-3", "e-1"]
    assert page.has_more
    assert [r["event_id"] for r in rest.json()["rejections"]] == ["e-2"]
    assert rest.json()["has_more"] is False
    assert page.rejections[0].message == "e-3: no convention covers the prices group; ask the CDT"
    assert [g.value for g in page.rejections[0].field_groups] == ["prices"]


# ---------------------------------------------------------------- OpenAPI and privacy


def test_the_openapi_document_describes_every_endpoint_its_keys_and_formats(
    client: TestClient,
) -> None:
    document = client.get("/openapi.json", headers=as_diffuser(OPERATOR_KEY.value)).json()

    assert set(document["paths"]) == {
        "/v1/feeds/{diffuser}/changes",
        "/v1/feeds/{diffuser}/offers/{offer_id}",
        "/v1/feeds/{diffuser}/snapshot",
        "/v1/contributors/{org}/rejections",
        "/v1/context.jsonld",
    }
    assert set(document["components"]["securitySchemes"]) == {"ApiKey", "Bearer"}
    changes = document["paths"]["/v1/feeds/{diffuser}/changes"]["get"]
    assert set(changes["responses"]) == {"200", "401", "403", "409", "422"}
    assert set(changes["responses"]["200"]["content"]) == {
        "application/json",
        "application/ld+json",
    }
    limit = next(p for p in changes["parameters"] if p["name"] == "limit")
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 1000)
    assert {"ChangesPage", "FeedChange", "OfferView", "LdChangesPage", "LdOfferDocument"} <= set(
        document["components"]["schemas"]
    )


def test_the_offer_view_model_has_every_group_but_the_private_ones() -> None:
    diffusable = {g.value for g in FieldGroup if g not in PRIVATE_GROUPS}

    assert set(OfferView.model_fields) == diffusable


def test_a_private_value_of_the_regional_store_never_appears_in_any_response(
    client: TestClient, store: InMemoryStore
) -> None:
    stored = store.offer("HOT-1")
    assert stored is not None
    assert stored.private is not None
    assert CANARY in str(stored.private)
    assert CANARY in str(store.customer_data())
    requests = [
        (f"{FEED}/changes", DIFFUSER_KEY),
        (f"{FEED}/changes?format=jsonld", DIFFUSER_KEY),
        (f"{FEED}/offers/RES-6", DIFFUSER_KEY),
        (f"{FEED}/offers/RES-6?format=jsonld", DIFFUSER_KEY),
        (f"{FEED}/offers/HOT-1", DIFFUSER_KEY),
        (f"{FEED}/snapshot", DIFFUSER_KEY),
        (f"{FEED}/snapshot?format=jsonld", DIFFUSER_KEY),
        (REJECTIONS, CONTRIBUTOR_KEY),
        ("/v1/contributors/ot-bayeux/rejections", OTHER_CONTRIBUTOR_KEY),
        ("/v1/context.jsonld", DIFFUSER_KEY),
        ("/openapi.json", OPERATOR_KEY.value),
    ]

    bodies = [client.get(url, headers=as_diffuser(key)).text for url, key in requests]

    assert all(bodies)
    assert not [url for (url, _), body in zip(requests, bodies, strict=True) if CANARY in body]
