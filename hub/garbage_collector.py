"""Python's cyclic garbage collector while a stage restores its state.

A restore builds hundreds of thousands of long-lived objects (the scheduler's boundary facts, the
diffusion stage's timeline), and every full pass of the cyclic collector would rescan all of them:
about a quarter of a 200,000-offer restore, measured. `collector_paused` holds the collector off
for the restore, then runs one full pass (about 0.24 s on 200,000 offers' facts: the cyclic
garbage other tasks made meanwhile is freed, not kept) and freezes what survived out of later
passes (`gc.freeze`). Reference counting frees as usual throughout. It nests, so restores that
overlap on one event loop pause it once.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused"]


class _Pauses:
    depth = 0  # restores in progress
    was_enabled = True


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector paused for the block, then one pass and a freeze."""
    if _Pauses.depth == 0:
        _Pauses.was_enabled = gc.isenabled()
        gc.disable()
    _Pauses.depth += 1
    try:
        yield
    finally:
        _Pauses.depth -= 1
        if _Pauses.depth == 0:
            gc.collect()
            gc.freeze()
            if _Pauses.was_enabled:
                gc.enable()
