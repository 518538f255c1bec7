"""The diffusers' webhooks: thin signed notifications of their feed entries, in order, retried.

- `port`: `Webhook`, the `WebhookStore` interface and its guarantees (cursor, parking);
- `sql`: `SqlWebhookStore`, on the regional store's database and migrations (SQLite and
  PostgreSQL; there is no in-memory implementation, the tests use SQLite files);
- `destinations`: `Destinations`, which receiver addresses webhooks may reach (public ones, and
  those SITN_WEBHOOK_ALLOW lets through), checked at `sitn webhook set` and on every connection;
- `replies`: what a failing receiver's answer may leave in the last error (a short clean line);
- `signing`: the signature scheme and headers, and `verify` for receivers (pure);
- `dispatcher`: `WebhookDispatcher`, the asyncio loop the worker runs (aiohttp client).

A webhook's secret is stored as is, since every notification is signed with it: it is printed
once when `sitn webhook set` makes it, and never logged, listed or shown again.
"""

from consumers.webhooks.destinations import DestinationRefused, Destinations, host_and_port
from consumers.webhooks.dispatcher import (
    RetryPolicy,
    WebhookDispatcher,
    WebhookTally,
    notification,
    notification_body,
)
from consumers.webhooks.port import Webhook, WebhookError, WebhookState, WebhookStore, check_url
from consumers.webhooks.signing import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    delivery_id,
    sign,
    verify,
)
from consumers.webhooks.sql import SqlWebhookStore

__all__ = [
    "DELIVERY_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "DestinationRefused",
    "Destinations",
    "RetryPolicy",
    "SqlWebhookStore",
    "Webhook",
    "WebhookDispatcher",
    "WebhookError",
    "WebhookState",
    "WebhookStore",
    "WebhookTally",
    "check_url",
    "delivery_id",
    "host_and_port",
    "notification",
    "notification_body",
    "sign",
    "verify",
]
