"""Prometheus metrics: the figures of `sitn status`, gathered at each scrape.

`add_metrics(app, sources)` serves ``GET /metrics`` on a FastAPI application or router (the feed
API's, see `consumers.api.create_app`): each scrape awaits `gather_status` on the event loop (its
store reads run in worker threads) and renders a `StatusCollector` over that one status in
Prometheus's text format. Nothing is cached and no metric lives between scrapes, so a figure is
never older than its scrape.

Every metric is a gauge named ``sitn_*`` (see `METRICS`); a figure that could not be gathered
(the broker did not answer) is left out, and ``sitn_status_problems`` counts the parts missing.
The feed API puts ``/metrics`` behind the operator key (Prometheus sends it as a bearer token:
`authorization: {credentials: KEY}` in the scrape config), unless SITN_API_PUBLIC_METRICS=1.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from fastapi import APIRouter, FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from hub.operations.status import HubStatus, StatusSources, gather_status

# How long a scrape waits for the broker before answering with the store's figures only.
SCRAPE_KAFKA_TIMEOUT: Final = 5.0

# name -> (help, labels)
METRICS: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "sitn_consumer_lag": (
        "Records not yet consumed, per consumer (a Kafka group, or the store's or feeds' "
        "positions kept in the database) and partition.",
        ("consumer", "source", "topic", "partition"),
    ),
    "sitn_rejections": (
        "Rejections per contributor whose event occurred in the window (24 h).",
        ("contributor", "window_seconds"),
    ),
    "sitn_dead_letters": ("Records on sitn.deadletter.", ()),
    "sitn_dead_letters_redriven": ("Dead letters redriven to their origin topic.", ()),
    "sitn_feed_head": (
        "The sum over partitions of the last entry numbers of each diffuser's feed: grows by one "
        "per entry (0: empty).",
        ("diffuser",),
    ),
    "sitn_feed_last_version": ("The regional version of the feed's last entry.", ("diffuser",)),
    "sitn_feed_last_entry_timestamp_seconds": (
        "When the feed's last entry occurred (Unix time).",
        ("diffuser",),
    ),
    "sitn_webhook_backlog": (
        "Feed entries the diffuser's webhook has not acknowledged.",
        ("diffuser",),
    ),
    "sitn_webhook_failures": (
        "Consecutive failed deliveries of the diffuser's webhook.",
        ("diffuser",),
    ),
    "sitn_webhook_parked": ("1 if the diffuser's webhook is parked, else 0.", ("diffuser",)),
    "sitn_store_offers": (
        "Offers in the regional store per type, department and status.",
        ("offer_type", "department", "status"),
    ),
    "sitn_regional_changes_recent": (
        "Records appended to sitn.regional.changes in the window, by record timestamp.",
        ("window_seconds",),
    ),
    "sitn_status_problems": ("Parts of the status that could not be gathered.", ()),
    "sitn_status_timestamp_seconds": ("When the status was taken (Unix time).", ()),
}


class StatusCollector(Collector):
    """A custom collector over one `HubStatus`: every `METRICS` family it has figures for."""

    def __init__(self, status: HubStatus) -> None:
        self.status = status

    def collect(self) -> Iterator[GaugeMetricFamily]:
        status = self.status
        families = {
            name: GaugeMetricFamily(name, text, labels=list(labels))
            for name, (text, labels) in METRICS.items()
        }
        for lag in status.lags:
            for part in lag.partitions:
                families["sitn_consumer_lag"].add_metric(
                    [lag.consumer, lag.source, part.topic, str(part.partition)], part.lag
                )
        window = f"{status.taken_at.timestamp() - status.rejections_since.timestamp():g}"
        for rejections in status.rejections:
            families["sitn_rejections"].add_metric(
                [rejections.contributor, window], rejections.rejections
            )
        if status.dead_letters is not None:
            families["sitn_dead_letters"].add_metric([], status.dead_letters.total)
            families["sitn_dead_letters_redriven"].add_metric([], status.dead_letters.redriven)
        for diffuser in status.diffusers:
            label = [diffuser.diffuser_id]
            families["sitn_feed_head"].add_metric(label, diffuser.head.total)
            if diffuser.last_version is not None and diffuser.last_occurred_at is not None:
                families["sitn_feed_last_version"].add_metric(label, diffuser.last_version)
                families["sitn_feed_last_entry_timestamp_seconds"].add_metric(
                    label, diffuser.last_occurred_at.timestamp()
                )
            hook = diffuser.webhook
            if hook is not None:
                families["sitn_webhook_backlog"].add_metric(label, hook.backlog)
                families["sitn_webhook_failures"].add_metric(label, hook.failures)
                families["sitn_webhook_parked"].add_metric(label, int(hook.state == "parked"))
        for count in status.store_counts:
            families["sitn_store_offers"].add_metric(
                [count.offer_type.value, count.department or "", count.status.value], count.offers
            )
        if status.throughput is not None:
            families["sitn_regional_changes_recent"].add_metric(
                [f"{status.throughput.window.total_seconds():g}"],
                status.throughput.regional_changes,
            )
        families["sitn_status_problems"].add_metric([], len(status.problems))
        families["sitn_status_timestamp_seconds"].add_metric([], status.taken_at.timestamp())
        yield from families.values()


def render(status: HubStatus) -> bytes:
    """`status` in Prometheus's text exposition format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StatusCollector(status))
    return generate_latest(registry)


def add_metrics(app: FastAPI | APIRouter, sources: StatusSources) -> None:
    """Serves ``GET /metrics`` on `app`: the status of `sources`, gathered at each scrape."""

    async def metrics() -> Response:
        status = await gather_status(sources, kafka_timeout=SCRAPE_KAFKA_TIMEOUT)
        return Response(render(status), media_type=CONTENT_TYPE_LATEST)

    app.add_api_route(
        "/metrics",
        metrics,
        methods=["GET"],
        include_in_schema=False,  # for Prometheus, not part of the feed API's contract
        response_class=Response,
    )
