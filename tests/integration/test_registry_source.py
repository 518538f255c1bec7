"""The registry the API and the dashboard read from `sitn.registry`: a broker that does not
answer costs one attempt per `retry_after`, not one per request (hub.registry.source)."""

from __future__ import annotations

import asyncio

import pytest

from hub.registry.source import TopicRegistry


async def test_a_broker_that_does_not_answer_is_asked_again_only_after_retry_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SITN_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")  # no login to a fake broker
    connections = 0

    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        writer.close()  # a broker that accepts and hangs up: every client attempt fails

    server = await asyncio.start_server(refuse, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        source = TopicRegistry(f"127.0.0.1:{port}", timeout=3.0, retry_after=3600.0)
        first = await source.reading()
        tried = connections
        second = await source.reading()
        assert first.problem is not None
        assert "could not be read from sitn.registry" in first.problem
        assert tried >= 1, first.problem
        assert second.problem == first.problem
        assert connections == tried, "the second request did not ask the broker again"

        source.retry_after = 0.0
        await source.reading()
        assert connections > tried, "once retry_after has passed, the broker is asked again"
