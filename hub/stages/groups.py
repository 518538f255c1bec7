"""The consumer groups of the stages: `<prefix>-<stage>`, `sitn` by default.

A group id is also the prefix of the collection stage's transactional ids, so two hubs on one
broker (tests, a staging hub beside production) keep apart by prefix alone.
"""

from __future__ import annotations

from typing import Final

DEFAULT_PREFIX: Final = "sitn"


def group_of(stage: str, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix}-{stage}"


COLLECTION_GROUP: Final = group_of("collection")
STORE_GROUP: Final = group_of("store")
DIFFUSION_GROUP: Final = group_of("diffusion")
SCHEDULER_GROUP: Final = group_of("scheduler")
