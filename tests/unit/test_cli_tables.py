"""The operators' tables keep every id whole on an 80-column screen."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Console
from rich.table import Table

from hub.cli.status import lag_table
from hub.cli.store import rejection_table
from hub.core.offer import FieldGroup
from hub.operations.status import ConsumerLag, PartitionLag
from hub.store.port import StoredRejection

CONTRIBUTORS = (
    "cdt-calvados",
    "cdt-eure",
    "cdt-manche",
    "cdt-orne",
    "cdt-seine-maritime",
    "crt-normandie",
)


def rendered(table: Table, width: int = 80) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(table)
    return console.export_text()


def unfolded(text: str) -> str:
    """The text with borders, spaces and line breaks removed: folded words read whole."""
    return "".join(ch for ch in text if ch not in "│┌┐└┘─├┤ \n")


def test_each_contributor_topic_of_the_lag_table_can_be_read_whole_at_80_columns() -> None:
    lags = (
        ConsumerLag(
            "sitn-collection",
            "kafka",
            tuple(
                PartitionLag(f"sitn.contrib.{org}", p, 10, 12 + p, 2 + p)
                for org in CONTRIBUTORS
                for p in range(6)
            ),
        ),
    )

    text = rendered(lag_table(lags))

    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    for org in CONTRIBUTORS:
        assert f" sitn.contrib.{org} " in text  # on one line, never folded


def test_rejections_show_whole_offer_ids_at_80_columns() -> None:
    found = [
        StoredRejection(
            event_id=f"ot-bayeux/HOTNOR014V5000{n:02d}/3",
            contributor="ot-bayeux-intercom",
            offer_id=f"HOTNOR014V5000{n:02d}",
            occurred_at=datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
            rule_ids=("charte.prices.order", "charte.contacts.email"),
            message="the minimum price 12.00 is above the maximum 9.00; give them in order",
            field_groups=(FieldGroup.PRICES, FieldGroup.CONTACTS),
            judged_at=datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
        )
        for n in range(3)
    ]

    text = rendered(rejection_table(found))

    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    for n in range(3):
        assert f"HOTNOR014V5000{n:02d}  ot-bayeux-intercom" in text
    assert "judged 2026-03-02 10:00 UTC, event 2026-03-01 09:30 UTC" in text
    assert " charte.prices.order " in text
    assert " charte.contacts.email " in text
    assert "groups: prices, contacts" in text
    assert "the minimum price 12.00 is above the maximum 9.00; give them in order" in text


def test_a_message_longer_than_the_screen_folds_and_loses_nothing() -> None:
    long = "the opening periods overlap: " + "; ".join(f"period {n} and {n + 1}" for n in range(9))
    found = [
        StoredRejection(
            "ot-x/OFFER/1",
            "ot-x",
            "HOTNOR014V500099",
            datetime(2026, 3, 1, tzinfo=UTC),
            ("charte.periods",),
            long,
            (),
        )
    ]

    text = rendered(rejection_table(found), width=60)

    assert max(len(line) for line in text.splitlines()) <= 60
    assert unfolded(long) in unfolded(text)
    assert "groups: no group in particular" in text
    assert "judged" not in text  # stored by an older hub: only the event time is known


def test_a_very_long_topic_and_large_lags_lose_no_character_at_80_columns() -> None:
    org = "ot-" + "x" * 60  # the longest organisation id the registry takes
    lags = (
        ConsumerLag(
            "sitn-collection",
            "kafka",
            tuple(
                PartitionLag(f"sitn.contrib.{org}", p, 0, 9_000_000, 9_000_000) for p in range(6)
            ),
        ),
        ConsumerLag("store", "database", (PartitionLag("sitn.regional.changes", 0, 5, 7, 2),)),
    )

    text = rendered(lag_table(lags))

    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    assert f"sitn.contrib.{org}" in unfolded(text)
    assert "54000000" in unfolded(text)  # six partitions of 9,000,000 each, whole
    assert " sitn-collection " in text
    assert " database " in text
    assert " sitn.regional.changes " in text
