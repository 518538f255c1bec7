"""Who may open the operators' dashboard: the operator key, and the session cookie it earns.

Operators enter one shared key in the dashboard's login form (`SITN_OPERATOR_KEY`, or, when it is
not set, a random key created once in ``SITN_HOME/operator-key`` with owner-only permissions).
A right key earns a session cookie; every page needs one. Guarantees:
- The key is compared in constant time (`hmac.compare_digest`) and never written to a cookie,
  a page or a log: the cookie holds when it was issued, a random nonce and an HMAC-SHA256 of
  both under a key derived from the operator key.
- A session lasts `SESSION_LIFETIME`; a cookie that is expired, issued in the future, malformed
  or signed under another key (the operator key was changed: this is how every open session is
  revoked at once) is refused.
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
# A cookie issued slightly "in the future" is a clock adjustment, not a forgery.
_CLOCK_SKEW: Final = timedelta(minutes=1)
_SESSION_CONTEXT: Final = b"sitn-dashboard-session-v1"


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
    """Issues and checks session tokens signed under a key derived from the operator key."""

    def __init__(self, key: OperatorKey, lifetime: timedelta = SESSION_LIFETIME) -> None:
        self._key = key.value.encode()
        self._signing = hmac.new(self._key, _SESSION_CONTEXT, hashlib.sha256).digest()
        self.lifetime = lifetime

    def key_matches(self, given: str) -> bool:
        """True if `given` is the operator key (compared in constant time)."""
        return hmac.compare_digest(given.strip().encode(), self._key)

    def issue(self, now: datetime) -> str:
        """A new session token, valid from `now` (timezone-aware) for `lifetime`."""
        body = f"{int(now.timestamp())}.{secrets.token_urlsafe(16)}"
        return f"{body}.{self._mac(body)}"

    def valid(self, token: str | None, now: datetime) -> bool:
        """True if `token` was issued by these sessions and has not expired at `now`."""
        if not token or token.count(".") != 2:
            return False
        body, _, mac = token.rpartition(".")
        if not hmac.compare_digest(mac.encode(), self._mac(body).encode()):
            return False
        issued_text = body.partition(".")[0]
        if not issued_text.isdigit():
            return False
        age = timedelta(seconds=now.timestamp() - int(issued_text))
        return -_CLOCK_SKEW <= age <= self.lifetime

    def _mac(self, body: str) -> str:
        return hmac.new(self._signing, body.encode(), hashlib.sha256).hexdigest()
