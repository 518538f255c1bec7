"""Who may open the operators' dashboard: the operator key, and the sessions it opens.

Operators enter one shared key in the dashboard's login form (`SITN_OPERATOR_KEY`, or, when it is
not set, a random key created once in ``SITN_HOME/operator-key`` with owner-only permissions).
A right key opens a session, whose random token the browser keeps in a cookie; every page needs
one. Guarantees:
- The key is compared in constant time (`hmac.compare_digest`) and never written to a cookie,
  a page or a log; the cookie holds only a random token (32 bytes), and the dashboard keeps only
  the token's SHA-256, so its memory does not hold a usable cookie either.
- Sessions are kept by the dashboard's process (`Sessions`), so the server decides: logging out
  ends the session there and its cookie no longer opens anything, even if a browser kept it; a
  session lasts `SESSION_LIFETIME`; restarting the API (which changing the operator key needs)
  ends every session. At most `MAX_SESSIONS` are open at once; a new one ends the oldest.
- A key shorter than `MIN_KEY_LENGTH` characters is refused where it is read, naming where it
  came from and how to make a good one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from hub.settings import Settings

OPERATOR_KEY_VARIABLE: Final = "SITN_OPERATOR_KEY"
KEY_FILE_NAME: Final = "operator-key"
MIN_KEY_LENGTH: Final = 16
SESSION_LIFETIME: Final = timedelta(hours=12)
MAX_SESSIONS: Final = 256
# A wall clock set back a little after a login is an adjustment, not a reason to end a session.
_CLOCK_SKEW: Final = timedelta(minutes=1)
# A token is 43 characters; anything much longer is not one and is not worth hashing.
_MAX_TOKEN_LENGTH: Final = 128


class OperatorKeyError(ValueError):
    """The operator key cannot be used (too short, or its file cannot be read or written)."""


@dataclass(frozen=True)
class OperatorKey:
    """The key operators enter, and where it came from (to tell them without showing it)."""

    value: str = field(repr=False)
    origin: str  # "SITN_OPERATOR_KEY", or the path of the key file

    @property
    def from_environment(self) -> bool:
        return self.origin == OPERATOR_KEY_VARIABLE

    def matches(self, given: str) -> bool:
        """True if `given` is this key (compared in constant time)."""
        return hmac.compare_digest(given.strip().encode(), self.value.encode())


def make_key() -> str:
    """A new random operator key (32 bytes, URL-safe)."""
    return secrets.token_urlsafe(32)


def checked_key(value: str, origin: str) -> OperatorKey:
    """`value` as the operator key, or `OperatorKeyError` saying what is wrong with it."""
    key = value.strip()
    if len(key) < MIN_KEY_LENGTH:
        raise OperatorKeyError(
            f"the operator key from {origin} has {len(key)} characters; use at least "
            f"{MIN_KEY_LENGTH} (for instance the output of "
            "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    return OperatorKey(key, origin)


def load_operator_key(settings: Settings) -> OperatorKey:
    """`SITN_OPERATOR_KEY` if set, else the key in ``SITN_HOME/operator-key`` (made if absent)."""
    if settings.operator_key_override is not None:
        return checked_key(settings.operator_key_override, OPERATOR_KEY_VARIABLE)
    path = settings.home / KEY_FILE_NAME
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(make_key() + "\n")
        return checked_key(path.read_text(), str(path))
    except OSError as error:
        raise OperatorKeyError(
            f"cannot read or create the operator key file {path} ({error.strerror}); "
            f"set {OPERATOR_KEY_VARIABLE} instead"
        ) from None


class Sessions:
    """The open sessions of this dashboard process, and the key that opens one.

    Not thread-safe: the dashboard calls it from its event loop only.
    """

    def __init__(
        self,
        key: OperatorKey,
        lifetime: timedelta = SESSION_LIFETIME,
        max_sessions: int = MAX_SESSIONS,
    ) -> None:
        self._operator_key = key
        self.lifetime = lifetime
        self.max_sessions = max_sessions
        self._open: dict[bytes, datetime] = {}  # the token's SHA-256 -> when it was issued

    def key_matches(self, given: str) -> bool:
        """True if `given` is the operator key (compared in constant time)."""
        return self._operator_key.matches(given)

    def issue(self, now: datetime) -> str:
        """A new session's token, valid from `now` (timezone-aware) for `lifetime`."""
        for digest, issued in list(self._open.items()):
            if not self._live(issued, now):
                del self._open[digest]
        while len(self._open) >= self.max_sessions:
            del self._open[next(iter(self._open))]  # issued first: the oldest
        token = secrets.token_urlsafe(32)
        self._open[_digest(token)] = now
        return token

    def valid(self, token: str | None, now: datetime) -> bool:
        """True if `token` is a session of this process, not ended and not expired at `now`."""
        if not token or len(token) > _MAX_TOKEN_LENGTH:
            return False
        digest = _digest(token)
        issued = self._open.get(digest)
        if issued is None:
            return False
        if not self._live(issued, now):
            del self._open[digest]
            return False
        return True

    def end(self, token: str | None) -> None:
        """Ends the session of `token`, if it is one: its cookie opens nothing any more."""
        if token and len(token) <= _MAX_TOKEN_LENGTH:
            self._open.pop(_digest(token), None)

    def _live(self, issued: datetime, now: datetime) -> bool:
        return -_CLOCK_SKEW <= now - issued <= self.lifetime


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", errors="replace")).digest()
