"""Delivers each diffuser's feed to its webhook: thin signed notifications, in order, retried.

For every active webhook (`consumers.webhooks.port`), one asyncio task reads the diffuser's feed
entries after the webhook's cursor (`FeedStore.changes`, in the feed's order) and POSTs one JSON
notification per entry, signed as `consumers.webhooks.signing` describes:

    {"diffuser": ..., "partition": ..., "seq": ..., "offer_id": ..., "version": ...,
     "kind": "upsert"|"removal",
     "reason": ..., "occurred_at": "...Z", "feed_url": "/v1/feeds/<diffuser>/offers/<offer>"}

A notification never carries the view: the receiver fetches the offer from `feed_url` with its
API key, so nothing a diffuser may not read can leak through a webhook URL, and a stale
notification cannot overwrite newer content.

Guarantees:
- **In order, nothing skipped.** One entry at a time per webhook; a 2xx answer moves the cursor
  past it (in the store, before the next entry is sent). Anything else (another status, a
  redirect, a connection error, no answer within the timeout) is a failure: the *same* entry is
  sent again after an exponential backoff (`RetryPolicy`). So per-offer order follows from the
  feed's order, and a receiver sees entry n+1 only after it acknowledged entry n.
- **At least once.** A notification whose answer was lost is sent again; `X-SITN-Delivery`
  (diffuser:partition:seq) is the same on every attempt, so a receiver can drop a duplicate.
- **Parked, not dropped.** After `park_after` consecutive failures the webhook is parked with
  its last error; its task ends and it is skipped until `redrive` makes it active again. The
  cursor never moved, so deliveries resume with the entry that failed.
- **Independent receivers.** Each webhook has its own task (a slow or failing receiver only
  holds its own), sharing one aiohttp session (at most 100 connections at once).
- **Only to receivers it may reach.** Every attempt connects only to addresses
  `consumers.webhooks.destinations` let through, checked when the name is resolved for that very
  connection: a URL whose host is (or has come to resolve to) a loopback, private, link-local or
  own address that is not allow-listed fails like an unreachable receiver, saying why.
- **Nothing of an answer but a short clean line.** A failing receiver's answer is kept in the
  last error only as `consumers.webhooks.replies` makes it: escapes removed, controls escaped,
  120 characters at most.

Webhook settings are read back from the store after every delivery, so a new URL or secret
(`sitn webhook set`), a removal or a redrive takes effect without a restart (a notification
already on its way then may still be sent once, the old way); new entries and newly active
webhooks are noticed within `poll_seconds`. Database calls run in worker threads.
The secret is used to sign and for nothing else: it is never logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from urllib.parse import quote

import aiohttp

from consumers.feeds.port import FeedEntry, FeedStore
from consumers.webhooks.destinations import (
    CheckedResolver,
    DestinationRefused,
    Destinations,
    host_and_port,
    literal_address,
)
from consumers.webhooks.port import Webhook, WebhookStore
from consumers.webhooks.replies import REPLY_READ_BYTES, excerpt, printable
from consumers.webhooks.signing import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    delivery_id,
    sign,
)

log = logging.getLogger("sitn.webhooks")

USER_AGENT: Final = "sitn-hub-webhooks/1"

# Beyond 2**62 the backoff is far past any cap; the bound keeps the float arithmetic finite.
_MAX_DOUBLINGS: Final = 62


@dataclass(frozen=True)
class RetryPolicy:
    """How failed deliveries are retried, and when a webhook is parked.

    The wait after the n-th consecutive failure is ``min(cap, base * 2**(n-1))``. With the
    defaults (5 s, 10 min, 8) a receiver may be down about 10 minutes before its webhook is
    parked (5 + 10 + ... + 320 s between the 8 attempts).
    """

    base_seconds: float = 5.0
    cap_seconds: float = 600.0
    park_after: int = 8
    timeout_seconds: float = 10.0  # for one attempt, connection to answer

    def __post_init__(self) -> None:
        for name in ("base_seconds", "cap_seconds", "timeout_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"RetryPolicy.{name} is {getattr(self, name)!r}; give a value > 0")
        if self.park_after < 1:
            raise ValueError(f"RetryPolicy.park_after is {self.park_after!r}; give 1 or more")

    def delay(self, failures: int) -> float:
        """Seconds to wait before the attempt that follows `failures` consecutive failures."""
        doublings = min(max(failures - 1, 0), _MAX_DOUBLINGS)
        return float(min(self.cap_seconds, self.base_seconds * 2**doublings))


@dataclass
class WebhookTally:
    """What the dispatcher did since it started (for operators and tests)."""

    delivered: int = 0  # notifications a receiver acknowledged
    failed: int = 0  # attempts that failed
    parked: int = 0  # webhooks parked
    rounds: int = 0  # passes over the webhook list


def _iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _segment(identifier: str) -> str:
    """An id as one URL path segment (ids are plain today; a '/' must not split the path)."""
    return quote(identifier, safe="")


def notification(entry: FeedEntry) -> dict[str, object]:
    """The JSON notification of one feed entry: where it is, what it is, never its content."""
    change = entry.change
    return {
        "diffuser": change.diffuser_id,
        "partition": entry.partition,
        "seq": entry.seq,
        "offer_id": change.offer_id,
        "version": change.version,
        "kind": change.kind.value,
        "reason": change.reason.value,
        "occurred_at": _iso_utc(change.occurred_at),
        "feed_url": f"/v1/feeds/{_segment(change.diffuser_id)}/offers/{_segment(change.offer_id)}",
    }


def notification_body(entry: FeedEntry) -> bytes:
    """The exact bytes POSTed (and signed) for one feed entry: compact UTF-8 JSON."""
    text = json.dumps(notification(entry), ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8")


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return


class WebhookDispatcher:
    """Runs every active webhook's deliveries until `stop` is set (see the module docstring)."""

    def __init__(
        self,
        webhooks: WebhookStore,
        feeds: FeedStore,
        *,
        policy: RetryPolicy | None = None,
        poll_seconds: float = 1.0,
        batch: int = 100,
        clock: Callable[[], datetime] = _utc_now,
        destinations: Destinations | None = None,
    ) -> None:
        self.webhooks = webhooks
        self.destinations = destinations or Destinations()
        self.feeds = feeds
        self.policy = policy or RetryPolicy()
        self.poll_seconds = poll_seconds
        self.batch = batch
        self.clock = clock
        self.tally = WebhookTally()

    async def run(self, stop: asyncio.Event) -> None:
        """Delivers until `stop` is set, then cancels deliveries in flight (they are sent again)."""
        timeout = aiohttp.ClientTimeout(total=self.policy.timeout_seconds)
        running: dict[str, asyncio.Task[None]] = {}
        connector = aiohttp.TCPConnector(limit=100, resolver=CheckedResolver(self.destinations))
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, headers={"User-Agent": USER_AGENT}
        ) as session:
            try:
                while not stop.is_set():
                    self._reap(running)
                    for hook in await asyncio.to_thread(self.webhooks.webhooks):
                        if hook.state == "active" and hook.diffuser_id not in running:
                            running[hook.diffuser_id] = asyncio.create_task(
                                self._follow(session, hook.diffuser_id, stop),
                                name=f"webhook:{hook.diffuser_id}",
                            )
                    self.tally.rounds += 1
                    await _sleep_or_stop(stop, self.poll_seconds)
            finally:
                for task in running.values():
                    task.cancel()
                await asyncio.gather(*running.values(), return_exceptions=True)

    def _reap(self, running: dict[str, asyncio.Task[None]]) -> None:
        """Forgets finished tasks (removed, parked, or failed: restarted on this round)."""
        for diffuser_id, task in list(running.items()):
            if not task.done():
                continue
            del running[diffuser_id]
            error = None if task.cancelled() else task.exception()
            if error is not None:
                log.error(
                    "webhook deliveries of diffuser %s stopped on an error; restarting them",
                    diffuser_id,
                    exc_info=error,
                )

    async def _follow(
        self, session: aiohttp.ClientSession, diffuser_id: str, stop: asyncio.Event
    ) -> None:
        """Delivers one diffuser's feed while its webhook exists and is active."""
        while not stop.is_set():
            hook = await asyncio.to_thread(self.webhooks.webhook, diffuser_id)
            if hook is None or hook.state != "active":
                return
            entries = await asyncio.to_thread(
                self.feeds.changes, diffuser_id, hook.delivered, self.batch
            )
            if not entries:
                await _sleep_or_stop(stop, self.poll_seconds)
                continue
            for entry in entries:
                error = await self._post(session, hook, entry)
                if error is None:
                    # Counted on the receiver's answer: the store's cursor, which someone may
                    # be watching, moves only after.
                    self.tally.delivered += 1
                    past = hook.delivered.past([entry])
                    now = await asyncio.to_thread(
                        self.webhooks.record_delivery, diffuser_id, past, self.clock()
                    )
                    if now is None:
                        return  # removed meanwhile
                    if (now.state, now.delivered) != ("active", past):
                        break  # set or redriven meanwhile: start again from its cursor
                    hook = now  # a new URL or secret applies from the next entry
                    continue
                self.tally.failed += 1
                await self._failed(diffuser_id, entry, error, stop)
                break  # the same entry again, with the webhook as it now stands

    async def _failed(
        self, diffuser_id: str, entry: FeedEntry, error: str, stop: asyncio.Event
    ) -> None:
        now = await asyncio.to_thread(
            self.webhooks.record_failure, diffuser_id, error, self.clock(), self.policy.park_after
        )
        if now is None or now.state != "active":
            if now is not None:
                self.tally.parked += 1
                log.warning(
                    "webhook of diffuser %s parked after %d failed attempts (last: %s); fix the "
                    "receiver, then `sitn webhook redrive --diffuser %s` resumes at entry %d of "
                    "partition %d",
                    diffuser_id,
                    now.failures,
                    error,
                    diffuser_id,
                    entry.seq,
                    entry.partition,
                )
            return
        wait = self.policy.delay(now.failures)
        log.info(
            "webhook of diffuser %s: attempt %d failed (%s); next in %.2f s",
            diffuser_id,
            now.failures,
            error,
            wait,
        )
        await _sleep_or_stop(stop, wait)

    async def _post(
        self, session: aiohttp.ClientSession, hook: Webhook, entry: FeedEntry
    ) -> str | None:
        """Sends one notification; None if the receiver acknowledged it, else what went wrong."""
        body = notification_body(entry)
        timestamp = int(self.clock().timestamp())
        delivery = delivery_id(hook.diffuser_id, entry.partition, entry.seq)
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(hook.secret, timestamp, body),
            DELIVERY_HEADER: delivery,
        }
        try:
            await self._screen_literal(hook.url)
            async with session.post(
                hook.url, data=body, headers=headers, allow_redirects=False
            ) as response:
                if 200 <= response.status < 300:
                    return None
                text = excerpt(await response.content.read(REPLY_READ_BYTES))
                reason = printable(response.reason or "", 60)
                return f"delivery {delivery}: HTTP {response.status} {reason}".rstrip() + (
                    f": {text}" if text else ""
                )
        except DestinationRefused as refused:
            return f"delivery {delivery}: not sent: {refused}"
        except TimeoutError:
            return f"delivery {delivery}: no answer within {self.policy.timeout_seconds:g} s"
        except aiohttp.ClientConnectorError as error:
            if isinstance(error.os_error, DestinationRefused):
                return f"delivery {delivery}: not sent: {error.os_error}"
            return f"delivery {delivery}: {type(error).__name__}: {printable(str(error))}"
        except aiohttp.ClientError as error:
            return f"delivery {delivery}: {type(error).__name__}: {printable(str(error))}"

    async def _screen_literal(self, url: str) -> None:
        """Checks a URL whose host is an IP address (the client resolves only names)."""
        host, port = host_and_port(url)
        if literal_address(host) is not None:
            await asyncio.to_thread(self.destinations.screen, host, port)
