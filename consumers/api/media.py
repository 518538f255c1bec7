"""Media types of the feed API and the choice between native JSON and JSON-LD.

JSON-LD is chosen by `?format=jsonld`, or by an `Accept` header that prefers
`application/ld+json` at least as much as JSON (`application/json`, `application/*`, `*/*`);
`?format=json` forces JSON. Anything else gets JSON, the default.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from fastapi.responses import JSONResponse, StreamingResponse

from consumers.api.native import encode

JSON: Final = "application/json"
JSON_LD: Final = "application/ld+json"
NDJSON: Final = "application/x-ndjson"

Format = Literal["json", "jsonld"]

_JSON_RANGES: Final = frozenset({JSON, "application/*", "*/*"})


class JsonResponse(JSONResponse):
    """A JSON body, compact and with non-ASCII characters as they are."""

    def render(self, content: Any) -> bytes:
        return encode(content)


class JsonLdResponse(JsonResponse):
    media_type = JSON_LD


class NdjsonResponse(StreamingResponse):
    media_type = NDJSON


def _quality(parameters: str) -> float:
    for parameter in parameters.split(";"):
        name, _, value = parameter.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                return min(max(float(value), 0.0), 1.0)
            except ValueError:
                return 0.0
    return 1.0


def wants_jsonld(accept: str | None, requested: Format | None) -> bool:
    """Whether to answer in JSON-LD (see the module docstring)."""
    if requested is not None:
        return requested == "jsonld"
    best_jsonld = best_json = 0.0
    for media_range in (accept or "").split(","):
        media, _, parameters = media_range.partition(";")
        media = media.strip().lower()
        if media == JSON_LD:
            best_jsonld = max(best_jsonld, _quality(parameters))
        elif media in _JSON_RANGES:
            best_json = max(best_json, _quality(parameters))
    return best_jsonld > 0 and best_jsonld >= best_json
