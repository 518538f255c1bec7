"""Where the dashboard and the feed API find the registry in force (names; who may hold a key).

`TopicRegistry` reads `sitn.registry` (the registry the worker judges with) and keeps it for
`max_age` seconds, so a page costs no broker round trip most of the time. A broker that does not
answer within `timeout` does not break a page: the last registry read is kept (or an empty one
before the first read) and `RegistryReading.problem` says what went wrong, for a banner.
`FixedRegistry` serves one given registry (a registry file, the tests).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Protocol

from aiokafka.errors import KafkaError

from hub.core.registry import Registry
from hub.registry.topic import RegistryTopicError, read_registry_topic
from hub.topics import REGISTRY


@dataclass(frozen=True)
class RegistryReading:
    """The registry to show, and why it may be stale or empty (None if it is current)."""

    registry: Registry
    problem: str | None = None


class RegistrySource(Protocol):
    async def reading(self) -> RegistryReading:
        """The registry as it now stands (never raises: a failure is a `problem`)."""
        ...


class FixedRegistry:
    """Always the same registry."""

    def __init__(self, registry: Registry) -> None:
        self._reading = RegistryReading(registry)

    async def reading(self) -> RegistryReading:
        return self._reading


class TopicRegistry:
    """The registry on `sitn.registry`, read again when older than `max_age` seconds."""

    def __init__(
        self,
        bootstrap: str,
        *,
        topic: str = REGISTRY,
        max_age: float = 30.0,
        timeout: float = 5.0,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.max_age = max_age
        self.timeout = timeout
        self._last: Registry | None = None
        self._read_at = 0.0
        self._lock = asyncio.Lock()

    async def reading(self) -> RegistryReading:
        async with self._lock:
            fresh = self._last is not None and time.monotonic() - self._read_at < self.max_age
            if fresh and self._last is not None:
                return RegistryReading(self._last)
            try:
                async with asyncio.timeout(self.timeout):
                    state = await read_registry_topic(self.bootstrap, self.topic)
            except (TimeoutError, OSError, KafkaError, RegistryTopicError) as error:
                kept = "the last one read is shown" if self._last else "ids are shown as they are"
                reason = str(error) or type(error).__name__
                return RegistryReading(
                    self._last or Registry(),
                    f"the registry could not be read from {self.topic} on {self.bootstrap} "
                    f"({reason}); {kept}",
                )
            self._last, self._read_at = state.registry, time.monotonic()
            return RegistryReading(state.registry)
