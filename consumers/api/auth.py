"""Who is calling: the API key of a request, checked against the feed store's hashed keys.

A key comes in the `X-API-Key` header or as `Authorization: Bearer KEY` (the first wins if both
are sent). No key, one the store does not know, or one that was revoked (`sitn api key revoke`
or `rotate`) is 401, the last saying so; a key that belongs to someone else
than the feed or rejections asked for is 403 (`require`). Keys are compared only as
`consumers.feeds.keys.hash_key` digests: the store holds nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Final

from fastapi import HTTPException, Security, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from consumers.feeds.keys import hash_key
from consumers.feeds.port import FeedStore, KeyOwner, OwnerKind

API_KEY_HEADER: Final = "X-API-Key"

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

_CHALLENGE: Final = {"WWW-Authenticate": f'Bearer, ApiKey header="{API_KEY_HEADER}"'}


def authenticator(feeds: FeedStore) -> Callable[..., KeyOwner]:
    """The dependency that names the caller of a request from its key (401 if it cannot)."""

    def caller(
        api_key: Annotated[str | None, Security(_api_key)],
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    ) -> KeyOwner:
        key = api_key or (bearer.credentials if bearer is not None else None)
        if not key:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                f"no API key: send yours in the {API_KEY_HEADER} header "
                "(or as Authorization: Bearer KEY)",
                headers=_CHALLENGE,
            )
        stored = feeds.key(hash_key(key))
        if stored is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "this API key is not known (mistyped?); ask the SITN operators for a key",
                headers=_CHALLENGE,
            )
        if not stored.in_force:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                f"this API key (id {stored.key_id}) was revoked; ask the SITN operators for a "
                "new one",
                headers=_CHALLENGE,
            )
        return stored.owner

    return caller


def require(owner: KeyOwner, kind: OwnerKind, owner_id: str, what: str) -> None:
    """403 unless the caller is `owner_id` of `kind` (`what` names the resource asked for)."""
    if owner != (kind, owner_id):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"this key belongs to {owner.kind} {owner.owner_id!r}; {what} needs the key of "
            f"{kind} {owner_id!r}",
        )
