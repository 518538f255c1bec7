"""The webhook store's port: each diffuser's webhook and where its deliveries stand.

A diffuser may register one webhook: a URL the hub POSTs a thin, signed notification to for
every entry of its feed (`consumers.webhooks.dispatcher`). The store keeps, per diffuser:
- the URL (http or https, checked by `check_url`; which addresses it may reach is not the store's
  concern but `consumers.webhooks.destinations`') and the signing secret;
- the delivery cursor `delivered`: the feed cursor (`consumers.feeds.cursor`) right after the last
  entry the receiver acknowledged with a 2xx. Deliveries resume after it, so nothing is skipped
  and each offer's order is kept;
- the state, `active` or `parked`, the consecutive failures, the last error and attempt time.

Guarantees every implementation keeps:
- **The cursor only moves forward on delivery** (`record_delivery` keeps, per partition, the
  further of the stored and the given cursor), and `redrive` never moves it: a parked webhook
  resumes where it stopped.
- **Parking is decided with the failure that causes it**, in one write: the failure that brings
  the count to `park_after` also parks the webhook, whatever else runs concurrently.
- **A last error is one short printable line**: kept and read back as
  `consumers.webhooks.replies.printable` makes it, since part of it is a receiver's answer.
- **The secret is never shown by the store's values**: `Webhook.secret` is left out of `repr`,
  so a logged webhook does not print it. It is stored as is, not hashed, because signing needs
  it; printing it once at creation is the CLI's job (`sitn webhook set`).

Every method is synchronous and may block on I/O: async callers run them in a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol
from urllib.parse import urlsplit

from consumers.feeds.cursor import FeedCursor

WebhookState = Literal["active", "parked"]
WEBHOOK_STATES: tuple[WebhookState, ...] = ("active", "parked")


class WebhookError(ValueError):
    """Input the webhook store refuses (nothing of the call was written)."""


@dataclass(frozen=True)
class Webhook:
    """A diffuser's webhook and where its deliveries stand."""

    diffuser_id: str
    url: str
    secret: str = field(repr=False)  # signs notifications: never logged, shown once
    delivered: FeedCursor
    state: WebhookState
    failures: int
    last_error: str | None
    last_attempt_at: datetime | None


def check_url(diffuser_id: str, url: str) -> None:
    """Refuses a URL the dispatcher cannot POST to; raises `WebhookError` saying what to fix."""
    where = f"webhook URL {url!r} of diffuser {diffuser_id!r}"
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a port that is not a number or out of range
    except ValueError as error:
        raise WebhookError(
            f"{where} is malformed ({error}); give http(s)://host[:port]/path"
        ) from None
    if parts.scheme not in ("http", "https"):
        raise WebhookError(f"{where}: the scheme must be http or https")
    if not parts.hostname:
        raise WebhookError(f"{where} names no host; give http(s)://host[:port]/path")
    if parts.username is not None or parts.password is not None:
        # `sitn webhook list` shows URLs; notifications are authenticated by their signature.
        raise WebhookError(f"{where} holds credentials (user@ or user:password@); remove them")
    if parts.fragment or any(c.isspace() for c in url):
        raise WebhookError(f"{where} holds a fragment or a space; give http(s)://host[:port]/path")


class WebhookStore(Protocol):
    """The diffusers' webhooks (see the module docstring for the guarantees)."""

    def set_webhook(
        self, diffuser_id: str, url: str, secret: str, delivered: FeedCursor
    ) -> Webhook:
        """Creates or replaces the diffuser's webhook: active, no failure, cursor `delivered`.

        Raises `WebhookError` if the URL is not http(s) or the secret is empty.
        """
        ...

    def webhook(self, diffuser_id: str) -> Webhook | None:
        """The diffuser's webhook, or None if it has none."""
        ...

    def webhooks(self) -> list[Webhook]:
        """Every webhook, by diffuser id."""
        ...

    def record_delivery(
        self, diffuser_id: str, delivered: FeedCursor, at: datetime
    ) -> Webhook | None:
        """The receiver acknowledged up to `delivered`: the cursor moves up to it (never back),
        failures reset to 0.

        Returns the webhook as it now stands, or None if the diffuser has no webhook any more.
        """
        ...

    def record_failure(
        self, diffuser_id: str, error: str, at: datetime, park_after: int
    ) -> Webhook | None:
        """One more consecutive failure, with its error; parked once failures reach `park_after`.

        Returns the webhook as it now stands, or None if the diffuser has no webhook any more.
        """
        ...

    def redrive(self, diffuser_id: str) -> Webhook | None:
        """Makes the webhook active with no failure; its cursor is kept. None if there is none."""
        ...

    def remove(self, diffuser_id: str) -> bool:
        """Deletes the diffuser's webhook; False if it had none."""
        ...
