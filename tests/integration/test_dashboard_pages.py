"""The operators' dashboard page by page, on a real SQLite store, through FastAPI's TestClient.

The store holds one hotel changed by three organisations under three kinds of authority (the
principle, a contribution convention, a CRT exception) plus one authority the registry no longer
knows, rejections of two contributors, two diffusers' feeds and a parked webhook. Pages must show
exactly that, refuse anyone without the operator key, and never show the canary kept in the
offer's private block and in the customer data.
"""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from consumers.api import create_app
from consumers.feeds.cursor import START
from consumers.feeds.sql import SqlFeedStore
from consumers.webhooks import SqlWebhookStore
from hub.core.contribution import CustomerChannel, CustomerRecord
from hub.core.offer import PRIVATE_GROUPS, FieldGroup, Media, OfferFields, PriceLine, Prices
from hub.core.regional import ContributorVersion, Provenance, RegionalChange
from hub.dashboard import (
    DASHBOARD_PATH,
    DashboardSources,
    FixedRegistry,
    OperatorKey,
    OperatorKeyError,
    create_dashboard,
    load_operator_key,
)
from hub.dashboard.access import OPERATOR_KEY_VARIABLE, Sessions
from hub.dashboard.app import SESSION_COOKIE
from hub.dashboard.fields import _RENDERERS, public_lines
from hub.dashboard.throttle import LOGIN_FAILURES, LoginThrottle
from hub.operations.status import StatusSources
from hub.registry.format import load_normandy_registry
from hub.settings import Settings
from hub.store import StoredRejection
from hub.store.sql import SqlStore
from tests.support.dashboard_pages import table_rows
from tests.support.diffusion_changes import upsert
from tests.support.regional_changes import T0, change, private_block

KEY = OperatorKey("operator-key-for-the-tests-0123456789", "tests")
CANARY = "CANARY-dashboard-9c1e-ne-jamais-afficher"
PRIVATE_PHONE = "+33 6 12 34 56 78"  # the private block's owner contact (`private_block`)
PRIVATE_CONTRACT = "CONC-2026-014"

OFFER = "HOTNOR0140000001"
CDT, OT, CRT = "cdt-calvados", "ot-caen-la-mer", "crt-normandie"
OT_CONVENTION = "cc-ot-caen-la-mer-2020"
PHOTO_EXCEPTION = "crt-media-phototheque"
BASE = DASHBOARD_PATH


def history() -> list[RegionalChange]:
    """v1 by the CDT (principle), v2 prices by the OT (convention), v3 media by the CRT
    (exception); the contacts group then names a convention that is no longer in the registry."""
    first = change(OFFER, 1, name="Hôtel du Port", contributor=CDT, private=private_block(CANARY))
    prices = Prices(lines=(PriceLine("Chambre double", Decimal("80.00"), Decimal("120.00")),))
    second_at, third_at = T0 + timedelta(days=1), T0 + timedelta(days=2)

    def provenance_after(
        previous: RegionalChange, group: FieldGroup, who: str, event: str, at: datetime, auth: str
    ) -> tuple[Provenance, ...]:
        return tuple(
            Provenance(group, who, event, 2, at, auth) if p.group is group else p
            for p in previous.provenance
        )

    second = replace(
        first,
        version=2,
        changed_groups=(FieldGroup.PRICES,),
        public=first.public.merged_with(OfferFields(prices=prices)),
        event_id=f"{OT}:{OFFER}:2",
        contributor=OT,
        occurred_at=second_at,
        source_version=2,
        contributor_versions=(ContributorVersion(CDT, 1), ContributorVersion(OT, 2)),
    )
    second = replace(
        second,
        provenance=provenance_after(
            first, FieldGroup.PRICES, OT, second.event_id, second_at, f"convention:{OT_CONVENTION}"
        ),
    )
    media = (Media("https://media.example/port.jpg", "© CRT Normandie", "CC-BY-4.0"),)
    third = replace(
        second,
        version=3,
        changed_groups=(FieldGroup.MEDIA,),
        public=second.public.merged_with(OfferFields(media=media)),
        event_id=f"{CRT}:{OFFER}:2",
        contributor=CRT,
        occurred_at=third_at,
        contributor_versions=(*second.contributor_versions, ContributorVersion(CRT, 2)),
    )
    provenance = (
        *second.provenance,
        Provenance(
            FieldGroup.MEDIA, CRT, third.event_id, 2, third_at, f"exception:{PHOTO_EXCEPTION}"
        ),
    )
    provenance = tuple(
        replace(p, authority="convention:cc-withdrawn-2019")
        if p.group is FieldGroup.CONTACTS
        else p
        for p in sorted(provenance, key=lambda p: list(FieldGroup).index(p.group))
    )
    return [first, second, replace(third, provenance=provenance)]


def rejection(event: str, contributor: str, minutes: int) -> StoredRejection:
    return StoredRejection(
        event_id=event,
        contributor=contributor,
        offer_id=OFFER,
        occurred_at=T0 + timedelta(minutes=minutes),
        rule_ids=("convention.field_group",),
        message=f"{event}: no convention covers the prices group; ask the CDT",
        field_groups=(FieldGroup.PRICES,),
    )


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One store for the whole module: the dashboard only reads, so no test can change it."""
    url = f"sqlite:///{tmp_path_factory.mktemp('dashboard') / 'dashboard.db'}"
    with SqlStore(url) as store:
        store.migrate()
        store.apply(history(), {("sitn.regional.changes", 0): 3})
        store.apply([change(f"RES{n:03}", 1, name=f"Restaurant {n}") for n in range(60)], {})
        store.record_rejections(
            [rejection(f"ot-bayeux:{n}", "ot-bayeux", n) for n in range(3)]
            + [rejection("cdt-eure:1", "cdt-eure", 10)],
            {},
        )
        store.record_customer_data(
            [
                CustomerRecord(
                    event_id="form:1",
                    collector=OT,
                    collected_at=T0,
                    channel=CustomerChannel.WEB_FORM,
                    full_name=CANARY,
                    email=f"{CANARY}@mail.example",
                    message=CANARY,
                )
            ],
            {},
        )
    with SqlFeedStore(url) as feeds:
        feeds.append(
            [
                upsert(OFFER, 3, diffuser="tourisme-fr"),
                upsert("RES001", 1, diffuser="tourisme-fr"),
                upsert(OFFER, 3, diffuser="site-crt-normandie"),
            ],
            {},
        )
        # The receiver acknowledged the feed's first entry only.
        first = START.past(feeds.changes("tourisme-fr", START, 1))
    with SqlWebhookStore(url) as hooks:
        hooks.set_webhook(
            "tourisme-fr", "https://hooks.tourisme.example/sitn", "s3cret-hook", first
        )
        hooks.record_failure("tourisme-fr", "HTTP 503 from the receiver", T0, park_after=1)
    return url


def unanswering_bootstrap() -> str:
    """A loopback port nothing listens on: the overview must cope with a broker that is down."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


class Clocks:
    """The dashboard's clocks, moved by the tests: the wall clock and the monotonic one."""

    def __init__(self) -> None:
        self.wall = datetime.now(UTC)
        self.ticks = 1000.0

    def advance(self, seconds: float) -> None:
        self.wall += timedelta(seconds=seconds)
        self.ticks += seconds


@pytest.fixture
def clocks() -> Clocks:
    return Clocks()


# What a browser sends with a form of the dashboard's own pages (TestClient's server).
OWN_ORIGIN = "http://testserver"


@pytest.fixture
def client(database: str, clocks: Clocks) -> Iterator[TestClient]:
    store, feeds, hooks = SqlStore(database), SqlFeedStore(database), SqlWebhookStore(database)
    sources = DashboardSources(
        status=StatusSources(unanswering_bootstrap(), store, feeds, hooks),
        registry=FixedRegistry(load_normandy_registry()),
    )
    dashboard = create_dashboard(
        sources,
        KEY,
        status_timeout=1.0,
        clock=lambda: clocks.wall,
        login_throttle=LoginThrottle(clock=lambda: clocks.ticks),
    )
    app = create_app(feeds, store, registry=sources.registry, operator_key=KEY, dashboard=dashboard)
    try:
        with TestClient(app, headers={"Origin": OWN_ORIGIN}) as client:
            yield client
    finally:
        hooks.close()
        feeds.close()
        store.close()


@pytest.fixture
def operator(client: TestClient) -> TestClient:
    response = client.post(f"{BASE}/login", data={"key": KEY.value}, follow_redirects=False)
    assert response.status_code == 303
    return client


PAGES = [
    "/",
    "/offers",
    f"/offers/{OFFER}",
    "/rejections",
    "/rejections?contributor=ot-bayeux",
    "/diffusers",
    "/diffusers/tourisme-fr",
]


# ------------------------------------------------------------------ access


@pytest.mark.parametrize("page", PAGES)
def test_every_page_sends_a_visitor_without_a_session_to_the_login_form(
    client: TestClient, page: str
) -> None:
    response = client.get(BASE + page, follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"].startswith(f"{BASE}/login?next=")
    assert OFFER not in response.text
    assert "ot-bayeux" not in response.text


def test_a_wrong_operator_key_is_refused_and_earns_no_session(client: TestClient) -> None:
    response = client.post(f"{BASE}/login", data={"key": "not-the-operator-key-at-all"})

    assert response.status_code == 401
    assert "not the operator key" in response.text
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    assert client.get(f"{BASE}/offers", follow_redirects=False).status_code == 303


def test_the_operator_key_opens_a_session_in_an_http_only_cookie_and_goes_where_asked(
    client: TestClient,
) -> None:
    response = client.post(
        f"{BASE}/login",
        data={"key": KEY.value, "next": f"{BASE}/offers/{OFFER}"},
        follow_redirects=False,
    )

    assert response.status_code == 303
    assert response.headers["location"] == f"{BASE}/offers/{OFFER}"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert f"path={BASE}/" in cookie
    assert KEY.value.lower() not in cookie
    assert client.get(f"{BASE}/offers/{OFFER}").status_code == 200


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "/v1/feeds/x/changes", "/\\evil"]
)
def test_logging_in_never_sends_the_operator_to_another_site(
    client: TestClient, target: str
) -> None:
    response = client.post(
        f"{BASE}/login", data={"key": KEY.value, "next": target}, follow_redirects=False
    )

    assert response.headers["location"] == f"{BASE}/"


def test_a_forged_cookie_or_one_another_process_issued_opens_nothing(client: TestClient) -> None:
    # Another dashboard process (the API before a restart) with the very same operator key.
    elsewhere = Sessions(KEY).issue(datetime.now(UTC))
    for token in ("1700000000.nonce.deadbeef", elsewhere, "x" * 5000, ""):
        client.cookies.set(SESSION_COOKIE, token)
        response = client.get(f"{BASE}/offers", follow_redirects=False)
        assert response.status_code == 303, token


def test_a_session_ends_after_twelve_hours(operator: TestClient, clocks: Clocks) -> None:
    clocks.advance(12 * 3600 - 60)
    assert operator.get(f"{BASE}/offers", follow_redirects=False).status_code == 200

    clocks.advance(120)
    assert operator.get(f"{BASE}/offers", follow_redirects=False).status_code == 303


def test_logging_out_ends_the_session(operator: TestClient) -> None:
    response = operator.post(f"{BASE}/logout", follow_redirects=False)

    assert response.status_code == 303
    assert operator.get(f"{BASE}/offers", follow_redirects=False).status_code == 303


def test_a_cookie_kept_after_logging_out_opens_nothing_any_more(operator: TestClient) -> None:
    kept = operator.cookies[SESSION_COOKIE]

    operator.post(f"{BASE}/logout", follow_redirects=False)
    operator.cookies.set(SESSION_COOKIE, kept)
    response = operator.get(f"{BASE}/offers", follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"].startswith(f"{BASE}/login?next=")


def test_logging_out_ends_only_that_session(client: TestClient) -> None:
    sessions = []
    for _ in range(2):
        client.post(f"{BASE}/login", data={"key": KEY.value}, follow_redirects=False)
        sessions.append(client.cookies[SESSION_COOKIE])
        client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, sessions[0])
    client.post(f"{BASE}/logout", follow_redirects=False)

    client.cookies.set(SESSION_COOKIE, sessions[1])
    assert client.get(f"{BASE}/offers", follow_redirects=False).status_code == 200


# ------------------------------------------------------------------ wrong keys, other sites


def test_twenty_wrong_keys_then_the_right_one_are_throttled_until_the_window_closes(
    client: TestClient, clocks: Clocks
) -> None:
    answers = [
        client.post(f"{BASE}/login", data={"key": f"wrong-key-number-{n:02d}-xxxxxx"})
        for n in range(20)
    ]
    right = client.post(f"{BASE}/login", data={"key": KEY.value}, follow_redirects=False)

    assert [a.status_code for a in answers] == [401] * LOGIN_FAILURES + [429] * (
        20 - LOGIN_FAILURES
    )
    assert right.status_code == 429
    assert SESSION_COOKIE not in right.headers.get("set-cookie", "")
    assert 1 <= int(right.headers["retry-after"]) <= 60
    assert "Too many wrong keys" in right.text
    assert client.get(f"{BASE}/offers", follow_redirects=False).status_code == 303

    clocks.advance(int(right.headers["retry-after"]))
    again = client.post(f"{BASE}/login", data={"key": KEY.value}, follow_redirects=False)
    assert again.status_code == 303
    assert client.get(f"{BASE}/offers", follow_redirects=False).status_code == 200


def test_a_wrong_key_close_to_the_right_one_is_answered_like_any_other(client: TestClient) -> None:
    close = client.post(f"{BASE}/login", data={"key": KEY.value[:-1] + "X"})
    far = client.post(f"{BASE}/login", data={"key": "z"})

    assert (close.status_code, far.status_code) == (401, 401)
    assert close.text == far.text


def test_a_right_key_forgets_the_clients_earlier_typos(client: TestClient) -> None:
    for _ in range(LOGIN_FAILURES - 1):
        client.post(f"{BASE}/login", data={"key": "a-typo-of-the-operator"})
    client.post(f"{BASE}/login", data={"key": KEY.value}, follow_redirects=False)
    client.cookies.clear()

    for _ in range(LOGIN_FAILURES - 1):
        assert client.post(f"{BASE}/login", data={"key": "another-typo"}).status_code == 401


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://testserver.evil.example"},
        {"Origin": "", "Referer": "https://evil.example/page"},
    ],
)
def test_a_login_posted_from_another_site_is_refused_and_opens_no_session(
    client: TestClient, headers: dict[str, str]
) -> None:
    request = dict(headers)
    if request.get("Origin") == "":
        del client.headers["Origin"]
        del request["Origin"]

    response = client.post(
        f"{BASE}/login", data={"key": KEY.value}, headers=request, follow_redirects=False
    )

    assert response.status_code == 403
    assert "Refused: this POST" in response.text
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    assert client.get(f"{BASE}/offers", follow_redirects=False).status_code == 303


def test_a_logout_posted_from_another_site_is_refused_and_the_session_goes_on(
    operator: TestClient,
) -> None:
    response = operator.post(
        f"{BASE}/logout", headers={"Origin": "https://evil.example"}, follow_redirects=False
    )

    assert response.status_code == 403
    assert "Origin 'https://evil.example'" in response.text
    assert operator.get(f"{BASE}/offers", follow_redirects=False).status_code == 200


def test_a_post_without_origin_is_accepted_only_with_the_dashboards_own_referer(
    client: TestClient,
) -> None:
    del client.headers["Origin"]

    bare = client.post(f"{BASE}/login", data={"key": KEY.value}, follow_redirects=False)
    referred = client.post(
        f"{BASE}/login",
        data={"key": KEY.value},
        headers={"Referer": f"{OWN_ORIGIN}{BASE}/login"},
        follow_redirects=False,
    )

    assert bare.status_code == 403
    assert "add 'Origin: http://testserver'" in bare.text
    assert referred.status_code == 303


def test_the_login_page_and_stylesheet_need_no_session_and_pages_forbid_framing_and_scripts(
    client: TestClient,
) -> None:
    login = client.get(f"{BASE}/login")
    css = client.get(f"{BASE}/static/dashboard.css")

    assert login.status_code == 200
    assert 'name="key"' in login.text
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    policy = login.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "script-src" not in policy
    assert "<script" not in login.text


def test_the_dashboard_is_not_part_of_the_feed_apis_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json", headers={"X-API-Key": KEY.value}).json()["paths"]

    assert not [path for path in paths if path.startswith(BASE)]


# ------------------------------------------------------------------ the offer page


def test_the_offer_page_shows_the_offers_history_as_the_store_holds_it(
    operator: TestClient, database: str
) -> None:
    with SqlStore(database) as store:
        versions = store.history(OFFER)

    page = operator.get(f"{BASE}/offers/{OFFER}")

    assert page.status_code == 200
    rows = table_rows(page.text, "history")
    assert (
        [row[0] for row in rows] == [str(v.version) for v in reversed(versions)] == ["3", "2", "1"]
    )
    assert [row[2] for row in rows] == [
        f"Comité Régional de Tourisme de Normandie {CRT}",
        f"Office de tourisme et des congrès de Caen la Mer {OT}",
        f"Calvados Attractivité (CDT du Calvados) {CDT}",
    ]
    assert [row[3] for row in rows] == [v.event_id for v in reversed(versions)]
    assert rows[1][5] == "prices"
    assert rows[0][5] == "media"


def test_the_offer_page_names_who_set_each_group_and_which_authority_allowed_it(
    operator: TestClient,
) -> None:
    rows = {
        row[0]: row for row in table_rows(operator.get(f"{BASE}/offers/{OFFER}").text, "provenance")
    }

    assert rows["names"][1] == f"Calvados Attractivité (CDT du Calvados) {CDT}"
    assert rows["names"][4] == (
        "Principle: the CDT Calvados Attractivité (CDT du Calvados) in its department, "
        f"department 14 principle:{CDT}"
    )
    assert rows["prices"][4] == (
        f"Contribution convention {OT_CONVENTION} of Office de tourisme et des congrès de Caen "
        f"la Mer (from 2020-01-01, no end date) convention:{OT_CONVENTION}"
    )
    assert rows["media"][4].startswith(
        f"Exception {PHOTO_EXCEPTION} of the consortium convention: Photothèque régionale"
    )
    assert rows["media"][4].endswith(f"exception:{PHOTO_EXCEPTION}")
    assert rows["contacts"][4] == (
        "Contribution convention cc-withdrawn-2019 (not in the registry now) "
        "convention:cc-withdrawn-2019"
    )
    assert rows["prices"][2] == "2026-05-02 09:00:00 UTC"


def test_the_offer_page_shows_the_current_public_fields_and_the_feeds_it_is_in(
    operator: TestClient,
) -> None:
    page = operator.get(f"{BASE}/offers/{OFFER}").text

    assert "Chambre double: 80.00 to 120.00 EUR" in page
    assert "https://media.example/port.jpg" in page
    presence = [row[0] for row in table_rows(page, "presence")]
    assert presence == [
        "normandie-tourisme.fr (site du CRT) site-crt-normandie",
        "tourisme.fr tourisme-fr",
    ]


def test_an_unknown_offer_is_a_404_page(operator: TestClient) -> None:
    response = operator.get(f"{BASE}/offers/HOTNOR0149999999")

    assert response.status_code == 404
    assert "HOTNOR0149999999" in response.text


def test_the_offer_list_pages_through_the_offers_by_id(operator: TestClient) -> None:
    first = operator.get(f"{BASE}/offers").text
    ids = [row[0] for row in table_rows(first, "offers")]

    assert len(ids) == 50
    assert ids == sorted(ids)
    assert ids[0] == OFFER
    second = operator.get(f"{BASE}/offers", params={"after": ids[-1]}).text
    rest = [row[0] for row in table_rows(second, "offers")]
    assert rest == sorted(rest)
    assert rest[0] > ids[-1]
    assert len(ids) + len(rest) == 61


def test_looking_up_an_offer_id_opens_its_page_and_a_prefix_lists_the_matches(
    operator: TestClient,
) -> None:
    exact = operator.get(f"{BASE}/offers", params={"q": OFFER}, follow_redirects=False)
    prefix = operator.get(f"{BASE}/offers", params={"q": "RES05"}).text
    nothing = operator.get(f"{BASE}/offers", params={"q": "ZZZ"}).text

    assert exact.status_code == 303
    assert exact.headers["location"] == f"{BASE}/offers/{OFFER}"
    assert [row[0] for row in table_rows(prefix, "offers")] == [f"RES05{n}" for n in range(10)]
    assert table_rows(nothing, "offers") == [["No offer whose id starts with ZZZ."]]


# ------------------------------------------------------------------ rejections, diffusers


def test_a_contributors_rejections_are_listed_newest_first_and_only_theirs(
    operator: TestClient,
) -> None:
    rows = table_rows(
        operator.get(f"{BASE}/rejections", params={"contributor": "ot-bayeux"}).text, "rejections"
    )
    every = table_rows(operator.get(f"{BASE}/rejections").text, "rejections")

    assert [row[1] for row in rows] == ["ot-bayeux"] * 3
    assert [row[0] for row in rows] == sorted((row[0] for row in rows), reverse=True)
    assert rows[0][5] == "ot-bayeux:2: no convention covers the prices group; ask the CDT"
    assert rows[0][4] == "prices"
    assert rows[0][3] == "convention.field_group"
    assert [row[1] for row in every] == ["cdt-eure", "ot-bayeux", "ot-bayeux", "ot-bayeux"]


def test_the_diffusers_page_shows_what_each_receives_and_a_parked_webhook(
    operator: TestClient,
) -> None:
    rows = {
        row[0].split()[-1]: row
        for row in table_rows(operator.get(f"{BASE}/diffusers").text, "diffusers")
    }

    assert set(rows) == set(load_normandy_registry().diffusers)
    assert rows["tourisme-fr"][3] == "2"  # its feed's head
    assert rows["tourisme-fr"][4] == "parked, 1 failures"
    assert rows["tourisme-fr"][5] == "1"  # one entry not acknowledged
    assert rows["site-cdt-calvados"][2].endswith("departments 14; languages fr, en, de, nl, it, es")
    assert rows["datatourisme"][4] == "none"


def test_a_diffusers_page_counts_the_offers_in_its_feed_and_shows_its_conventions(
    operator: TestClient,
) -> None:
    page = operator.get(f"{BASE}/diffusers/tourisme-fr")

    assert page.status_code == 200
    assert '<strong id="in-feed">2</strong>' in page.text
    # Newest first, by event time (OFFER's v3 is the later).
    assert [row[2] for row in table_rows(page.text, "recent")] == [OFFER, "RES001"]
    assert "HTTP 503 from the receiver" in page.text
    assert "sitn webhook redrive --diffuser tourisme-fr" in page.text
    assert "s3cret-hook" not in page.text
    assert table_rows(page.text, "conventions")


def test_a_receivers_hostile_answer_is_shown_as_escaped_text_on_the_diffusers_page(
    operator: TestClient, database: str
) -> None:
    hostile = (
        "HTTP 500: \x1b[31m<script>alert(1)</script>\x1b[0m\x00<img src=x onerror=y>" + "A" * 10_240
    )
    with SqlWebhookStore(database) as hooks:
        hooks.record_failure("tourisme-fr", hostile, T0, park_after=1)

    page = operator.get(f"{BASE}/diffusers/tourisme-fr")

    assert page.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;\\x00&lt;img src=x onerror=y&gt;AAA" in page.text
    assert "<script" not in page.text
    assert "<img" not in page.text
    assert "\x1b" not in page.text
    assert "A" * 500 not in page.text


def test_an_unknown_diffuser_is_a_404_page(operator: TestClient) -> None:
    assert operator.get(f"{BASE}/diffusers/no-such-site").status_code == 404


def test_the_overview_shows_the_stores_figures_and_says_the_broker_did_not_answer(
    operator: TestClient,
) -> None:
    page = operator.get(f"{BASE}/")

    assert page.status_code == 200
    assert 'role="alert"' in page.text
    assert "did not answer" in page.text
    assert '<p class="figure">61</p>' in page.text  # offers in the store
    assert "the broker did not answer" in page.text  # throughput and dead letters unknown


# ------------------------------------------------------------------ privacy


def test_no_page_shows_a_private_field_or_customer_data(operator: TestClient) -> None:
    for page in (*PAGES, "/rejections?contributor=ot-caen-la-mer", "/diffusers/site-crt-normandie"):
        text = operator.get(BASE + page).text
        for secret in (CANARY, PRIVATE_PHONE, PRIVATE_CONTRACT):
            assert secret not in text, f"{secret} shown on {page}"


def test_field_rendering_covers_every_public_group_and_drops_the_private_ones() -> None:
    assert set(_RENDERERS) == set(FieldGroup) - set(PRIVATE_GROUPS)
    fields = change(OFFER, 1, private=private_block(CANARY)).public
    with_private = replace(fields, private=private_block(CANARY))

    shown = public_lines(with_private)

    assert [block.group for block in shown] == list(fields.groups())
    assert CANARY not in repr(shown)


# ------------------------------------------------------------------ the operator key


def test_an_operator_key_is_made_once_under_sitn_home_readable_by_its_owner_only(
    tmp_path: Path,
) -> None:
    settings = Settings.from_env({"SITN_HOME": str(tmp_path)})

    first, again = load_operator_key(settings), load_operator_key(settings)

    assert first == again
    assert len(first.value) >= 32
    assert first.origin == str(tmp_path / "operator-key")
    assert stat.S_IMODE(os.stat(tmp_path / "operator-key").st_mode) == 0o600


def test_the_operator_key_of_the_environment_wins_and_is_never_in_a_repr(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"SITN_HOME": str(tmp_path), OPERATOR_KEY_VARIABLE: "a-key-chosen-by-the-operators"}
    )

    key = load_operator_key(settings)

    assert key == OperatorKey("a-key-chosen-by-the-operators", OPERATOR_KEY_VARIABLE)
    assert "a-key-chosen" not in repr(settings)
    assert "a-key-chosen" not in repr(key)
    assert not (tmp_path / "operator-key").exists()


def test_a_short_operator_key_is_refused_naming_where_it_came_from(tmp_path: Path) -> None:
    settings = Settings.from_env({"SITN_HOME": str(tmp_path), OPERATOR_KEY_VARIABLE: "secret"})

    with pytest.raises(
        OperatorKeyError, match="SITN_OPERATOR_KEY has 6 characters; use at least 16"
    ):
        load_operator_key(settings)


def test_visiting_every_page_changes_nothing_in_the_stores(
    operator: TestClient, database: str
) -> None:
    def state() -> tuple[object, ...]:
        with (
            SqlStore(database) as store,
            SqlFeedStore(database) as feeds,
            SqlWebhookStore(database) as hooks,
        ):
            return (
                store.digest(),
                store.positions(),
                store.rejections(limit=1000),
                feeds.head("tourisme-fr"),
                hooks.webhooks(),
            )

    before = state()
    for page in PAGES:
        assert operator.get(BASE + page).status_code == 200, page

    assert state() == before
