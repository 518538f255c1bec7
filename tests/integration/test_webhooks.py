"""Webhooks: the signature, the webhook store, and deliveries to a real local HTTP server.

The signature is checked the way a receiver would, including with the HMAC computed by hand.
The store runs on a fresh SQLite file per test and on the session's PostgreSQL database (tests
marked `postgres`). The dispatcher POSTs to an aiohttp server on 127.0.0.1 in this process, fed
by hand-made feed entries; its retry waits are made small (hundredths of a second) so that the
retry, parking and redrive paths run in well under a second. Waiting for something to happen is
bounded by a generous guard only so that a broken dispatcher fails instead of hanging.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect as sql_inspect
from sqlalchemy import text

from consumers.feeds import FeedEntry, FeedStore, InMemoryFeedStore, SqlFeedStore
from consumers.feeds.cursor import START, FeedCursor
from consumers.webhooks import (
    Destinations,
    RetryPolicy,
    SqlWebhookStore,
    WebhookDispatcher,
    WebhookError,
    notification_body,
    sign,
    verify,
)
from consumers.webhooks.destinations import Address
from consumers.webhooks.dispatcher import notification
from consumers.webhooks.port import Webhook
from consumers.webhooks.replies import REPLY_EXCERPT_CHARS
from hub.settings import parse_webhook_allow
from hub.store import downgrade, upgrade
from hub.store.schema import TABLES
from hub.topics import offer_partition
from tests.support.diffusion_changes import (
    DIFFUSER,
    OTHER_DIFFUSER,
    cursor_at,
    offer_ids,
    removal,
    upsert,
)
from tests.support.regional_changes import T0
from tests.support.webhook_receiver import (
    GUARD_SECONDS,
    Receiver,
    StartReceiver,
    dispatching,
    eventually,
    local_receivers,
)

SECRET = "webhook-secret-of-tourisme-fr"
OTHER_SECRET = "webhook-secret-of-ideoguide"
NOW = 1_780_000_000  # a receiver's clock, Unix seconds

# Kept in an entry's view (what the diffuser may read through the API): never in a notification.
CANARY = "CANARY-webhook-3c9e-never-in-a-notification"


FAST = RetryPolicy(base_seconds=0.01, cap_seconds=0.05, park_after=4, timeout_seconds=10.0)


# ---------------------------------------------------------------- signing


def test_a_notification_signed_with_the_secret_verifies() -> None:
    body = b'{"seq":1}'

    signature = sign(SECRET, NOW, body)

    assert verify(SECRET, str(NOW), body, signature, now=NOW)
    assert verify(SECRET, str(NOW), body, signature, now=NOW + 300)


def test_the_signature_is_hmac_sha256_over_the_timestamp_a_dot_and_the_body() -> None:
    body = json.dumps({"offer_id": "HOT-1", "name": "Hôtel"}, ensure_ascii=False).encode()
    by_hand = hmac.new(SECRET.encode(), f"{NOW}.".encode() + body, hashlib.sha256).hexdigest()

    assert sign(SECRET, NOW, body) == f"sha256={by_hand}"


def test_a_tampered_body_does_not_verify() -> None:
    body = b'{"offer_id":"HOT-1","version":3}'
    signature = sign(SECRET, NOW, body)

    assert not verify(SECRET, str(NOW), body.replace(b"3", b"4"), signature, now=NOW)
    assert not verify(SECRET, str(NOW + 1), body, signature, now=NOW)


def test_a_signature_made_with_another_secret_does_not_verify() -> None:
    body = b'{"seq":1}'

    assert not verify(SECRET, str(NOW), body, sign(OTHER_SECRET, NOW, body), now=NOW)
    assert not verify(SECRET, str(NOW), body, sign(SECRET, NOW, body).upper(), now=NOW)
    assert not verify(SECRET, str(NOW), body, "", now=NOW)


@pytest.mark.parametrize("drift", [301, -301, 86_400])
def test_a_stale_or_future_timestamp_does_not_verify(drift: int) -> None:
    body = b'{"seq":1}'
    sent = NOW - drift

    assert not verify(SECRET, str(sent), body, sign(SECRET, sent, body), now=NOW)
    assert verify(SECRET, str(sent), body, sign(SECRET, sent, body), now=NOW, tolerance=86_400)


@pytest.mark.parametrize("timestamp", ["", "soon", "-5", "1.5", " 1780000000", "١٧٨٠٠٠٠٠٠٠"])
def test_a_malformed_timestamp_does_not_verify(timestamp: str) -> None:
    body = b'{"seq":1}'
    # Signed over the very text of the header, so only its form can make it fail.
    mac = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)

    assert not verify(SECRET, timestamp, body, f"sha256={mac.hexdigest()}", now=NOW)


# ---------------------------------------------------------------- the webhook store


@pytest.fixture(scope="session")
def migrated_postgres_url(postgres_url: str) -> str:
    upgrade(postgres_url)
    return postgres_url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    return url


@pytest.fixture
def postgres_hooks(migrated_postgres_url: str) -> Iterator[SqlWebhookStore]:
    hooks = SqlWebhookStore(migrated_postgres_url)
    names = ", ".join(table.name for table in TABLES)
    with hooks.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE TABLE {names}"))
    yield hooks
    hooks.close()


@pytest.fixture
def sqlite_hooks(sqlite_url: str) -> Iterator[SqlWebhookStore]:
    with SqlWebhookStore(sqlite_url) as hooks:
        yield hooks


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_hooks(request: pytest.FixtureRequest) -> SqlWebhookStore:
    fixture = "sqlite_hooks" if request.param == "sqlite" else "postgres_hooks"
    hooks: SqlWebhookStore = request.getfixturevalue(fixture)
    return hooks


def test_a_webhook_reads_back_active_from_its_cursor_and_hides_its_secret(
    any_hooks: SqlWebhookStore,
) -> None:
    made = any_hooks.set_webhook(
        DIFFUSER, "https://recv.example/sitn?x=1", SECRET, FeedCursor.at(7)
    )

    read = any_hooks.webhook(DIFFUSER)
    assert read == made
    assert read is not None
    assert (read.url, read.secret, read.delivered, read.state, read.failures) == (
        "https://recv.example/sitn?x=1",
        SECRET,
        FeedCursor.at(7),
        "active",
        0,
    )
    assert (read.last_error, read.last_attempt_at) == (None, None)
    assert SECRET not in repr(read)
    assert any_hooks.webhook(OTHER_DIFFUSER) is None


def test_webhooks_are_listed_by_diffuser(any_hooks: SqlWebhookStore) -> None:
    any_hooks.set_webhook(DIFFUSER, "https://a.example/", SECRET, FeedCursor.at(0))
    any_hooks.set_webhook(
        OTHER_DIFFUSER, "http://b.example:8080/hook", OTHER_SECRET, FeedCursor.at(0)
    )

    assert [hook.diffuser_id for hook in any_hooks.webhooks()] == sorted([DIFFUSER, OTHER_DIFFUSER])


def test_a_delivery_moves_the_cursor_forward_only_and_clears_the_failures(
    any_hooks: SqlWebhookStore,
) -> None:
    any_hooks.set_webhook(DIFFUSER, "https://a.example/", SECRET, FeedCursor.at(0))
    any_hooks.record_failure(DIFFUSER, "HTTP 503", T0, park_after=8)

    after_three = any_hooks.record_delivery(DIFFUSER, FeedCursor.at(3), T0 + timedelta(seconds=1))
    after_stale = any_hooks.record_delivery(DIFFUSER, FeedCursor.at(2), T0 + timedelta(seconds=2))

    assert after_three is not None
    assert (after_three.delivered, after_three.failures, after_three.last_error) == (
        FeedCursor.at(3),
        0,
        None,
    )
    assert after_stale is not None
    assert after_stale.delivered == FeedCursor.at(3)
    assert after_stale.last_attempt_at == T0 + timedelta(seconds=2)
    assert any_hooks.record_delivery(OTHER_DIFFUSER, FeedCursor.at(1), T0) is None


def test_a_webhook_is_parked_by_the_failure_that_reaches_the_limit_and_redrive_keeps_its_cursor(
    any_hooks: SqlWebhookStore,
) -> None:
    any_hooks.set_webhook(DIFFUSER, "https://a.example/", SECRET, FeedCursor.at(5))

    states = [
        any_hooks.record_failure(DIFFUSER, f"attempt {n}: HTTP 500", T0, park_after=3)
        for n in range(1, 4)
    ]

    assert [(h.failures, h.state) for h in states if h is not None] == [
        (1, "active"),
        (2, "active"),
        (3, "parked"),
    ]
    parked = any_hooks.webhook(DIFFUSER)
    assert parked is not None
    assert (parked.delivered, parked.last_error) == (FeedCursor.at(5), "attempt 3: HTTP 500")

    redriven = any_hooks.redrive(DIFFUSER)

    assert redriven is not None
    assert (redriven.state, redriven.failures, redriven.delivered) == (
        "active",
        0,
        FeedCursor.at(5),
    )
    assert any_hooks.redrive(OTHER_DIFFUSER) is None
    assert any_hooks.record_failure(OTHER_DIFFUSER, "x", T0, park_after=3) is None


def test_setting_a_webhook_again_replaces_it_and_makes_it_active(
    any_hooks: SqlWebhookStore,
) -> None:
    any_hooks.set_webhook(DIFFUSER, "https://old.example/", SECRET, FeedCursor.at(4))
    any_hooks.record_failure(DIFFUSER, "HTTP 500", T0, park_after=1)

    again = any_hooks.set_webhook(DIFFUSER, "https://new.example/", OTHER_SECRET, FeedCursor.at(4))

    assert (again.url, again.secret, again.state, again.failures, again.last_error) == (
        "https://new.example/",
        OTHER_SECRET,
        "active",
        0,
        None,
    )
    assert len(any_hooks.webhooks()) == 1


def test_a_removed_webhook_is_gone(any_hooks: SqlWebhookStore) -> None:
    any_hooks.set_webhook(DIFFUSER, "https://a.example/", SECRET, FeedCursor.at(0))

    assert any_hooks.remove(DIFFUSER) is True
    assert any_hooks.remove(DIFFUSER) is False
    assert any_hooks.webhook(DIFFUSER) is None


@pytest.mark.parametrize(
    ("url", "secret", "message"),
    [
        ("ftp://recv.example/", SECRET, "the scheme must be http or https"),
        ("recv.example/hook", SECRET, "the scheme must be http or https"),
        ("https:///hook", SECRET, "names no host"),
        ("https://recv.example:99999/", SECRET, "is malformed"),
        ("https://user:pw@recv.example/", SECRET, "holds credentials"),
        ("https://recv.example/a b", SECRET, "holds a fragment or a space"),
        ("https://recv.example/", "", "needs a signing secret"),
    ],
)
def test_a_webhook_the_dispatcher_could_not_use_is_refused(
    sqlite_hooks: SqlWebhookStore, url: str, secret: str, message: str
) -> None:
    with pytest.raises(WebhookError, match=message):
        sqlite_hooks.set_webhook(DIFFUSER, url, secret, START)

    assert sqlite_hooks.webhooks() == []


def test_the_webhook_table_goes_down_with_its_migration(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cycle.db'}"
    upgrade(url)

    downgrade(url, "0002")
    with SqlWebhookStore(url) as hooks:
        names = set(sql_inspect(hooks.engine).get_table_names())
    assert "webhooks" not in names
    assert "feed_entries" in names

    upgrade(url)
    with SqlWebhookStore(url) as hooks:
        assert hooks.webhooks() == []


# ---------------------------------------------------------------- retry policy and notification


def test_the_backoff_doubles_from_its_base_up_to_its_cap() -> None:
    policy = RetryPolicy(base_seconds=0.5, cap_seconds=3.0)

    assert [policy.delay(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]
    assert policy.delay(10_000) == 3.0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"base_seconds": 0.0}, "base_seconds"),
        ({"cap_seconds": -1.0}, "cap_seconds"),
        ({"timeout_seconds": 0.0}, "timeout_seconds"),
        ({"park_after": 0}, "park_after"),
    ],
)
def test_a_retry_policy_that_cannot_work_is_refused(
    options: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**options)  # type: ignore[arg-type]


def test_a_notification_says_where_to_fetch_the_offer_and_never_carries_its_view() -> None:
    entry = FeedEntry(12, upsert("HOT 1/b", 3, name=CANARY))

    body = notification_body(entry)

    assert json.loads(body) == {
        "diffuser": DIFFUSER,
        "partition": offer_partition("HOT 1/b"),
        "seq": 12,
        "offer_id": "HOT 1/b",
        "version": 3,
        "kind": "upsert",
        "reason": "changed",
        "occurred_at": (T0 + timedelta(minutes=3)).isoformat().replace("+00:00", "Z"),
        "feed_url": f"/v1/feeds/{DIFFUSER}/offers/HOT%201%2Fb",
    }
    assert CANARY.encode() not in body
    assert notification(FeedEntry(13, removal("HOT-1", 4)))["kind"] == "removal"


# ---------------------------------------------------------------- deliveries to a real server


@pytest.fixture
async def receivers() -> AsyncIterator[StartReceiver]:
    started: list[Receiver] = []

    async def start(
        secret: str, answer: Callable[[int], int] = lambda _: 200, reply: bytes | None = None
    ) -> Receiver:
        receiver = Receiver(secret, answer, reply)
        await receiver.start()
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        if receiver.hold is not None:
            receiver.hold.set()
        await receiver.stop()


def dispatcher_of(
    hooks: SqlWebhookStore,
    feeds: FeedStore,
    policy: RetryPolicy = FAST,
    destinations: Destinations | None = None,
) -> WebhookDispatcher:
    # The receivers listen on the loopback, which the hub refuses unless allow-listed.
    return WebhookDispatcher(
        hooks,
        feeds,
        policy=policy,
        poll_seconds=0.02,
        batch=3,
        destinations=destinations or local_receivers(),
    )


# The test feeds' offers share one partition, so their entries are numbered 1, 2, 3, ... in order.
FEED_PARTITION = 5
HOTEL, RESTAURANT, VISIT = (offer_ids(FEED_PARTITION, kind, 1)[0] for kind in ("HOT", "RES", "LOI"))


def fed(seq: int) -> FeedCursor:
    """The cursor past the test feed's first `seq` entries."""
    return cursor_at(**{f"p{FEED_PARTITION}": seq})


def a_feed_with_interleaved_offers() -> list[tuple[str, int, str]]:
    return [
        (HOTEL, 1, "upsert"),
        (RESTAURANT, 1, "upsert"),
        (HOTEL, 2, "upsert"),
        (RESTAURANT, 2, "removal"),
        (HOTEL, 3, "upsert"),
        (VISIT, 1, "upsert"),
        (HOTEL, 4, "removal"),
    ]


def append(feeds: FeedStore, rows: list[tuple[str, int, str]], diffuser: str = DIFFUSER) -> None:
    feeds.append(
        [
            upsert(offer, version, diffuser=diffuser)
            if kind == "upsert"
            else removal(offer, version, diffuser=diffuser)
            for offer, version, kind in rows
        ],
        {},
    )


@pytest.fixture(params=["memory", "sqlite"])
def feeds(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[FeedStore]:
    if request.param == "memory":
        yield InMemoryFeedStore()
        return
    with SqlFeedStore(sqlite_url) as store:
        yield store


def cursor_is(
    hooks: SqlWebhookStore, diffuser: str, state: str, seq: int
) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        hook = await asyncio.to_thread(hooks.webhook, diffuser)
        return hook is not None and (hook.state, hook.delivered) == (state, fed(seq))

    return check


async def stored(hooks: SqlWebhookStore, diffuser: str) -> Webhook:
    hook = await asyncio.to_thread(hooks.webhook, diffuser)
    assert hook is not None
    return hook


async def test_every_notification_arrives_signed_and_in_feed_order(
    receivers: StartReceiver, sqlite_hooks: SqlWebhookStore, feeds: FeedStore
) -> None:
    receiver = await receivers(SECRET)
    rows = a_feed_with_interleaved_offers()
    append(feeds, rows[:4])
    sqlite_hooks.set_webhook(DIFFUSER, receiver.url, SECRET, fed(0))

    async with dispatching(dispatcher_of(sqlite_hooks, feeds)):
        await eventually(lambda: len(receiver.requests) == 4, "the first four notifications")
        append(feeds, rows[4:])  # while the dispatcher runs: it finds them by polling
        await eventually(
            cursor_is(sqlite_hooks, DIFFUSER, "active", len(rows)), "the cursor at the head"
        )

    assert receiver.acknowledged == list(range(1, len(rows) + 1))
    assert all(r.signed_by_secret for r in receiver.requests)
    assert [r.delivery for r in receiver.requests] == [
        f"{DIFFUSER}:{FEED_PARTITION}:{seq}" for seq in range(1, len(rows) + 1)
    ]
    bodies = [json.loads(r.body) for r in receiver.requests]
    assert [(b["offer_id"], b["version"], b["kind"]) for b in bodies] == rows
    assert {b["diffuser"] for b in bodies} == {DIFFUSER}


async def test_deliveries_start_after_the_webhooks_cursor(
    receivers: StartReceiver, sqlite_hooks: SqlWebhookStore
) -> None:
    receiver = await receivers(SECRET)
    feeds = InMemoryFeedStore()
    append(feeds, a_feed_with_interleaved_offers())
    sqlite_hooks.set_webhook(DIFFUSER, receiver.url, SECRET, fed(5))

    async with dispatching(dispatcher_of(sqlite_hooks, feeds)):
        await eventually(cursor_is(sqlite_hooks, DIFFUSER, "active", 7), "the cursor at 7")

    assert receiver.acknowledged == [6, 7]


async def test_a_receiver_that_fails_three_times_then_recovers_gets_everything_in_order_once(
    receivers: StartReceiver, sqlite_hooks: SqlWebhookStore
) -> None:
    receiver = await receivers(SECRET, lambda n: 503 if n <= 3 else 200)
    feeds = InMemoryFeedStore()
    rows = a_feed_with_interleaved_offers()
    append(feeds, rows)
    sqlite_hooks.set_webhook(DIFFUSER, receiver.url, SECRET, fed(0))
    policy = RetryPolicy(base_seconds=0.05, cap_seconds=0.2, timeout_seconds=10.0)
    dispatcher = dispatcher_of(sqlite_hooks, feeds, policy)

    async with dispatching(dispatcher):
        await eventually(
            cursor_is(sqlite_hooks, DIFFUSER, "active", len(rows)), "the cursor at the head"
        )

    everything = list(range(1, len(rows) + 1))
    assert [r.seq for r in receiver.requests] == [1, 1, 1, *everything]
    assert [r.status for r in receiver.requests[:4]] == [503, 503, 503, 200]
    assert receiver.acknowledged == everything
    assert all(r.signed_by_secret for r in receiver.requests)
    assert (dispatcher.tally.failed, dispatcher.tally.delivered) == (3, len(rows))
    hook = await stored(sqlite_hooks, DIFFUSER)
    assert (hook.failures, hook.last_error) == (0, None)


async def test_a_receiver_that_always_fails_is_parked_then_redriven_without_loss_or_reordering(
    receivers: StartReceiver, sqlite_hooks: SqlWebhookStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="sitn.webhooks")
    healthy = False
    receiver = await receivers(SECRET, lambda _: 200 if healthy else 500)
    feeds = InMemoryFeedStore()
    rows = a_feed_with_interleaved_offers()
    append(feeds, rows[:3])
    sqlite_hooks.set_webhook(DIFFUSER, receiver.url, SECRET, fed(0))
    dispatcher = dispatcher_of(sqlite_hooks, feeds)

    async with dispatching(dispatcher):
        await eventually(cursor_is(sqlite_hooks, DIFFUSER, "parked", 0), "the webhook parked")
        parked = await stored(sqlite_hooks, DIFFUSER)
        assert parked.failures == FAST.park_after
        assert (
            parked.last_error
            == f"delivery {DIFFUSER}:{FEED_PARTITION}:1: HTTP 500 Internal Server Error: "
            + ("answer 500")
        )
        assert parked.last_attempt_at is not None
        assert [r.delivery for r in receiver.requests] == [
            f"{DIFFUSER}:{FEED_PARTITION}:1"
        ] * FAST.park_after

        # Parked: skipped while the dispatcher goes over the webhooks again and again.
        rounds = dispatcher.tally.rounds
        await eventually(lambda: dispatcher.tally.rounds >= rounds + 5, "five more rounds")
        assert len(receiver.requests) == FAST.park_after

        healthy = True
        append(feeds, rows[3:])
        await asyncio.to_thread(sqlite_hooks.redrive, DIFFUSER)
        await eventually(
            cursor_is(sqlite_hooks, DIFFUSER, "active", len(rows)), "the cursor at the head"
        )

    assert receiver.acknowledged == list(range(1, len(rows) + 1))
    assert all(r.signed_by_secret for r in receiver.requests)
    assert dispatcher.tally.parked == 1
    assert "sitn webhook redrive --diffuser tourisme-fr" in caplog.text
    assert SECRET not in caplog.text


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (302, "HTTP 302 Found: answer 302"),  # redirects are not followed
        (404, "HTTP 404 Not Found: answer 404"),
        (429, "HTTP 429 Too Many Requests: answer 429"),
    ],
)
async def test_any_answer_but_a_2xx_is_a_failure_recorded_with_the_delivery(
    receivers: StartReceiver, sqlite_hooks: SqlWebhookStore, status: int, error: str
) -> None:
    receiver = await receivers(SECRET, lambda _: status)
    feeds = InMemoryFeedStore()
    append(feeds, a_feed_with_interleaved_offers())
    sqlite_hooks.set_webhook(DIFFUSER, receiver.url, SECRET, fed(0))
    policy = RetryPolicy(base_seconds=0.01, park_after=1)

    async with dispatching(dispatcher_of(sqlite_hooks, feeds, policy)):
        await eventually(cursor_is(sqlite_hooks, DIFFUSER, "parked", 0), "the webhook parked")

    hook = await stored(sqlite_hooks, DIFFUSER)
    assert hook.last_error is not None
    assert hook.last_error.startswith(f"delivery {DIFFUSER}:{FEED_PARTITION}:1: {error}")


HOSTILE_REPLY = (
    b"\x1b[2J\x1b[1;31mPWNED\x1b[0m\x1b]0;owned\x07 nul\x00 <b onmouseover=x>bold</b> "
    + b"A" * 10_240
)


async def test_a_hostile_answer_leaves_one_short_clean_line_in_the_last_error(
    receivers: StartReceiver, sqlite_hooks: SqlWebhookStore
) -> None:
    receiver = await receivers(SECRET, lambda _: 500, HOSTILE_REPLY)
    feeds = InMemoryFeedStore()
    append(feeds, a_feed_with_interleaved_offers())
    sqlite_hooks.set_webhook(DIFFUSER, receiver.url, SECRET, fed(0))
    policy = RetryPolicy(base_seconds=0.01, park_after=1)

    async with dispatching(dispatcher_of(sqlite_hooks, feeds, policy)):
        await eventually(cursor_is(sqlite_hooks, DIFFUSER, "parked", 0), "the webhook parked")

    error = (await stored(sqlite_hooks, DIFFUSER)).last_error
    assert error is not None
    prefix = f"delivery {DIFFUSER}:{FEED_PARTITION}:1: HTTP 500 Internal Server Error: "
    assert error.startswith(prefix)
    kept = error.removeprefix(prefix)
    assert kept.startswith("PWNED nul\\x00 <b onmouseover=x>bold</b> AAAA")
    assert kept.endswith("A…")
    assert len(kept) == REPLY_EXCERPT_CHARS
    assert error.isprintable()
    assert "owned" not in error


async def test_a_receiver_that_does_not_answer_in_time_or_at_all_is_a_failure(
    receivers: StartReceiver, sqlite_hooks: SqlWebhookStore
) -> None:
    silent = await receivers(SECRET)
    silent.hold = asyncio.Event()  # never set while the dispatcher runs
    feeds = InMemoryFeedStore()
    append(feeds, a_feed_with_interleaved_offers())
    append(feeds, a_feed_with_interleaved_offers(), diffuser=OTHER_DIFFUSER)
    sqlite_hooks.set_webhook(DIFFUSER, silent.url, SECRET, fed(0))
    closed = await receivers(OTHER_SECRET)
    sqlite_hooks.set_webhook(OTHER_DIFFUSER, closed.url, OTHER_SECRET, fed(0))
    await closed.stop()  # nothing listens there any more
    policy = RetryPolicy(base_seconds=0.01, park_after=1, timeout_seconds=0.2)

    async with dispatching(dispatcher_of(sqlite_hooks, feeds, policy)):
        await eventually(cursor_is(sqlite_hooks, DIFFUSER, "parked", 0), "the silent one parked")
        await eventually(
            cursor_is(sqlite_hooks, OTHER_DIFFUSER, "parked", 0), "the closed one parked"
        )

    timed_out = await stored(sqlite_hooks, DIFFUSER)
    refused = await stored(sqlite_hooks, OTHER_DIFFUSER)
    assert timed_out.last_error == f"delivery {DIFFUSER}:{FEED_PARTITION}:1: no answer within 0.2 s"
    assert refused.last_error is not None
    assert refused.last_error.startswith(
        f"delivery {OTHER_DIFFUSER}:{FEED_PARTITION}:1: ClientConnectorError"
    )


async def test_a_held_receiver_does_not_delay_another_diffusers_deliveries(
    receivers: StartReceiver, sqlite_hooks: SqlWebhookStore
) -> None:
    slow = await receivers(SECRET)
    slow.hold = asyncio.Event()
    fast = await receivers(OTHER_SECRET)
    feeds = InMemoryFeedStore()
    rows = a_feed_with_interleaved_offers()
    append(feeds, rows)
    append(feeds, rows, diffuser=OTHER_DIFFUSER)
    sqlite_hooks.set_webhook(DIFFUSER, slow.url, SECRET, fed(0))
    sqlite_hooks.set_webhook(OTHER_DIFFUSER, fast.url, OTHER_SECRET, fed(0))
    policy = RetryPolicy(timeout_seconds=GUARD_SECONDS * 2)

    async with dispatching(dispatcher_of(sqlite_hooks, feeds, policy)):
        await eventually(lambda: len(fast.acknowledged) == len(rows), "the other's deliveries")
        # All of them arrived while the first notification to the slow receiver was held.
        assert (slow.arrived, slow.requests) == (1, [])

        slow.hold.set()
        await eventually(lambda: len(slow.acknowledged) == len(rows), "the slow one's deliveries")

    everything = list(range(1, len(rows) + 1))
    assert (slow.acknowledged, fast.acknowledged) == (everything, everything)
    assert all(r.signed_by_secret for r in [*slow.requests, *fast.requests])


async def test_a_private_canary_in_a_view_never_appears_in_a_notification(
    receivers: StartReceiver, sqlite_hooks: SqlWebhookStore
) -> None:
    receiver = await receivers(SECRET)
    feeds = InMemoryFeedStore()
    feeds.append(
        [
            upsert("HOT-1", 1, name=CANARY),
            upsert("HOT-1", 2, name=f"{CANARY} (bis)"),
            removal("HOT-1", 3),
        ],
        {},
    )
    view = feeds.changes(DIFFUSER)[0].change.view
    assert view is not None
    assert CANARY in [name.text for name in view.names or ()]  # the canary is there to leak
    sqlite_hooks.set_webhook(DIFFUSER, receiver.url, SECRET, fed(0))

    async with dispatching(dispatcher_of(sqlite_hooks, feeds)):
        await eventually(cursor_is(sqlite_hooks, DIFFUSER, "active", 3), "every notification")

    assert receiver.acknowledged == [1, 2, 3]
    for request in receiver.requests:
        assert CANARY.encode() not in request.body
        assert CANARY not in request.timestamp + request.signature + request.delivery
        assert set(json.loads(request.body)) == {
            "diffuser",
            "partition",
            "seq",
            "offer_id",
            "version",
            "kind",
            "reason",
            "occurred_at",
            "feed_url",
        }


async def test_a_new_url_and_secret_take_effect_and_a_removed_webhook_stops(
    receivers: StartReceiver, sqlite_hooks: SqlWebhookStore
) -> None:
    first = await receivers(SECRET)
    second = await receivers(OTHER_SECRET)
    feeds = InMemoryFeedStore()
    rows = a_feed_with_interleaved_offers()
    append(feeds, rows[:2])
    sqlite_hooks.set_webhook(DIFFUSER, first.url, SECRET, fed(0))
    dispatcher = dispatcher_of(sqlite_hooks, feeds)

    async with dispatching(dispatcher):
        await eventually(cursor_is(sqlite_hooks, DIFFUSER, "active", 2), "the first two")
        await asyncio.to_thread(
            sqlite_hooks.set_webhook, DIFFUSER, second.url, OTHER_SECRET, fed(2)
        )
        # A round that read the webhooks before the change may still be going: entries written
        # only after two more rounds are sure to meet the new URL and secret.
        rounds = dispatcher.tally.rounds
        await eventually(lambda: dispatcher.tally.rounds >= rounds + 2, "two more rounds")
        append(feeds, rows[2:5])
        await eventually(cursor_is(sqlite_hooks, DIFFUSER, "active", 5), "the next three")

        # A notification already on its way when the webhook goes may still be sent once;
        # entries written after the dispatcher has seen the removal are not.
        await asyncio.to_thread(sqlite_hooks.remove, DIFFUSER)
        rounds = dispatcher.tally.rounds
        await eventually(lambda: dispatcher.tally.rounds >= rounds + 5, "five more rounds")
        append(feeds, rows[5:])
        rounds = dispatcher.tally.rounds
        await eventually(lambda: dispatcher.tally.rounds >= rounds + 5, "five more rounds")

    assert (first.acknowledged, second.acknowledged) == ([1, 2], [3, 4, 5])
    assert all(r.signed_by_secret for r in [*first.requests, *second.requests])


# ---------------------------------------------------------------- receivers the hub may not reach


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_a_receiver_on_the_loopback_gets_nothing_unless_allow_listed_and_the_error_says_why(
    receivers: StartReceiver, sqlite_hooks: SqlWebhookStore, host: str
) -> None:
    receiver = await receivers(SECRET)
    feeds = InMemoryFeedStore()
    append(feeds, a_feed_with_interleaved_offers())
    # The store checks only the URL's form: this is what a webhook set before the check, or
    # whose name changed since, looks like.
    sqlite_hooks.set_webhook(DIFFUSER, receiver.url.replace("127.0.0.1", host), SECRET, fed(0))
    strict = Destinations()

    async with dispatching(dispatcher_of(sqlite_hooks, feeds, FAST, strict)):
        await eventually(cursor_is(sqlite_hooks, DIFFUSER, "parked", 0), "the webhook parked")

    error = (await stored(sqlite_hooks, DIFFUSER)).last_error
    assert receiver.arrived == 0
    assert error is not None
    assert error.startswith(f"delivery {DIFFUSER}:{FEED_PARTITION}:1: not sent: the host {host} ")
    assert "a loopback address" in error
    assert "SITN_WEBHOOK_ALLOW" in error


def resolving(name: str, address: str, allow: str = "") -> Destinations:
    """Destinations where `name` resolves to `address`: the system resolver knows no test name."""

    def lookup(host: str, _port: int) -> list[Address]:
        assert host == name
        return [ipaddress.ip_address(address)]

    return Destinations.allowing(parse_webhook_allow(allow), lookup)


async def test_a_name_that_resolves_to_a_private_address_when_delivering_is_not_sent_to(
    sqlite_hooks: SqlWebhookStore,
) -> None:
    feeds = InMemoryFeedStore()
    append(feeds, a_feed_with_interleaved_offers())
    sqlite_hooks.set_webhook(DIFFUSER, "http://hooks.tourisme.test/sitn", SECRET, fed(0))
    rebound = resolving("hooks.tourisme.test", "10.0.0.7")

    async with dispatching(dispatcher_of(sqlite_hooks, feeds, FAST, rebound)):
        await eventually(cursor_is(sqlite_hooks, DIFFUSER, "parked", 0), "the webhook parked")

    error = (await stored(sqlite_hooks, DIFFUSER)).last_error
    assert error is not None
    assert "not sent: the host hooks.tourisme.test resolves to 10.0.0.7, a private" in error


async def test_a_delivery_connects_to_the_very_address_that_was_checked(
    receivers: StartReceiver, sqlite_hooks: SqlWebhookStore
) -> None:
    receiver = await receivers(SECRET)
    feeds = InMemoryFeedStore()
    rows = a_feed_with_interleaved_offers()
    append(feeds, rows)
    url = receiver.url.replace("127.0.0.1", "receiver.sitn.test")
    sqlite_hooks.set_webhook(DIFFUSER, url, SECRET, fed(0))
    # Only the checked lookup knows this name: the notifications can arrive only if the client
    # connects to the address it gave, instead of resolving the name again by itself.
    checked = resolving("receiver.sitn.test", "127.0.0.1", allow="127.0.0.1")

    async with dispatching(dispatcher_of(sqlite_hooks, feeds, FAST, checked)):
        await eventually(
            cursor_is(sqlite_hooks, DIFFUSER, "active", len(rows)), "the cursor at the head"
        )

    assert receiver.acknowledged == list(range(1, len(rows) + 1))
