"""Where the dashboard and the feed API find the registry in force (names; who may hold a key).

`TopicRegistry` reads `sitn.registry` (the registry the worker judges with) and keeps it for
`max_age` seconds, so a page costs no broker round trip most of the time. A broker that does not
answer within `timeout` does not break a page: the last registry read is kept (or an empty one
before the first read) and `RegistryReading.problem` says what went wrong, for a banner; the
failure itself is kept for `retry_after` seconds, so a broker that is down costs one timeout per
period, not one per request. A registry edit therefore reaches the API within `max_age`.
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
from hub.settings import SettingsError
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
        retry_after: float = 10.0,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.max_age = max_age
        self.timeout = timeout
        self.retry_after = retry_after
        self._last: Registry | None = None
        self._read_at = 0.0
        self._failed: tuple[float, str] | None = None  # when the last read failed, and why
        self._lock = asyncio.Lock()

    async def reading(self) -> RegistryReading:
        async with self._lock:
            fresh = self._last is not None and time.monotonic() - self._read_at < self.max_age
            if fresh and self._last is not None:
                return RegistryReading(self._last)
            if self._failed is not None and time.monotonic() - self._failed[0] < self.retry_after:
                return self._stale(self._failed[1])
            try:
                async with asyncio.timeout(self.timeout):
                    state = await read_registry_topic(self.bootstrap, self.topic)
            except (TimeoutError, OSError, KafkaError, RegistryTopicError, SettingsError) as error:
                self._failed = (time.monotonic(), str(error) or type(error).__name__)
                return self._stale(self._failed[1])
            self._last, self._read_at, self._failed = state.registry, time.monotonic(), None
            return RegistryReading(state.registry)

    def _stale(self, reason: str) -> RegistryReading:
        kept = "the last one read is shown" if self._last else "ids are shown as they are"
        return RegistryReading(
            self._last or Registry(),
            f"the registry could not be read from {self.topic} on {self.bootstrap} "
            f"({reason}); {kept}",
        )
