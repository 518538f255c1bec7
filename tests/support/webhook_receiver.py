"""A webhook receiver for tests: a real aiohttp server on 127.0.0.1, and ways to wait on it.

`Receiver` answers each request with the status its `answer` gives (200 by default), can hold
requests until an event is set, and records what it got: delivery id, timestamp, signature,
body, the status it answered, and whether the signature verifies with its secret (checked with
`consumers.webhooks.verify` against its own clock, as a real receiver does); `reply` sets the
body it answers with. The hub refuses to send webhooks to the loopback unless allow-listed, so
a dispatcher that delivers to a `Receiver` is given `local_receivers()` (or a worker the setting
`RECEIVER_ALLOW` as SITN_WEBHOOK_ALLOW). `eventually` waits for a condition; its guard only turns
a hang into a failure, it asserts nothing about speed.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web

from consumers.webhooks import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Destinations,
    WebhookDispatcher,
    verify,
)
from hub.settings import parse_webhook_allow

# Bounds a wait for something that must happen; it only turns a hang into a failure.
GUARD_SECONDS = 30.0

# SITN_WEBHOOK_ALLOW for a hub whose tests' receivers listen on the loopback.
RECEIVER_ALLOW = "127.0.0.1"


def local_receivers() -> Destinations:
    """The receivers a dispatcher may reach in tests: public ones and this machine's loopback."""
    return Destinations.allowing(parse_webhook_allow(RECEIVER_ALLOW))


@dataclass(frozen=True)
class Request:
    """One request the receiver got, and what it answered."""

    delivery: str
    timestamp: str
    signature: str
    body: bytes
    status: int
    signed_by_secret: bool

    @property
    def seq(self) -> int:
        seq: int = json.loads(self.body)["seq"]
        return seq

    @property
    def partition(self) -> int:
        partition: int = json.loads(self.body)["partition"]
        return partition


class Receiver:
    """A real HTTP server on 127.0.0.1 and a free port, answering as `answer` says.

    `answer(n)` gives the status of the n-th request (1, 2, ...), `reply` the body (default:
    "answer <status>"); `hold`, while set to an unset event, keeps every request waiting for it
    before answering.
    """

    def __init__(
        self,
        secret: str,
        answer: Callable[[int], int] = lambda _: 200,
        reply: bytes | None = None,
    ) -> None:
        self.secret = secret
        self.answer = answer
        self.reply = reply
        self.hold: asyncio.Event | None = None
        self.arrived = 0
        self.requests: list[Request] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks/sitn", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/hooks/sitn"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        self.arrived += 1
        number = self.arrived
        body = await request.read()
        if self.hold is not None:
            await self.hold.wait()
        status = self.answer(number)
        timestamp = request.headers.get(TIMESTAMP_HEADER, "")
        signature = request.headers.get(SIGNATURE_HEADER, "")
        self.requests.append(
            Request(
                delivery=request.headers.get(DELIVERY_HEADER, ""),
                timestamp=timestamp,
                signature=signature,
                body=body,
                status=status,
                signed_by_secret=verify(
                    self.secret, timestamp, body, signature, now=int(time.time())
                ),
            )
        )
        headers = {"Location": "/elsewhere"} if 300 <= status < 400 else None
        body = self.reply if self.reply is not None else f"answer {status}".encode()
        return web.Response(status=status, body=body, headers=headers)

    @property
    def acknowledged(self) -> list[int]:
        """The seqs the receiver answered with a 2xx, in the order it answered them."""
        return [r.seq for r in self.requests if 200 <= r.status < 300]

    @property
    def acknowledged_on(self) -> list[tuple[int, int]]:
        """(partition, seq) of each notification answered with a 2xx, in the order answered."""
        return [(r.partition, r.seq) for r in self.requests if 200 <= r.status < 300]


StartReceiver = Callable[..., Awaitable[Receiver]]


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], what: str, guard: float = GUARD_SECONDS
) -> None:
    """Waits until `check` holds; fails if it does not within `guard` seconds."""
    deadline = time.monotonic() + guard
    while True:
        result = check()
        if await result if inspect.isawaitable(result) else result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {guard:g} s")
        await asyncio.sleep(0.01)


@asynccontextmanager
async def dispatching(dispatcher: WebhookDispatcher) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    try:
        yield
    finally:
        stop.set()
        await task
