"""The dashboard of a running stack, in a real browser: headless chromium driven by Selenium.

A real broker, the worker and the API served by uvicorn on a free port, wired as `sitn api serve`
wires them (`hub.dashboard.local_dashboard`: registry read from `sitn.registry`, status from the
broker and the stores). The Calvados board creates a hotel in Deauville and the Deauville tourist
office then changes its prices under its convention; the operator logs in through the form, opens
the offer's page and must see its real history (versions, contributors, events) and the authority
of each field group exactly as the store holds them. Screenshots of the offer page and the
overview are saved under the run's artifacts folder (`tests.support.artifacts`).

Why Selenium rather than Playwright: Debian ships chromium and a chromium-driver built from the
same source, so the driver always matches the browser, and Selenium needs only its Python package
(Playwright's package brings its own Node.js driver, which must also match the browser's
DevTools protocol).
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import uvicorn
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from consumers.api import create_app
from consumers.feeds.sql import SqlFeedStore
from consumers.webhooks import SqlWebhookStore
from hub.core.contribution import FieldGroupsChanged, OfferCreated
from hub.core.offer import OfferFields, OfferType, PriceLine, Prices, PrivateBlock
from hub.core.registry import Registry
from hub.dashboard import local_dashboard
from hub.demo_run import prepare
from hub.operations.status import StatusSources
from hub.reference import load_normandy_territory
from hub.registry.format import load_normandy_registry
from hub.registry.source import FixedRegistry
from hub.settings import Settings
from hub.store.sql import SqlStore
from hub.worker import Worker
from producers.publisher import Change, Publisher
from tests.support.artifacts import artifact_path
from tests.support.browser import headless_chromium, programs
from tests.support.examples import rich_offer_fields
from tests.support.webhook_receiver import eventually

pytestmark = pytest.mark.kafka

# The session's broker may already hold much regional history for the worker to go through.
CATCH_UP_GUARD_SECONDS = 300.0
PAGE_WAIT_SECONDS = 30.0
OPERATOR_KEY = "operator-key-of-the-browser-test"
CANARY = "CANARY-browser-5d2b-ne-jamais-afficher"
CDT, OT, OT_CONVENTION = "cdt-calvados", "ot-deauville", "cc-ot-deauville-2019"
CREATED_AT = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def publish(bootstrap: str, state_dir: Path, contributor: str, change: Change) -> None:
    publisher = Publisher(
        bootstrap=bootstrap,
        contributor=contributor,
        state_dir=state_dir,
        territory=load_normandy_territory(),
    )
    report = await publisher.publish([change])
    assert report.ok, report
    assert len(report.sent) == 1, report


@dataclass(frozen=True)
class SeenPage:
    """What the browser showed on the offer page: the tables' cells, and the page's source."""

    history: list[list[str]]
    provenance: dict[str, str]  # group -> the raw authority shown
    provenance_contributors: dict[str, str]  # group -> the contributor id shown
    source: str


def rows(driver: WebDriver, table_id: str) -> list[list[str]]:
    return [
        [cell.text for cell in row.find_elements(By.CSS_SELECTOR, "td")]
        for row in driver.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr")
    ]


def browse(base: str, offer_id: str, profile: Path, screenshots: tuple[Path, Path]) -> SeenPage:
    """Log in through the form on the way to the offer page, read it, save screenshots."""
    with headless_chromium(profile) as driver:
        wait = WebDriverWait(driver, PAGE_WAIT_SECONDS)
        driver.get(f"{base}/dashboard/offers/{offer_id}")
        wait.until(expected_conditions.presence_of_element_located((By.NAME, "key")))
        assert "/dashboard/login" in driver.current_url
        driver.find_element(By.NAME, "key").send_keys(OPERATOR_KEY)
        driver.find_element(By.CSS_SELECTOR, "form.login button[type=submit]").click()
        wait.until(expected_conditions.presence_of_element_located((By.ID, "history")))
        assert driver.current_url == f"{base}/dashboard/offers/{offer_id}"
        seen = SeenPage(
            history=rows(driver, "history"),
            provenance={
                row.get_attribute("data-group") or "": row.find_element(
                    By.CSS_SELECTOR, ".authority"
                ).text
                for row in driver.find_elements(By.CSS_SELECTOR, "#provenance tbody tr")
            },
            provenance_contributors={
                row.get_attribute("data-group") or "": row.find_element(
                    By.CSS_SELECTOR, ".contributor"
                ).text
                for row in driver.find_elements(By.CSS_SELECTOR, "#provenance tbody tr")
            },
            source=driver.page_source,
        )
        # The whole page in one picture: the window as tall as the document (within reason).
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1400, min(int(height) + 40, 6000))
        assert driver.save_screenshot(str(screenshots[0]))
        driver.set_window_size(1400, 1800)
        driver.get(f"{base}/dashboard/")
        wait.until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".tiles")))
        assert driver.save_screenshot(str(screenshots[1]))
        # The browser's own form passes the origin check, and the session ends on the server.
        driver.find_element(By.CSS_SELECTOR, "form[action$='/logout'] button").click()
        wait.until(expected_conditions.presence_of_element_located((By.NAME, "key")))
        driver.get(f"{base}/dashboard/")
        wait.until(expected_conditions.presence_of_element_located((By.NAME, "key")))
        assert "/dashboard/login" in driver.current_url
        return seen


@pytest.fixture(scope="session")
def chromium() -> tuple[str, str]:
    """Chromium's and its driver's paths; set up before the broker, so a missing browser is
    the first thing the run reports, naming the packages to install."""
    return programs()


async def test_the_dashboard_shows_a_published_offers_real_history_in_a_browser(
    chromium: tuple[str, str], kafka_bootstrap: str, tmp_path: Path
) -> None:
    registry = load_normandy_registry()
    await prepare(kafka_bootstrap, registry)
    database_url = f"sqlite:///{tmp_path / 'hub.db'}"
    settings = Settings.from_env(
        {
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "SITN_HOME": str(tmp_path),
            "SITN_DATABASE_URL": database_url,
            "SITN_OPERATOR_KEY": OPERATOR_KEY,
        }
    )
    # A new offer id per run: a broker given by KAFKA_BOOTSTRAP_SERVERS may outlive a run.
    offer_id = f"HOTNOR014BROWSER{secrets.token_hex(4).upper()}"
    fields = replace(
        rich_offer_fields(), private=PrivateBlock(internal_notes=CANARY, contract_refs=(CANARY,))
    )
    new_prices = Prices(lines=(PriceLine("Chambre double", Decimal("99.00"), Decimal("210.00")),))

    worker = Worker(settings, app_id=f"sitn-hub-dashboard-{secrets.token_hex(4)}")
    ready = asyncio.Event()
    task = asyncio.create_task(worker.run(on_ready=lambda _: ready.set()))
    store, feeds, hooks = (
        SqlStore(database_url),
        SqlFeedStore(database_url),
        SqlWebhookStore(database_url),
    )
    server: uvicorn.Server | None = None
    serving: asyncio.Task[None] | None = None
    try:
        await eventually(
            lambda: ready.is_set() or task.done(), "the worker's start", CATCH_UP_GUARD_SECONDS
        )
        if task.done():
            task.result()
        state = tmp_path / "publisher"
        await publish(
            kafka_bootstrap,
            state,
            CDT,
            Change(offer_id, OfferCreated(OfferType.HOT, fields), CREATED_AT, "tourinsoft", "t1"),
        )
        await publish(
            kafka_bootstrap,
            state,
            OT,
            Change(
                offer_id,
                FieldGroupsChanged(OfferFields(prices=new_prices)),
                CREATED_AT + timedelta(days=1),
                "apidae",
                "a1",
            ),
        )

        async def both_versions_stored() -> bool:
            refused = await asyncio.to_thread(store.rejections, OT, 1000)
            mine = [r.message for r in refused if r.offer_id == offer_id]
            assert not mine, f"the hub refused the follow-up change: {mine}"
            return len(await asyncio.to_thread(store.history, offer_id)) == 2

        await eventually(both_versions_stored, "both versions stored", CATCH_UP_GUARD_SECONDS)

        dashboard, key = local_dashboard(
            settings, StatusSources(kafka_bootstrap, store, feeds, hooks)
        )
        assert key.value == OPERATOR_KEY
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(
                    feeds,
                    store,
                    registry=FixedRegistry(Registry()),
                    operator_key=key,
                    dashboard=dashboard,
                ),
                host="127.0.0.1",
                port=port,
                log_level="warning",
            )
        )
        serving = asyncio.create_task(server.serve())
        running = server
        await eventually(lambda: running.started or serving.done(), "uvicorn's start", 30.0)
        if serving.done():
            serving.result()

        screenshots = (
            artifact_path("dashboard-offer.png"),
            artifact_path("dashboard-overview.png"),
        )
        seen = await asyncio.to_thread(
            browse,
            f"http://127.0.0.1:{port}",
            offer_id,
            tmp_path / "chromium-profile",
            screenshots,
        )
        versions = await asyncio.to_thread(store.history, offer_id)
        offer = await asyncio.to_thread(store.offer, offer_id)
    finally:
        if server is not None and serving is not None:
            server.should_exit = True
            await asyncio.wait_for(serving, 30)
        assert worker.stop is not None
        worker.stop.set()
        await asyncio.wait_for(task, 60)
        hooks.close()
        feeds.close()
        store.close()

    assert offer is not None
    assert offer.version == 2
    assert [(row[0], row[2].split()[-1], row[3]) for row in seen.history] == [
        (str(v.version), v.contributor, v.event_id) for v in reversed(versions)
    ]
    assert [v.contributor for v in versions] == [CDT, OT]
    assert seen.history[0][5] == "prices"
    assert seen.provenance == {p.group.value: p.authority for p in offer.provenance}
    assert seen.provenance["prices"] == f"convention:{OT_CONVENTION}"
    assert seen.provenance["names"] == f"principle:{CDT}"
    assert seen.provenance_contributors == {p.group.value: p.contributor for p in offer.provenance}
    assert "Chambre double: 99.00 to 210.00 EUR" in seen.source
    assert CANARY not in seen.source
    assert all(path.stat().st_size > 10_000 for path in screenshots)
