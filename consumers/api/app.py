"""The HTTP feed API (FastAPI): diffusers read their feeds, contributors their rejections.

`create_app(feeds, store)` builds the application around a feed store and the regional store;
nothing is built at import time. Endpoints (all behind an API key, see `consumers.api.auth`):

- ``GET /v1/feeds/{diffuser}/changes?after=CURSOR&limit=N``: the feed from a cursor, oldest first,
  upserts and removals (tombstones); resumable with `next_cursor`;
- ``GET /v1/feeds/{diffuser}/offers/{offer_id}``: an offer as the diffuser currently receives it,
  404 if it is not in the diffuser's feed (never diffused to it, or removed since);
- ``GET /v1/feeds/{diffuser}/snapshot``: every offer currently in the feed, streamed as JSON lines;
  the `X-Feed-Cursor` header is where to follow the changes from afterwards;
- ``GET /v1/contributors/{org}/rejections?after=CURSOR&limit=N``: a contributor's rejections;
- ``GET /metrics`` (with `metrics` sources, no key): Prometheus metrics, `hub.operations.metrics`.

With `dashboard`, the operators' dashboard (`hub.dashboard`) is mounted under ``/dashboard``
(its own login; not part of the OpenAPI document).

Feeds answer native JSON or JSON-LD (`consumers.api.media`). `limit` is 1..1000 (default 100); a
malformed parameter is 422. The OpenAPI document is at ``/openapi.json``, with every body typed
(`consumers.api.models`, `consumers.api.jsonld_schema`). Endpoints are plain `def` functions:
FastAPI runs them in its threadpool, so the stores' blocking calls never run on the event loop, and
the snapshot's iterator is consumed there too (Starlette iterates a sync iterator in a thread).
"""

# No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations at run
# time, and those of the endpoints defined inside `create_app` name its local `Caller`.
from collections.abc import Iterator
from typing import Annotated, Any, Final

from fastapi import Depends, FastAPI, Header, HTTPException, Path, Query, Request, status
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.types import ASGIApp

from consumers.api import jsonld, native
from consumers.api.auth import authenticator, require
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
from consumers.feeds.port import FeedStore, KeyOwner
from hub.operations.metrics import add_metrics
from hub.operations.status import StatusSources
from hub.store.port import RegionalStore

API_VERSION: Final = "1.0.0"
MAX_LIMIT: Final = 1000
DEFAULT_LIMIT: Final = 100
CURSOR_HEADER: Final = "X-Feed-Cursor"

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
        401: "No API key, or one that is not known.",
        403: "The key belongs to another diffuser or contributor.",
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


def create_app(
    feeds: FeedStore,
    store: RegionalStore,
    *,
    metrics: StatusSources | None = None,
    dashboard: ASGIApp | None = None,
) -> FastAPI:
    """The feed API over `feeds` (entries and keys) and `store` (the contributors' rejections);
    with `metrics`, also ``/metrics`` over those sources."""
    app = FastAPI(
        title="SITN Hub feeds",
        version=API_VERSION,
        description=_DESCRIPTION,
        redoc_url=None,
    )
    Caller = Annotated[KeyOwner, Depends(authenticator(feeds))]

    def page_of(diffuser: str, after: FeedCursor, limit: int) -> tuple[list[Any], bool]:
        entries = feeds.changes(diffuser, after, limit + 1)
        if not entries and after.ahead_of(feeds.head(diffuser)):
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                f"cursor {after} is beyond the end of diffuser {diffuser!r}'s feed: use only "
                "cursors this feed gave you, or start again from its snapshot",
            )
        return entries[:limit], len(entries) > limit

    @app.get(
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
        caller: Caller,
        accept: Accept = None,
        after: FeedAfter = "0",
        limit: Limit = DEFAULT_LIMIT,
        format_: FormatChoice = None,
    ) -> Response:
        """Entries of the feed after `after`, oldest first: upserts and removals (tombstones).

        Store `next_cursor` and pass it as `after` next time; `has_more` says whether to ask
        again at once.
        """
        require(caller, "diffuser", diffuser, f"the feed of {diffuser!r}")
        start = FeedCursor.parse(after)  # the query pattern lets only cursor texts through
        page, has_more = page_of(diffuser, start, limit)
        if wants_jsonld(accept, format_):
            document = jsonld.changes_document(diffuser, page, start, has_more)
            return JsonLdResponse(document)
        body = native.changes_json(diffuser, page, start, has_more)
        return JsonResponse(body)

    @app.get(
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
        caller: Caller,
        accept: Accept = None,
        format_: FormatChoice = None,
    ) -> Response:
        """The offer's last upsert in the feed; 404 if the feed never had it or removed it."""
        require(caller, "diffuser", diffuser, f"the feed of {diffuser!r}")
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

    @app.get(
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
        caller: Caller,
        accept: Accept = None,
        format_: FormatChoice = None,
    ) -> NdjsonResponse:
        """Streamed: each offer's last upsert in the feed, in feed order, one per line."""
        require(caller, "diffuser", diffuser, f"the feed of {diffuser!r}")
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

    @app.get(
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
        caller: Caller,
        after: After = "0",
        limit: Limit = DEFAULT_LIMIT,
    ) -> JsonResponse:
        """What the collection rules refused of this contributor, in the order it was recorded."""
        require(caller, "contributor", org, f"the rejections of {org!r}")
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
    if metrics is not None:
        add_metrics(app, metrics)
    if dashboard is not None:
        app.mount("/dashboard", dashboard)
    return app
