"""The request body limit on a real uvicorn server: a hostile body is refused 413, unread.

The feed API runs in uvicorn on a free loopback port; a client streams a 300 MiB body made
lazily, chunk by chunk, and counts the chunks the server made it send. Whether the server stopped
reading early is told by the generator: it was not exhausted. A small body and the other
clients' reads are unaffected.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import httpx2
import pytest
import uvicorn

from consumers.api import create_app
from consumers.feeds import InMemoryFeedStore, hash_key
from hub.registry.format import load_normandy_registry
from hub.registry.source import FixedRegistry
from hub.store import InMemoryStore
from tests.conftest import free_port
from tests.support.diffusion_changes import DIFFUSER, upsert
from tests.support.regional_changes import T0

CHUNK = 64 * 1024
HOSTILE_CHUNKS = 300 * 16  # 300 MiB in 64 KiB chunks
LIMIT = 1024 * 1024
KEY = "key-of-tourisme-fr"
FEED = f"/v1/feeds/{DIFFUSER}/changes"


class Hostile:
    """A 300 MiB body made as it is sent, never held: counts the chunks taken from it."""

    def __init__(self) -> None:
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        chunk = b"x" * CHUNK
        for _ in range(HOSTILE_CHUNKS):
            self.sent += 1
            yield chunk


@pytest.fixture
def base_url() -> Iterator[str]:
    feeds = InMemoryFeedStore()
    feeds.append([upsert("HOT-1", 1)], {})
    feeds.set_key("diffuser", DIFFUSER, hash_key(KEY), at=T0)
    app = create_app(
        feeds,
        InMemoryStore(),
        registry=FixedRegistry(load_normandy_registry()),
        max_body=LIMIT,
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),))
    thread.start()
    try:
        while not server.started and thread.is_alive():
            threading.Event().wait(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        loop.close()


def test_a_streamed_300_mib_body_is_refused_413_before_the_server_reads_it_all(
    base_url: str,
) -> None:
    body = Hostile()

    response = httpx2.post(f"{base_url}{FEED}", content=iter(body), headers={"X-API-Key": KEY})

    assert response.status_code == 413
    assert response.json()["detail"] == (
        f"the request body is over {LIMIT} bytes, the most this API takes; send a smaller one "
        "(the feeds' and rejections' GETs take none)"
    )
    assert body.sent < HOSTILE_CHUNKS // 10  # the server stopped reading: most was never sent


def test_a_declared_length_over_the_limit_is_refused_before_a_byte_is_read(
    base_url: str,
) -> None:
    body = Hostile()
    declared = {"X-API-Key": KEY, "Content-Length": str(HOSTILE_CHUNKS * CHUNK)}

    response = httpx2.request("GET", f"{base_url}{FEED}", content=iter(body), headers=declared)

    assert response.status_code == 413
    assert body.sent < HOSTILE_CHUNKS


def test_a_body_within_the_limit_reaches_the_endpoint_as_before(base_url: str) -> None:
    with httpx2.Client(base_url=base_url, headers={"X-API-Key": KEY}) as client:
        small = client.request("GET", FEED, content=b"x" * LIMIT)
        refused = client.post(f"{base_url}{FEED}", content=b"x" * (LIMIT + 1))
        after = client.get(FEED)

    assert small.status_code == 200
    assert [c["offer_id"] for c in small.json()["changes"]] == ["HOT-1"]
    assert refused.status_code == 413
    assert after.json() == small.json()  # the refusal changed nothing for the next request
