"""How many wrong operator keys one client may try: a fixed window of failures per client address.

`LoginThrottle` counts each client's failed logins in a window that opens with its first failure.
Guarantees:
- Once a client has failed `failures` times within `window_seconds`, `wait(client)` gives the
  seconds until that window closes (at least 1), and the dashboard answers 429 with that
  Retry-After without looking at the key it sent: while throttled, no key is tried at all, the
  right one included. When the window closes, the client starts afresh.
- A right key forgets the client's failures (an operator's typos do not add up across sessions).
- State is in this process only, bounded by `max_clients` (clients whose window closed are
  dropped first, then the oldest windows): a restart forgets every count. Time comes from the
  `clock` given (a monotonic clock, never the wall clock), so tests drive it without sleeping.
- A client is whatever address the connection comes from: behind a reverse proxy, make the API
  see the real address (uvicorn's proxy headers), or every operator shares one window.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

LOGIN_FAILURES: Final = 5
LOGIN_WINDOW_SECONDS: Final = 60.0
MAX_CLIENTS: Final = 4096


@dataclass
class _Window:
    opened: float
    failures: int


class LoginThrottle:
    """Failed logins per client, in fixed windows (see the module docstring)."""

    def __init__(
        self,
        failures: int = LOGIN_FAILURES,
        window_seconds: float = LOGIN_WINDOW_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        if failures < 1 or window_seconds <= 0 or max_clients < 1:
            raise ValueError(
                f"LoginThrottle({failures}, {window_seconds}, max_clients={max_clients}): "
                "give at least 1 failure, a window > 0 s and room for 1 client"
            )
        self.failures = failures
        self.window_seconds = window_seconds
        self.max_clients = max_clients
        self._clock = clock
        self._windows: dict[str, _Window] = {}

    def wait(self, client: str) -> int | None:
        """Whole seconds `client` must wait before trying a key again, or None if it may now."""
        window = self._current(client, self._clock())
        if window is None or window.failures < self.failures:
            return None
        left = window.opened + self.window_seconds - self._clock()
        return max(1, math.ceil(left))

    def failed(self, client: str) -> None:
        """Counts one wrong key from `client`."""
        now = self._clock()
        window = self._current(client, now)
        if window is None:
            self._make_room(now)
            self._windows[client] = _Window(opened=now, failures=1)
        else:
            window.failures += 1

    def succeeded(self, client: str) -> None:
        """Forgets `client`'s failures: it gave the right key."""
        self._windows.pop(client, None)

    def _current(self, client: str, now: float) -> _Window | None:
        window = self._windows.get(client)
        if window is not None and now - window.opened >= self.window_seconds:
            del self._windows[client]
            return None
        return window

    def _make_room(self, now: float) -> None:
        if len(self._windows) < self.max_clients:
            return
        for client, window in list(self._windows.items()):
            if now - window.opened >= self.window_seconds:
                del self._windows[client]
        while len(self._windows) >= self.max_clients:
            # Windows are added in the order they open: the first is the oldest.
            del self._windows[next(iter(self._windows))]
