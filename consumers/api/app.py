"""The HTTP feed API (FastAPI): diffusers read their feeds, contributors their rejections.

`create_app(feeds, store, registry=...)` builds the application around a feed store, the regional
store and the registry in force; nothing is built at import time. Endpoints (the feeds' and the
rejections' behind an API key, checked once per router, see `consumers.api.auth`):

- ``GET /v1/feeds/{diffuser}/changes?after=CURSOR&limit=N``: the feed from a cursor, oldest first,
  upserts and removals (tombstones); resumable with `next_cursor`;
- ``GET /v1/feeds/{diffuser}/offers/{offer_id}``: an offer as the diffuser currently receives it,
  404 if it is not in the diffuser's feed (never diffused to it, or removed since);
- ``GET /v1/feeds/{diffuser}/snapshot``: every offer currently in the feed, streamed as JSON lines;
  the `X-Feed-Cursor` header is where to follow the changes from afterwards;
- ``GET /v1/contributors/{org}/rejections?after=CURSOR&limit=N``: a contributor's rejections;
- ``GET /v1/context.jsonld``: the JSON-LD context (no key: JSON-LD processors fetch it);
- ``GET /openapi.json`` and ``GET /docs`` (Swagger UI): the operator key, unless `public_docs`;
- ``GET /metrics`` (with `metrics` sources): Prometheus metrics, `hub.operations.metrics`; the
  operator key, unless `public_metrics`.

With `dashboard`, the operators' dashboard (`hub.dashboard`) is mounted under ``/dashboard``
(its own login; not part of the OpenAPI document). Every request's body, on every path, is
limited to `max_body` bytes (`consumers.api.body_limit`: 413 beyond).

Feeds answer native JSON or JSON-LD (`consumers.api.media`). `limit` is 1..1000 (default 100); a
malformed parameter is 422. Every body of the OpenAPI document is typed
(`consumers.api.models`, `consumers.api.jsonld_schema`). Endpoints are plain `def` functions:
FastAPI runs them in its threadpool, so the stores' blocking calls never run on the event loop, and
the snapshot's iterator is consumed there too (Starlette iterates a sync iterator in a thread).
"""

# No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations at run
# time.
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Path, Query, Request, status
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.types import ASGIApp

from consumers.api import jsonld, native
from consumers.api.auth import authenticator, feed_reader, operator, rejections_reader
from consumers.api.body_limit import DEFAULT_MAX_BODY, BodyLimit
from consumers.api.jsonld_schema import DOCUMENTS
from consumers.api.media import (
    JSON,
    JSON_LD,
    NDJSON,
    Format,
    JsonLdResponse,
    JsonResponse,
    NdjsonResponse,
    wants_jsonld,
)
from consumers.api.models import (
    CURSOR_PATTERN,
    FEED_CURSOR_PATTERN,
    ChangesPage,
    ErrorBody,
    FeedChange,
    RejectionsPage,
)
from consumers.api.native import encode
from consumers.feeds.cursor import FeedCursor
from consumers.feeds.port import FeedStore
from hub.dashboard.access import OperatorKey
from hub.operations.metrics import add_metrics
from hub.operations.status import StatusSources
from hub.registry.source import RegistrySource
from hub.store.port import RegionalStore

API_VERSION: Final = "1.0.0"
MAX_LIMIT: Final = 1000
DEFAULT_LIMIT: Final = 100
CURSOR_HEADER: Final = "X-Feed-Cursor"
# What opens the operators' endpoints to everyone (`hub.settings`, `sitn api serve --help`).
_OPEN_DOCS: Final = "SITN_API_PUBLIC_DOCS=1"
_OPEN_METRICS: Final = "SITN_API_PUBLIC_METRICS=1"

_DESCRIPTION: Final = """\
The diffusion feeds of SITN Hub, Normandy's regional tourism information system.

Each diffuser reads **its own feed**: the offers its convention covers, as full upserts of its
view of each offer, and explicit removals (tombstones) when an offer leaves its scope. Every
entry carries `(offer_id, version)`, so a consumer can drop a duplicate; a feed never shows an
offer going back to a lower version. Start with the snapshot, then follow the changes from the
cursor the snapshot gave (`X-Feed-Cursor`), storing `next_cursor` after each page.

Contributors read **their rejections**: what the collection rules refused and what to fix.

Authenticate with your API key in the `X-API-Key` header, or as `Authorization: Bearer KEY`.
Feeds answer native JSON, or JSON-LD (schema.org / DATAtourisme style) with
`Accept: application/ld+json` or `?format=jsonld`.
"""


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    meanings = {
        401: "No API key, one that is not known or was revoked, or one whose owner left the "
        "registry.",
        403: "The key is not the one of this feed or contributor.",
        404: "The offer is not in this diffuser's feed.",
        409: "The cursor is beyond the end of the feed.",
    }
    # Spelled out: with `model`, FastAPI would give errors the route's media type (JSON lines
    # for the snapshot), while every error is JSON.
    error = {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
    return {code: {"description": meanings[code], "content": {JSON: error}} for code in codes}


def _jsonld_alternative(component: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {JSON_LD: {"schema": {"$ref": f"#/components/schemas/{component}"}}}}}


DiffuserId = Annotated[
    str, Path(description="The diffuser's id in the registry.", examples=["tourisme-fr"])
]
OfferId = Annotated[str, Path(description="The offer's id.", examples=["HOTNOR0140000123"])]
ContributorId = Annotated[
    str, Path(description="The contributor's organisation id.", examples=["ot-caen-la-mer"])
]
After = Annotated[
    str,
    Query(
        pattern=CURSOR_PATTERN,
        description="Give what comes after this cursor (a `next_cursor` or `cursor` received "
        "from this same feed; 0 or absent: from the start).",
    ),
]
FeedAfter = Annotated[
    str,
    Query(
        pattern=FEED_CURSOR_PATTERN,
        description="Give what comes after this cursor (a `next_cursor`, `cursor` or "
        "`X-Feed-Cursor` received from this same feed; 0 or absent: from the start).",
    ),
]
Limit = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description=f"At most this many items (1..{MAX_LIMIT}).")
]
FormatChoice = Annotated[
    Format | None,
    Query(
        alias="format",
        description="`jsonld` for JSON-LD, `json` for native JSON; else the Accept header decides.",
    ),
]
Accept = Annotated[str | None, Header(include_in_schema=False)]


def _docs(openapi: Callable[[], dict[str, Any]], dependencies: list[Any]) -> APIRouter:
    """``/openapi.json`` and ``/docs`` (Swagger UI), behind `dependencies`."""
    docs = APIRouter(dependencies=dependencies)

    @docs.get("/openapi.json", include_in_schema=False)
    async def openapi_document() -> JSONResponse:
        return JSONResponse(openapi())

    @docs.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return get_swagger_ui_html(openapi_url=f"{root}/openapi.json", title="SITN Hub feeds")

    return docs


def create_app(
    feeds: FeedStore,
    store: RegionalStore,
    *,
    registry: RegistrySource,
    operator_key: OperatorKey | None = None,
    public_docs: bool = False,
    public_metrics: bool = False,
    max_body: int = DEFAULT_MAX_BODY,
    metrics: StatusSources | None = None,
    dashboard: ASGIApp | None = None,
) -> FastAPI:
    """The feed API over `feeds` (entries and keys), `store` (the contributors' rejections) and
    `registry` (whose keys still open anything); with `metrics`, also ``/metrics`` over those
    sources. The docs and metrics need `operator_key` unless `public_docs` / `public_metrics`;
    every request body is limited to `max_body` bytes (`consumers.api.body_limit`)."""
    app = FastAPI(
        title="SITN Hub feeds",
        version=API_VERSION,
        description=_DESCRIPTION,
        docs_url=None,  # served below, behind the operator key unless `public_docs`
        redoc_url=None,
        openapi_url=None,
    )
    app.add_middleware(BodyLimit, max_bytes=max_body)
    caller = authenticator(feeds, registry)
    diffusers = APIRouter(dependencies=[Depends(feed_reader(caller))])
    contributors = APIRouter(dependencies=[Depends(rejections_reader(caller))])

    def page_of(diffuser: str, after: FeedCursor, limit: int) -> tuple[list[Any], bool]:
        entries = feeds.changes(diffuser, after, limit + 1)
        if not entries and after.ahead_of(feeds.head(diffuser)):
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                f"cursor {after} is beyond the end of diffuser {diffuser!r}'s feed: use only "
                "cursors this feed gave you, or start again from its snapshot",
            )
        return entries[:limit], len(entries) > limit

    @diffusers.get(
        "/v1/feeds/{diffuser}/changes",
        operation_id="feedChanges",
        tags=["diffusers"],
        summary="A diffuser's feed from a cursor",
        response_model=ChangesPage,
        response_class=JsonResponse,
        responses={**_jsonld_alternative("LdChangesPage"), **_errors(401, 403, 409)},
    )
    def changes(
        diffuser: DiffuserId,
        accept: Accept = None,
        after: FeedAfter = "0",
        limit: Limit = DEFAULT_LIMIT,
        format_: FormatChoice = None,
    ) -> Response:
        """Entries of the feed after `after`, oldest first: upserts and removals (tombstones).

        Store `next_cursor` and pass it as `after` next time; `has_more` says whether to ask
        again at once.
        """
        start = FeedCursor.parse(after)  # the query pattern lets only cursor texts through
        page, has_more = page_of(diffuser, start, limit)
        if wants_jsonld(accept, format_):
            document = jsonld.changes_document(diffuser, page, start, has_more)
            return JsonLdResponse(document)
        body = native.changes_json(diffuser, page, start, has_more)
        return JsonResponse(body)

    @diffusers.get(
        "/v1/feeds/{diffuser}/offers/{offer_id}",
        operation_id="feedOffer",
        tags=["diffusers"],
        summary="An offer as a diffuser currently receives it",
        response_model=FeedChange,
        response_class=JsonResponse,
        responses={**_jsonld_alternative("LdOfferDocument"), **_errors(401, 403, 404)},
    )
    def offer(
        diffuser: DiffuserId,
        offer_id: OfferId,
        accept: Accept = None,
        format_: FormatChoice = None,
    ) -> Response:
        """The offer's last upsert in the feed; 404 if the feed never had it or removed it."""
        head = feeds.head(diffuser)  # first: nothing later of this offer is before it
        entry = feeds.current(diffuser, offer_id)
        if entry is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND,
                f"offer {offer_id!r} is not in diffuser {diffuser!r}'s feed: it was never "
                "diffused to it, or was removed since (see the removal in the changes)",
            )
        if wants_jsonld(accept, format_):
            return JsonLdResponse(jsonld.offer_document(entry))
        return JsonResponse(native.change_json(entry, head))

    @diffusers.get(
        "/v1/feeds/{diffuser}/snapshot",
        operation_id="feedSnapshot",
        tags=["diffusers"],
        summary="Every offer currently in a diffuser's feed, as JSON lines",
        response_class=NdjsonResponse,
        responses={
            200: {
                "description": "One offer per line: a `FeedChange` upsert, or in JSON-LD an "
                "offer document whose `@context` is the URL of `/v1/context.jsonld`.",
                "headers": {
                    CURSOR_HEADER: {
                        "description": "Follow the changes from here once the snapshot is read.",
                        "schema": {"type": "string", "pattern": FEED_CURSOR_PATTERN},
                        "required": True,
                    }
                },
            },
            **_errors(401, 403),
        },
    )
    def snapshot(
        diffuser: DiffuserId,
        request: Request,
        accept: Accept = None,
        format_: FormatChoice = None,
    ) -> NdjsonResponse:
        """Streamed: each offer's last upsert in the feed, in feed order, one per line."""
        head = feeds.head(diffuser)
        as_jsonld = wants_jsonld(accept, format_)
        context_url = str(request.url_for("jsonld_context"))

        def lines() -> Iterator[bytes]:
            for entry in feeds.snapshot(diffuser, upto=head):
                body = (
                    jsonld.offer_document(entry, context_url)
                    if as_jsonld
                    else native.change_json(entry, head)
                )
                yield encode(body) + b"\n"

        return NdjsonResponse(lines(), headers={CURSOR_HEADER: str(head)})

    @contributors.get(
        "/v1/contributors/{org}/rejections",
        operation_id="contributorRejections",
        tags=["contributors"],
        summary="A contributor's rejections from a cursor",
        response_model=RejectionsPage,
        response_class=JsonResponse,
        responses=_errors(401, 403),
    )
    def rejections(
        org: ContributorId,
        after: After = "0",
        limit: Limit = DEFAULT_LIMIT,
    ) -> JsonResponse:
        """What the collection rules refused of this contributor, in the order it was recorded."""
        start = int(after)
        items = store.rejections_after(org, start, limit + 1)
        page = items[:limit]
        next_cursor = page[-1].seq if page else start
        body = native.rejections_json(org, page, next_cursor, len(items) > limit)
        return JsonResponse(body)

    @app.get(
        "/v1/context.jsonld",
        operation_id="jsonldContext",
        name="jsonld_context",
        tags=["diffusers"],
        summary="The JSON-LD context of the feeds",
        response_class=JsonLdResponse,
        responses={200: {"content": {JSON_LD: {"schema": {"type": "object"}}}}},
    )
    def context() -> JsonLdResponse:
        """The `@context` the JSON-LD snapshot lines refer to (the same as documents inline)."""
        return JsonLdResponse({"@context": jsonld.CONTEXT})

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            extra_models: tuple[type[BaseModel], ...] = (*DOCUMENTS, ErrorBody)
            _, definitions = models_json_schema(
                [(model, "serialization") for model in extra_models],
                ref_template="#/components/schemas/{model}",
            )
            document["components"]["schemas"].update(definitions["$defs"])
            # JSON lines: the body is text, each line one item (OpenAPI 3.2's `itemSchema`, as
            # FastAPI writes it for its own JSON-lines responses).
            snapshot_ok = document["paths"]["/v1/feeds/{diffuser}/snapshot"]["get"]["responses"]
            snapshot_ok["200"]["content"] = {
                NDJSON: {
                    "schema": {"type": "string"},
                    "itemSchema": {
                        "anyOf": [
                            {"$ref": "#/components/schemas/FeedChange"},
                            {"$ref": "#/components/schemas/LdOfferDocument"},
                        ]
                    },
                }
            }
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override
    app.include_router(diffusers)
    app.include_router(contributors)
    docs_gate = [] if public_docs else [Depends(operator(operator_key, "the docs", _OPEN_DOCS))]
    app.include_router(_docs(openapi, docs_gate))
    if metrics is not None:
        gate = [] if public_metrics else [Depends(operator(operator_key, "metrics", _OPEN_METRICS))]
        ops = APIRouter(dependencies=gate)
        add_metrics(ops, metrics)
        app.include_router(ops)
    if dashboard is not None:
        app.mount("/dashboard", dashboard)
    return app
