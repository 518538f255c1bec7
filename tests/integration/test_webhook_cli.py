"""`sitn webhook set|list|redrive|remove` on a fresh SQLite store per test.

The secret is printed once by `set` and appears nowhere else: not in `list`, not in messages.
Ids are checked against the shipped Normandy registry, URLs before anything is stored.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner, Result

from consumers.feeds import SqlFeedStore
from consumers.feeds.cursor import FeedCursor
from consumers.webhooks import SqlWebhookStore
from hub.cli import app
from tests.support.diffusion_changes import DIFFUSER, OTHER_DIFFUSER, cursor_at, offer_ids, upsert

URL = "https://recv.tourisme.example/hooks/sitn"


@pytest.fixture
def env(tmp_path: pytest.TempPathFactory) -> dict[str, str]:
    return {"SITN_HOME": str(tmp_path), "SITN_DATABASE_URL": f"sqlite:///{tmp_path}/hub.db"}


def sitn(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(app, ["webhook", *args], env=env)


def set_webhook(env: dict[str, str], *args: str) -> str:
    result = sitn(env, "set", *args)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_a_new_webhook_prints_its_secret_once_and_starts_at_the_feeds_head(
    env: dict[str, str],
) -> None:
    with SqlFeedStore(env["SITN_DATABASE_URL"]) as feeds:
        feeds.migrate()
        feeds.append([upsert("HOT-1", 1), upsert("RES-2", 1), upsert("HOT-1", 2)], {})

    secret = set_webhook(env, "--diffuser", DIFFUSER, "--url", URL)

    assert len(secret) >= 43
    with SqlWebhookStore(env["SITN_DATABASE_URL"]) as hooks:
        hook = hooks.webhook(DIFFUSER)
    assert hook is not None
    # HOT-1 is on partition 5, RES-2 on 2: the feed's head.
    assert (hook.url, hook.secret, hook.delivered, hook.state) == (
        URL,
        secret,
        cursor_at(p2=1, p5=2),
        "active",
    )


def test_after_says_where_deliveries_start_and_setting_again_keeps_the_cursor(
    env: dict[str, str],
) -> None:
    first = set_webhook(env, "--diffuser", DIFFUSER, "--url", URL, "--after", "0")
    with SqlWebhookStore(env["SITN_DATABASE_URL"]) as hooks:
        hooks.record_delivery(DIFFUSER, FeedCursor.at(5), datetime(2026, 6, 1, tzinfo=UTC))

    second = set_webhook(env, "--diffuser", DIFFUSER, "--url", URL + "/v2")

    assert first != second
    with SqlWebhookStore(env["SITN_DATABASE_URL"]) as hooks:
        hook = hooks.webhook(DIFFUSER)
    assert hook is not None
    assert (hook.url, hook.secret, hook.delivered) == (URL + "/v2", second, FeedCursor.at(5))


def test_the_list_shows_state_cursor_head_and_errors_but_never_the_secret(
    env: dict[str, str],
) -> None:
    with SqlFeedStore(env["SITN_DATABASE_URL"]) as feeds:
        feeds.migrate()
        hotels = offer_ids(0, "HOT", 4)
        feeds.append([upsert(hotel, 1, diffuser=OTHER_DIFFUSER) for hotel in hotels], {})
    secret = set_webhook(env, "--diffuser", DIFFUSER, "--url", URL)
    other = set_webhook(env, "--diffuser", OTHER_DIFFUSER, "--url", URL, "--after", "1")
    with SqlWebhookStore(env["SITN_DATABASE_URL"]) as hooks:
        hooks.record_failure(
            OTHER_DIFFUSER, "delivery ideoguide:2: HTTP 503", datetime.now(UTC), park_after=1
        )

    result = sitn(env, "list")

    assert result.exit_code == 0, result.output
    head = cursor_at(p0=4)
    assert (
        f"{OTHER_DIFFUSER}  parked  {URL}\n    delivered up to cursor 1 of {head} (3 behind); 1"
        " consecutive" in result.stdout
    )
    assert ": delivery ideoguide:2: HTTP 503\n" in result.stdout
    assert f"{DIFFUSER}  active  {URL}\n    delivered up to cursor 0 of 0 (0 behind)" in (
        result.stdout
    )
    assert "sitn webhook redrive --diffuser ID" in result.stdout
    assert secret not in result.output
    assert other not in result.output


def test_redrive_makes_a_parked_webhook_active_with_its_cursor(env: dict[str, str]) -> None:
    set_webhook(env, "--diffuser", DIFFUSER, "--url", URL, "--after", "2")
    with SqlWebhookStore(env["SITN_DATABASE_URL"]) as hooks:
        hooks.record_failure(DIFFUSER, "HTTP 500", datetime.now(UTC), park_after=1)

    result = sitn(env, "redrive", "--diffuser", DIFFUSER)

    assert result.exit_code == 0, result.output
    assert "resumes after feed cursor 2" in result.output
    with SqlWebhookStore(env["SITN_DATABASE_URL"]) as hooks:
        hook = hooks.webhook(DIFFUSER)
    assert hook is not None
    assert (hook.state, hook.failures, hook.delivered) == ("active", 0, FeedCursor.at(2))


def test_remove_deletes_the_webhook(env: dict[str, str]) -> None:
    set_webhook(env, "--diffuser", DIFFUSER, "--url", URL)

    removed = sitn(env, "remove", "--diffuser", DIFFUSER)
    again = sitn(env, "remove", "--diffuser", DIFFUSER)

    assert removed.exit_code == 0, removed.output
    assert again.exit_code == 1
    assert f"diffuser {DIFFUSER!r} has no webhook" in again.output
    with SqlWebhookStore(env["SITN_DATABASE_URL"]) as hooks:
        assert hooks.webhooks() == []


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["set", "--diffuser", "tourisme-com", "--url", URL], 2, "'tourisme-com' is not in"),
        (["set", "--diffuser", DIFFUSER, "--url", "ftp://x.example/"], 2, "http or https"),
        (["set", "--diffuser", DIFFUSER, "--url", "https:///path"], 2, "names no host"),
        (["set", "--diffuser", DIFFUSER, "--url", URL, "--after", "-1"], 2, "--after"),
        (["redrive", "--diffuser", DIFFUSER], 1, "has no webhook"),
    ],
)
def test_bad_input_is_refused_naming_it_and_nothing_is_stored(
    env: dict[str, str], args: list[str], code: int, message: str
) -> None:
    result = sitn(env, *args)

    assert result.exit_code == code
    assert message in result.output
    assert result.stdout == ""
    with SqlWebhookStore(env["SITN_DATABASE_URL"]) as hooks:
        hooks.migrate()
        assert hooks.webhooks() == []


# ------------------------------------------------------------------ receivers the hub may not reach


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://169.254.169.254/latest/meta-data/", "the host 169.254.169.254 is a link-local"),
        ("http://[::1]:8080/hooks", "the host ::1 is a loopback address"),
        ("http://127.0.0.1:8080/hooks", "the host 127.0.0.1 is a loopback address"),
        ("http://localhost:8080/hooks", "the host localhost resolves to "),
        ("https://10.0.0.5/hooks", "the host 10.0.0.5 is a private network address"),
        ("http://192.168.1.1/", "the host 192.168.1.1 is a private network address"),
    ],
)
def test_a_receiver_on_this_machine_or_a_private_network_is_refused_and_nothing_changes(
    env: dict[str, str], url: str, says: str
) -> None:
    secret = set_webhook(env, "--diffuser", DIFFUSER, "--url", URL)

    result = sitn(env, "set", "--diffuser", DIFFUSER, "--url", url)

    assert result.exit_code == 2
    assert f"webhook URL {url!r} of diffuser {DIFFUSER!r} refused: {says}" in result.output
    assert "to SITN_WEBHOOK_ALLOW" in result.output
    assert result.stdout == ""
    with SqlWebhookStore(env["SITN_DATABASE_URL"]) as hooks:
        hook = hooks.webhook(DIFFUSER)
    assert hook is not None
    assert (hook.url, hook.secret) == (URL, secret)


def test_an_allow_listed_receiver_on_this_machine_is_accepted(env: dict[str, str]) -> None:
    allowing = {**env, "SITN_WEBHOOK_ALLOW": "127.0.0.1, ::1"}

    set_webhook(allowing, "--diffuser", DIFFUSER, "--url", "http://127.0.0.1:8080/hooks")
    set_webhook(allowing, "--diffuser", OTHER_DIFFUSER, "--url", "http://[::1]:8080/hooks")

    with SqlWebhookStore(env["SITN_DATABASE_URL"]) as hooks:
        assert {hook.diffuser_id: hook.url for hook in hooks.webhooks()} == {
            DIFFUSER: "http://127.0.0.1:8080/hooks",
            OTHER_DIFFUSER: "http://[::1]:8080/hooks",
        }


def test_a_name_that_does_not_resolve_yet_is_accepted_with_a_warning(env: dict[str, str]) -> None:
    result = sitn(env, "set", "--diffuser", DIFFUSER, "--url", URL)

    assert result.exit_code == 0, result.output
    assert "warning: the host recv.tourisme.example of webhook URL" in result.stderr
    assert "every delivery checks its address" in result.stderr


def test_an_unusable_allow_list_is_refused_naming_the_entry(env: dict[str, str]) -> None:
    bad = {**env, "SITN_WEBHOOK_ALLOW": "127.0.0.1, not a host"}

    result = sitn(bad, "set", "--diffuser", DIFFUSER, "--url", URL)

    assert result.exit_code == 2
    assert "SITN_WEBHOOK_ALLOW: 'not a host' is neither an address" in result.output


def test_list_shows_a_receivers_hostile_answer_as_one_clean_line(env: dict[str, str]) -> None:
    set_webhook(env, "--diffuser", DIFFUSER, "--url", URL)
    with SqlWebhookStore(env["SITN_DATABASE_URL"]) as hooks:
        hooks.record_failure(
            DIFFUSER, "HTTP 500: \x1b[2J\x1b[31mred\x1b[0m\x00\r\nforged line", datetime.now(UTC), 8
        )

    result = sitn(env, "list")

    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout
    assert "\x00" not in result.stdout
    assert "HTTP 500: red\\x00 forged line" in result.stdout
