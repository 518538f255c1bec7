"""How a webhook notification is signed, and how a receiver checks it (pure: no clock, no I/O).

Every notification the hub POSTs carries three headers:

- `X-SITN-Timestamp`: when it was sent, in whole seconds since the Unix epoch (decimal text);
- `X-SITN-Signature`: ``"sha256=" + hex(HMAC-SHA256(secret, f"{timestamp}.".encode() + body))``,
  the secret being the one `sitn webhook set` printed (UTF-8), the body the raw bytes received;
- `X-SITN-Delivery`: ``f"{diffuser}:{partition}:{seq}"``, the same on every retry of one feed
  entry, so a receiver can drop a notification it has already processed.

A receiver recomputes the signature over the timestamp and the raw body (before any JSON
parsing), compares in constant time, and refuses a timestamp too far from its own clock, so a
notification captured on the way cannot be replayed later: `verify` does all three. The hub signs
each attempt afresh, so a retry carries a current timestamp.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

TIMESTAMP_HEADER: Final = "X-SITN-Timestamp"
SIGNATURE_HEADER: Final = "X-SITN-Signature"
DELIVERY_HEADER: Final = "X-SITN-Delivery"

SIGNATURE_PREFIX: Final = "sha256="

# How far a notification's timestamp may be from the receiver's clock, either way.
DEFAULT_TOLERANCE_SECONDS: Final = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-SITN-Signature` value of `body` sent at `timestamp` (Unix seconds)."""
    return _signature(secret, str(timestamp), body)


def _signature(secret: str, timestamp: str, body: bytes) -> str:
    message = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    now: int,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """Whether `signature` is the secret's signature of `body` at `timestamp`, and still fresh.

    `timestamp` and `signature` are the header values as received; `now` is the receiver's clock
    in Unix seconds. False for a malformed timestamp, one more than `tolerance` seconds away from
    `now`, or a signature that does not match (compared in constant time).
    """
    if not timestamp.isascii() or not timestamp.isdecimal():
        return False
    if abs(now - int(timestamp)) > tolerance:
        return False
    # Over the header's text as received, as the sender signed it.
    expected = _signature(secret, timestamp, body)
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8"))


def delivery_id(diffuser_id: str, partition: int, seq: int) -> str:
    """The `X-SITN-Delivery` value of the diffuser's feed entry `seq` of `partition`."""
    return f"{diffuser_id}:{partition}:{seq}"
