"""`sitn replay readjudicate` as an operator sees it: its help, its errors, its table's lines.

The run against a real broker is in `tests/integration/test_readjudicate_kafka.py`; here the lines
the table shows for each kind of correction are checked on corrections computed without Kafka.
"""

from __future__ import annotations

from typer.testing import CliRunner

from hub.cli import app
from hub.cli.replay_readjudicate import changes, reasons
from hub.core.contribution import OfferWithdrawn
from hub.core.offer import FieldGroup
from hub.core.readjudication import CorrectionKind
from tests.conftest import free_port
from tests.support.readjudication_cases import (
    BASE,
    EVERYTHING,
    NO_CONTACTS,
    OFFER,
    OT,
    OT_CONTACTS,
    OT_PRICES,
    PRICES,
    Stream,
    WorkerRun,
    changed,
    created,
    only,
    registry,
)


def test_the_help_says_what_it_does_and_that_the_worker_must_be_stopped() -> None:
    result = CliRunner().invoke(app, ["replay", "readjudicate", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "--dry-run" in result.output
    assert "--group" in result.output
    assert "Stop the worker first" in result.output


def test_an_unreachable_broker_is_one_clear_line_and_a_failure() -> None:
    bootstrap = f"127.0.0.1:{free_port()}"
    result = CliRunner().invoke(
        app,
        ["replay", "readjudicate", "--dry-run"],
        env={"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "COLUMNS": "400"},
    )
    assert result.exit_code == 1
    assert f"error: Kafka at {bootstrap} failed" in result.output
    assert "sitn kafka start" in result.output
    assert "Traceback" not in result.output


def test_a_group_now_allowed_shows_the_authority_that_allows_it() -> None:
    stream = Stream()
    created(stream)
    changed(stream, OT, prices=OT_PRICES)
    correction = only(
        WorkerRun(stream.contributions, registry(BASE)).readjudicate(registry(BASE, PRICES))
    )
    assert changes(correction) == [f"~ prices (now {OT}'s)"]
    assert reasons(correction) == [f"prices: allowed by convention:cc-{OT}-prices ({OT})"]


def test_a_group_now_refused_shows_the_rule_that_refuses_it_and_what_replaces_it() -> None:
    stream = Stream()
    created(stream)
    changed(stream, OT, contacts=OT_CONTACTS)
    correction = only(
        WorkerRun(stream.contributions, registry(BASE)).readjudicate(registry(NO_CONTACTS))
    )
    assert changes(correction) == ["~ contacts (now cdt-calvados's)"]
    allowed, refused = reasons(correction)
    assert allowed == "contacts: allowed by principle:cdt-calvados (cdt-calvados)"
    assert refused.startswith(f"contacts: {OT}/{OFFER}/1 now refused [convention]: No convention")


def test_an_offer_now_accepted_and_one_withdrawn_say_so_in_one_line() -> None:
    stream = Stream()
    created(stream, by=OT)
    run = WorkerRun(stream.contributions, registry(BASE))
    accepted = only(run.readjudicate(registry(EVERYTHING)))
    assert accepted.kind is CorrectionKind.ACCEPTED
    assert changes(accepted)[0] == "now accepted: RES offer, active"
    assert reasons(accepted) == [
        f"{', '.join(g.value for g in accepted.change.changed_groups)}: allowed by "
        f"convention:cc-{OT}-everything ({OT})"
    ]

    run = WorkerRun(stream.contributions, registry(EVERYTHING))
    withdrawn = only(run.readjudicate(registry(BASE)))
    assert withdrawn.kind is CorrectionKind.WITHDRAWN
    assert changes(withdrawn) == [
        "withdrawn: no contribution of it is accepted now (deleted from the base)"
    ]
    (line,) = reasons(withdrawn)
    assert line.startswith(f"{FieldGroup.NAMES.value}, ")
    assert f"{OT}/{OFFER}/1 now refused [convention]" in line


def test_a_status_change_shows_the_status_before_and_after() -> None:
    stream = Stream()
    created(stream)
    stream.add(OT, OfferWithdrawn("Fermeture définitive"))
    run = WorkerRun(stream.contributions, registry(BASE))
    with_diffusion = registry(EVERYTHING)
    correction = only(run.readjudicate(with_diffusion))
    assert correction.kind is CorrectionKind.STATUS
    assert changes(correction)[0] == "status active -> withdrawn"
