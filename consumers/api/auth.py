"""Who is calling, and what they may read: API keys against the feed store and the registry.

A key comes in the `X-API-Key` header or as `Authorization: Bearer KEY` (the first wins if both
are sent). Guarantees:
- No key, one the store does not know, or one that was revoked (`sitn api key revoke` or
  `rotate`) is 401, the last saying so; no message repeats the key.
- A key whose owner is no longer in the registry in force (`hub.registry.source`) is 401 once the
  API has read that registry (within 30 s of its change), whatever the store says; while no
  registry could be read yet, 503.
- A key that belongs to someone else than the feed or rejections asked for is 403, with a message
  that names only what was asked for, never whose the key is (`feed_reader`,
  `rejections_reader`: declared once per router, not in every endpoint).
- The operators' endpoints (`operator`) need the operator key (`hub.dashboard.access`), as an
  API key, a bearer token or a Basic password (so a browser asks for it on /docs), compared in
  constant time.
Keys are compared only as `consumers.feeds.keys.hash_key` digests: the store holds nothing else.
Store reads run in a worker thread, never on the event loop.
"""

# No `from __future__ import annotations`: FastAPI reads the dependencies' annotations at run
# time, and those defined inside the factories below name the factories' arguments.
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Final

from fastapi import Depends, HTTPException, Path, Security, status
from fastapi.security import (
    APIKeyHeader,
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
)
from starlette.concurrency import run_in_threadpool

from consumers.feeds.keys import hash_key
from consumers.feeds.port import FeedStore, KeyOwner
from hub.dashboard.access import OperatorKey
from hub.registry.source import RegistrySource

__all__ = ["API_KEY_HEADER", "authenticator", "feed_reader", "operator", "rejections_reader"]

API_KEY_HEADER: Final = "X-API-Key"

log = logging.getLogger("sitn.api")

_api_key = APIKeyHeader(
    name=API_KEY_HEADER,
    scheme_name="ApiKey",
    description="The key the SITN operators gave you (`sitn api key create`).",
    auto_error=False,
)
_bearer = HTTPBearer(
    scheme_name="Bearer",
    description="The same key, sent as `Authorization: Bearer KEY`.",
    auto_error=False,
)
_basic = HTTPBasic(
    scheme_name="OperatorBasic",
    description="The operator key as the password (any user name), for browsers.",
    auto_error=False,
)

_CHALLENGE: Final = {"WWW-Authenticate": f'Bearer, ApiKey header="{API_KEY_HEADER}"'}
_OPERATOR_CHALLENGE: Final = {"WWW-Authenticate": 'Basic realm="SITN operators"'}

Authenticator = Callable[..., Awaitable[KeyOwner]]


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message, headers=_CHALLENGE)


def authenticator(feeds: FeedStore, registry: RegistrySource) -> Authenticator:
    """The dependency that names the caller of a request from its key (401 if it cannot)."""

    async def caller(
        api_key: Annotated[str | None, Security(_api_key)],
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    ) -> KeyOwner:
        key = api_key or (bearer.credentials if bearer is not None else None)
        if not key:
            raise _unauthorized(
                f"no API key: send yours in the {API_KEY_HEADER} header "
                "(or as Authorization: Bearer KEY)"
            )
        stored = await run_in_threadpool(feeds.key, hash_key(key))
        if stored is None:
            raise _unauthorized(
                "this API key is not known (mistyped?); ask the SITN operators for a key"
            )
        if not stored.in_force:
            raise _unauthorized(
                f"this API key (id {stored.key_id}) was revoked; ask the SITN operators for a "
                "new one"
            )
        reading = await registry.reading()
        known = reading.registry.diffusers if stored.owner.kind == "diffuser" else None
        holders = known if known is not None else reading.registry.organisations
        if stored.owner.owner_id in holders:
            return stored.owner
        if reading.problem is not None and not (
            reading.registry.diffusers or reading.registry.organisations
        ):
            log.warning("API keys cannot be checked: %s", reading.problem)
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                "the registry could not be read, so no key can be checked now; try again in a "
                "minute",
                headers={"Retry-After": "60"},
            )
        raise _unauthorized(
            f"this API key (id {stored.key_id}) belongs to a {stored.owner.kind} no longer in "
            "the SITN registry, so it opens nothing; ask the SITN operators"
        )

    return caller


def feed_reader(caller: Authenticator) -> Callable[..., Awaitable[KeyOwner]]:
    """The dependency of the feed routes: the caller must be the diffuser of the path (403)."""

    async def reader(
        diffuser: Annotated[str, Path()], owner: Annotated[KeyOwner, Depends(caller)]
    ) -> KeyOwner:
        if owner != ("diffuser", diffuser):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this API key does not open the feed of {diffuser!r}; use the key the SITN "
                "operators gave for that feed",
            )
        return owner

    return reader


def rejections_reader(caller: Authenticator) -> Callable[..., Awaitable[KeyOwner]]:
    """The dependency of the rejections routes: the caller must be the contributor (403)."""

    async def reader(
        org: Annotated[str, Path()], owner: Annotated[KeyOwner, Depends(caller)]
    ) -> KeyOwner:
        if owner != ("contributor", org):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this API key does not open the rejections of {org!r}; use the key the SITN "
                "operators gave for them",
            )
        return owner

    return reader


def operator(key: OperatorKey | None, what: str, opener: str) -> Callable[..., Awaitable[None]]:
    """The dependency of the operators' endpoints (`what` names them, `opener` is the setting
    that would open them to all): 401 without the key."""

    async def check(
        api_key: Annotated[str | None, Security(_api_key)],
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
        basic: Annotated[HTTPBasicCredentials | None, Security(_basic)],
    ) -> None:
        if key is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                f"{what} need the operator key, and this API runs without one; set "
                f"SITN_OPERATOR_KEY, or {opener} to open them to everyone",
            )
        given = api_key or (
            bearer.credentials if bearer is not None else basic.password if basic else None
        )
        if given is None or not key.matches(given):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                f"{what} need the operator key (SITN_OPERATOR_KEY, or the SITN_HOME/operator-key "
                f"file): send it in the {API_KEY_HEADER} header, as a bearer token, or as the "
                "password of Basic authentication",
                headers=_OPERATOR_CHALLENGE,
            )

    return check
