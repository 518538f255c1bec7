"""The operators' dashboard: server-rendered pages over the stores, the broker and the registry.

`create_dashboard(sources, key)` builds an ASGI application that `consumers.api.create_app` mounts
under ``/dashboard`` in the API process. Pages (HTML from the Jinja2 templates shipped in this
package, one stylesheet, no script):

- ``/``: overview: throughput, consumer lag, rejections per contributor over 24 h, dead letters,
  each diffuser's delivery, store counts (`hub.operations.status.gather_status`);
- ``/offers``: the offers, paged by id, with an id or id-prefix search; ``/offers/{id}``: an
  offer's public fields, who set each field group under which authority, its history and the
  feeds it is in (404 for an unknown offer);
- ``/rejections``: the latest rejections, and one contributor's, newest first;
- ``/diffusers``: what each diffuser receives and how its deliveries stand; ``/diffusers/{id}``
  one diffuser in detail, with the number of offers in its feed and its latest entries.

Guarantees: read-only (every page is a GET; the only POSTs are log in and log out); every page
needs the operator's session (`hub.dashboard.access`), else it redirects to the login form (the
check is declared once, on the router of the pages; only the login form and the stylesheet are
outside it); a POST (or any other method but GET, HEAD, OPTIONS) from another site is refused 403
(`hub.dashboard.origin`); after `LOGIN_FAILURES` wrong keys in a minute a client gets 429 with
Retry-After and no key is tried (`hub.dashboard.throttle`), and a wrong key is answered the same
whatever it was; logging out ends the session on the server. No page shows a private field or
customer data (the templates are only given public values, see `hub.dashboard.fields`); every
value is HTML-escaped by the templates (autoescape); blocking store calls run in worker threads,
never on the event loop. Responses forbid framing, scripts and caching (Content-Security-Policy,
Cache-Control).
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at run time.
import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Final
from urllib.parse import parse_qs, quote, urlencode

import jinja2
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from consumers.feeds.cursor import FeedCursor
from consumers.feeds.port import FeedEntry, FeedStore
from consumers.webhooks.port import Webhook, WebhookStore
from hub.core.registry import Registry
from hub.dashboard.access import OperatorKey, Sessions
from hub.dashboard.authority import Authority, describe, organisation_name, validity_text
from hub.dashboard.fields import GroupLines, display_name, public_lines
from hub.dashboard.origin import cross_origin_refusal
from hub.dashboard.throttle import LoginThrottle
from hub.operations.status import HubStatus, StatusSources, gather_status
from hub.registry.source import RegistryReading, RegistrySource
from hub.store.port import RegionalStore, StoredOffer, StoredRejection, VersionEntry
from hub.topics import OFFER_PARTITIONS

SESSION_COOKIE: Final = "sitn_dashboard_session"
OFFERS_PER_PAGE: Final = 50
REJECTIONS_STEP: Final = 100
MAX_REJECTIONS: Final = 5000
RECENT_FEED_ENTRIES: Final = 20
# A login form is a key and a path: anything bigger is not one.
_MAX_FORM_BYTES: Final = 4096

_SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    # Not "no-referrer": browsers would then send "Origin: null" with the dashboard's own forms.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class DashboardSources:
    """What the dashboard reads: the broker and the three stores (for the status), the registry."""

    status: StatusSources
    registry: RegistrySource

    @property
    def store(self) -> RegionalStore:
        return self.status.store

    @property
    def feeds(self) -> FeedStore:
        return self.status.feeds

    @property
    def webhooks(self) -> WebhookStore:
        return self.status.webhooks


class _LoginRequired(Exception):
    """Raised by the session check; answered with a redirect to the login form."""


def _when(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _templates() -> Jinja2Templates:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("hub.dashboard", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["when"] = _when
    environment.filters["path"] = lambda value: quote(str(value), safe="")
    return Jinja2Templates(env=environment)


def _safe_next(base: str, target: str | None) -> str:
    """Where to go after logging in: a path of this dashboard, never another site."""
    if target is None or not target.startswith(base + "/") or target.startswith("//"):
        return base + "/"
    if "\\" in target or not all(c.isprintable() for c in target):
        return base + "/"
    return target


# ------------------------------------------------------------------ page data (worker threads)


@dataclass(frozen=True)
class ProvenanceRow:
    group: str
    contributor: str
    contributor_name: str
    occurred_at: datetime
    event_id: str
    source_version: int
    authority: Authority


@dataclass(frozen=True)
class HistoryRow:
    entry: VersionEntry
    contributor_name: str
    changed: str


@dataclass(frozen=True)
class FeedPresence:
    diffuser_id: str
    diffuser_name: str
    entry: FeedEntry


@dataclass(frozen=True)
class OfferPage:
    offer: StoredOffer
    name: str
    fields: tuple[GroupLines, ...]
    provenance: tuple[ProvenanceRow, ...]
    history: tuple[HistoryRow, ...]
    feeds: tuple[FeedPresence, ...]


def _offer_page(sources: DashboardSources, registry: Registry, offer_id: str) -> OfferPage | None:
    offer = sources.store.offer(offer_id)
    if offer is None:
        return None
    history = sources.store.history(offer_id)
    presence = []
    for diffuser_id, diffuser in sorted(registry.diffusers.items()):
        entry = sources.feeds.current(diffuser_id, offer_id)
        if entry is not None:
            presence.append(FeedPresence(diffuser_id, diffuser.name, entry))
    return OfferPage(
        offer=offer,
        name=display_name(offer.public),
        fields=public_lines(offer.public),
        provenance=tuple(
            ProvenanceRow(
                group=p.group.value,
                contributor=p.contributor,
                contributor_name=organisation_name(registry, p.contributor),
                occurred_at=p.occurred_at,
                event_id=p.event_id,
                source_version=p.source_version,
                authority=describe(registry, p.authority),
            )
            for p in offer.provenance
        ),
        history=tuple(
            HistoryRow(
                entry=e,
                contributor_name=organisation_name(registry, e.contributor),
                changed=", ".join(g.value for g in e.changed_groups) or "-",
            )
            for e in reversed(history)
        ),
        feeds=tuple(presence),
    )


@dataclass(frozen=True)
class OfferRow:
    offer: StoredOffer
    name: str


def _offer_rows(store: RegionalStore, after: str, prefix: str) -> tuple[list[OfferRow], bool]:
    offers = store.offers(after=after, limit=OFFERS_PER_PAGE + 1)
    if prefix:
        offers = [o for o in offers if o.offer_id.startswith(prefix)]
    rows = [OfferRow(o, display_name(o.public)) for o in offers[:OFFERS_PER_PAGE]]
    return rows, len(offers) > OFFERS_PER_PAGE


@dataclass(frozen=True)
class ConventionView:
    convention_id: str
    purpose: str
    offer_types: str
    territory: str
    field_groups: str
    languages: str
    formats: str
    validity: str
    in_force: bool


@dataclass(frozen=True)
class DiffuserRow:
    diffuser_id: str
    name: str
    diffuser_class: str
    conventions: tuple[ConventionView, ...]
    head: FeedCursor
    webhook: Webhook | None

    @property
    def backlog(self) -> int | None:
        return None if self.webhook is None else self.webhook.delivered.behind(self.head)

    @property
    def receives(self) -> bool:
        return any(c.in_force for c in self.conventions)


def _diffuser_rows(
    sources: DashboardSources, registry: Registry, now: datetime
) -> list[DiffuserRow]:
    rows = []
    for diffuser_id, diffuser in sorted(registry.diffusers.items()):
        conventions = tuple(
            ConventionView(
                convention_id=c.convention_id,
                purpose=c.purpose,
                offer_types=", ".join(t.value for t in c.offer_types) or "every type",
                territory=(
                    "departments " + ", ".join(c.departments) if c.departments else "whole region"
                ),
                field_groups=", ".join(g.value for g in c.field_groups),
                languages=", ".join(c.languages),
                formats=", ".join(c.formats),
                validity=validity_text(c.validity),
                in_force=c.validity.covers(now),
            )
            for c in registry.diffusion_conventions
            if c.diffuser == diffuser_id
        )
        rows.append(
            DiffuserRow(
                diffuser_id=diffuser_id,
                name=diffuser.name,
                diffuser_class=diffuser.diffuser_class.value,
                conventions=conventions,
                head=sources.feeds.head(diffuser_id),
                webhook=sources.webhooks.webhook(diffuser_id),
            )
        )
    return rows


def _feed_detail(
    feeds: FeedStore, diffuser_id: str, head: FeedCursor
) -> tuple[int, list[FeedEntry]]:
    # The port has no count: walk the snapshot (batched reads); fine for one diffuser at a time.
    in_feed = sum(1 for _ in feeds.snapshot(diffuser_id, upto=head))
    # Each partition's last entries, then the latest of them in time (newest first).
    tails = feeds.changes(
        diffuser_id, head.back(RECENT_FEED_ENTRIES), RECENT_FEED_ENTRIES * OFFER_PARTITIONS
    )
    recent = sorted(tails, key=lambda e: (e.change.occurred_at, e.partition, e.seq), reverse=True)
    return in_feed, recent[:RECENT_FEED_ENTRIES]


# ------------------------------------------------------------------ the application


def create_dashboard(
    sources: DashboardSources,
    key: OperatorKey,
    *,
    status_timeout: float = 5.0,
    clock: Callable[[], datetime] | None = None,
    login_throttle: LoginThrottle | None = None,
) -> FastAPI:
    """The dashboard over `sources`, opened with `key` (see the module docstring).

    `status_timeout` bounds each Kafka call of the overview; `clock` gives the time sessions and
    windows are measured against (default: the wall clock, in UTC); `login_throttle` counts wrong
    keys per client (default: `LoginThrottle()` on the monotonic clock).
    """
    now: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
    sessions = Sessions(key)
    throttle = login_throttle or LoginThrottle()
    templates = _templates()
    app = FastAPI(
        title="SITN Hub operators' dashboard",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.mount(
        "/static",
        StaticFiles(packages=[("hub.dashboard", "static")]),
        name="static",
    )

    @app.middleware("http")
    async def same_origin_only(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        own = f"{request.url.scheme}://{request.url.netloc}"
        refusal = cross_origin_refusal(request.method, request.headers, own)
        if refusal is not None:
            return Response(
                f"Refused: {refusal}.\n", status.HTTP_403_FORBIDDEN, media_type="text/plain"
            )
        return await call_next(request)

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for header, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(header, value)
        return response

    def base_of(request: Request) -> str:
        root: str = request.scope.get("root_path", "")
        return root.rstrip("/")

    @app.exception_handler(_LoginRequired)
    async def to_login(request: Request, _: _LoginRequired) -> Response:
        base = base_of(request)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        query = urlencode({"next": target})
        return RedirectResponse(f"{base}/login?{query}", status.HTTP_303_SEE_OTHER)

    async def operator(request: Request) -> None:
        # Async: `sessions` lives on the event loop, a plain function would run in a thread.
        if not sessions.valid(request.cookies.get(SESSION_COOKIE), now()):
            raise _LoginRequired

    # Every page but the login form needs the operator's session: declared here, once.
    pages = APIRouter(dependencies=[Depends(operator)])

    async def page(
        request: Request,
        template: str,
        context: dict[str, Any],
        reading: RegistryReading | None = None,
        status_code: int = 200,
    ) -> HTMLResponse:
        problems = list(context.pop("problems", ()))
        if reading is not None and reading.problem:
            problems.insert(0, reading.problem)
        full = {
            "base": base_of(request),
            "problems": problems,
            "now": now(),
            "logged_in": True,
            **context,
        }
        return templates.TemplateResponse(request, template, full, status_code=status_code)

    # -------------------------------------------------------------- log in, log out

    @app.get("/login", response_class=HTMLResponse, name="login_form")
    async def login_form(
        request: Request,
        next_page: Annotated[str | None, Query(alias="next", max_length=2000)] = None,
    ) -> HTMLResponse:
        base = base_of(request)
        context = {"next": _safe_next(base, next_page), "error": None, "logged_in": False}
        return await page(request, "login.html", context)

    @app.post("/login", response_class=HTMLResponse, name="login")
    async def login(request: Request) -> Response:
        base = base_of(request)
        client = request.client.host if request.client else "-"
        wait = throttle.wait(client)
        if wait is not None:
            context = {
                "next": base + "/",
                "error": f"Too many wrong keys from your address: try again in {wait} s.",
                "logged_in": False,
            }
            refused = await page(request, "login.html", context, status_code=429)
            refused.headers["Retry-After"] = str(wait)
            return refused
        body = await request.body()
        if len(body) > _MAX_FORM_BYTES:
            return HTMLResponse("form too large", status.HTTP_413_CONTENT_TOO_LARGE)
        form = parse_qs(body.decode("utf-8", errors="replace"))
        given = (form.get("key") or [""])[0]
        target = _safe_next(base, (form.get("next") or [""])[0])
        if not sessions.key_matches(given):
            throttle.failed(client)
            context = {
                "next": target,
                "error": "This is not the operator key. It is in SITN_OPERATOR_KEY, or in the "
                "operator-key file under SITN_HOME (the API's start-up message says which).",
                "logged_in": False,
            }
            return await page(request, "login.html", context, status_code=401)
        throttle.succeeded(client)
        response = RedirectResponse(target, status.HTTP_303_SEE_OTHER)
        response.set_cookie(
            SESSION_COOKIE,
            sessions.issue(now()),
            max_age=int(sessions.lifetime.total_seconds()),
            path=base + "/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    @app.post("/logout", name="logout")
    async def logout(request: Request) -> Response:
        base = base_of(request)
        sessions.end(request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse(f"{base}/login", status.HTTP_303_SEE_OTHER)
        response.delete_cookie(SESSION_COOKIE, path=base + "/", httponly=True, samesite="strict")
        return response

    # -------------------------------------------------------------- pages

    @pages.get("/", response_class=HTMLResponse, name="overview")
    async def overview(request: Request) -> HTMLResponse:
        reading = await sources.registry.reading()
        taken: HubStatus = await gather_status(
            sources.status, now=now(), kafka_timeout=status_timeout
        )
        by_status: Counter[str] = Counter()
        by_department: Counter[str] = Counter()
        for count in taken.store_counts:
            by_status[count.status.value] += count.offers
            by_department[count.department or "-"] += count.offers
        names = {d.diffuser_id: d.name for d in reading.registry.diffusers.values()} | {
            org_id: org.name for org_id, org in reading.registry.organisations.items()
        }
        context = {
            "status": taken,
            "by_status": sorted(by_status.items()),
            "by_department": sorted(by_department.items()),
            "names": names,
            "problems": taken.problems,
        }
        return await page(request, "overview.html", context, reading)

    @pages.get("/offers", response_class=HTMLResponse, name="offers")
    async def offers(
        request: Request,
        q: Annotated[str, Query(max_length=200)] = "",
        after: Annotated[str, Query(max_length=200)] = "",
    ) -> Response:
        wanted = q.strip()
        if wanted and not after:
            found = await asyncio.to_thread(sources.store.offer, wanted)
            if found is not None:
                target = f"{base_of(request)}/offers/{quote(wanted, safe='')}"
                return RedirectResponse(target, status.HTTP_303_SEE_OTHER)
        rows, more = await asyncio.to_thread(_offer_rows, sources.store, after or wanted, wanted)
        context = {"rows": rows, "q": wanted, "after": after, "more": more}
        return await page(request, "offers.html", context)

    @pages.get("/offers/{offer_id}", response_class=HTMLResponse, name="offer")
    async def offer(
        request: Request, offer_id: Annotated[str, Path(max_length=200)]
    ) -> HTMLResponse:
        reading = await sources.registry.reading()
        data = await asyncio.to_thread(_offer_page, sources, reading.registry, offer_id)
        if data is None:
            context = {"what": f"offer {offer_id!r}", "hint": "Look it up in the offer list."}
            return await page(request, "not_found.html", context, reading, status_code=404)
        return await page(request, "offer.html", {"page": data}, reading)

    @pages.get("/rejections", response_class=HTMLResponse, name="rejections")
    async def rejections(
        request: Request,
        contributor: Annotated[str, Query(max_length=200)] = "",
        limit: Annotated[int, Query(ge=1, le=MAX_REJECTIONS)] = REJECTIONS_STEP,
    ) -> HTMLResponse:
        reading = await sources.registry.reading()
        chosen = contributor.strip() or None
        found: list[StoredRejection] = await asyncio.to_thread(
            sources.store.rejections, chosen, limit + 1
        )
        organisations = sorted(reading.registry.organisations.values(), key=lambda org: org.org_id)
        context = {
            "contributor": chosen,
            "contributor_name": organisation_name(reading.registry, chosen) if chosen else "",
            "rows": found[:limit],
            "more": len(found) > limit and limit < MAX_REJECTIONS,
            "limit": limit,
            "next_limit": min(limit + REJECTIONS_STEP, MAX_REJECTIONS),
            "organisations": organisations,
        }
        return await page(request, "rejections.html", context, reading)

    @pages.get("/diffusers", response_class=HTMLResponse, name="diffusers")
    async def diffusers(request: Request) -> HTMLResponse:
        reading = await sources.registry.reading()
        rows = await asyncio.to_thread(_diffuser_rows, sources, reading.registry, now())
        return await page(request, "diffusers.html", {"rows": rows}, reading)

    @pages.get("/diffusers/{diffuser_id}", response_class=HTMLResponse, name="diffuser")
    async def diffuser(
        request: Request, diffuser_id: Annotated[str, Path(max_length=200)]
    ) -> HTMLResponse:
        reading = await sources.registry.reading()
        rows = await asyncio.to_thread(_diffuser_rows, sources, reading.registry, now())
        row = next((r for r in rows if r.diffuser_id == diffuser_id), None)
        if row is None:
            missing = {
                "what": f"diffuser {diffuser_id!r}",
                "hint": "The registry has no such diffuser; see the diffuser list.",
            }
            return await page(request, "not_found.html", missing, reading, status_code=404)
        in_feed, recent = await asyncio.to_thread(
            _feed_detail, sources.feeds, diffuser_id, row.head
        )
        detail = {"row": row, "in_feed": in_feed, "recent": recent}
        return await page(request, "diffuser.html", detail, reading)

    app.include_router(pages)
    return app
