"""Which requests may change the dashboard's state: only those its own pages sent.

A page of another site can make an operator's browser POST a form to the dashboard (log in
with a key of the attacker's choosing, log out, or anything added later). Every request that is
not a GET, HEAD or OPTIONS must therefore say it comes from the dashboard's own origin:
- its `Origin` header, which browsers send with every such request, must be the origin the
  request was sent to (scheme, host and port, as the API sees them);
- without an `Origin`, its `Referer` must start with that origin;
- with neither, or with ``Origin: null`` (what a browser sends from a sandboxed or
  cross-origin-hidden page), the request is refused.
`cross_origin_refusal` says why a request is refused, or None; the dashboard answers 403 with it.
The dashboard's pages set ``Referrer-Policy: same-origin``: with ``no-referrer`` a browser would
send ``Origin: null`` even for the dashboard's own forms.
Behind a reverse proxy, the API must see the host and scheme the browser used (Host header and
uvicorn's proxy headers), or every form is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final
from urllib.parse import urlsplit

SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


def _origin_of(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def cross_origin_refusal(method: str, headers: Mapping[str, str], own_origin: str) -> str | None:
    """Why a request with `method` and `headers` sent to `own_origin` is refused, or None."""
    if method.upper() in SAFE_METHODS:
        return None
    own = own_origin.lower().rstrip("/")
    origin = headers.get("origin")
    if origin is not None:
        if origin.strip().lower().rstrip("/") == own:
            return None
        return (
            f"this {method} comes from another site (Origin {origin[:100]!r}, not {own!r}); "
            "open the dashboard's own page and send the form from there"
        )
    referer = headers.get("referer")
    if referer is not None and _origin_of(referer) == own:
        return None
    return (
        f"this {method} does not say it comes from the dashboard's pages (no Origin header, and "
        f"no Referer on {own!r}); send it from the dashboard's page, or add 'Origin: {own}'"
    )
