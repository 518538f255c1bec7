"""The demo's changes as the rest of the system takes them: publisher `Change`s and hub
`Contribution`s.

A contribution's event id is the publisher's (`event_id_for(contributor, offer, version)`), so a
demo file published twice, or once through the publisher and once raw, yields duplicates the hub
drops rather than new events.
"""

from __future__ import annotations

from collections.abc import Iterable

from hub.core.contribution import Contribution
from producers.demo.changes import DemoChange
from producers.publisher import Change, event_id_for


def as_change(demo: DemoChange) -> Change:
    """The change as `producers.publisher.Publisher` publishes it (with the demo's version)."""
    return Change(
        offer_id=demo.offer_id,
        payload=demo.payload,
        occurred_at=demo.occurred_at,
        source_system=demo.source_system,
        source_id=demo.source_id,
        source_version=demo.source_version,
    )


def as_contribution(contributor: str, demo: DemoChange) -> Contribution:
    """The envelope the contributor's topic carries for this change."""
    return Contribution(
        event_id=event_id_for(contributor, demo.offer_id, demo.source_version),
        contributor=contributor,
        offer_id=demo.offer_id,
        source_version=demo.source_version,
        occurred_at=demo.occurred_at,
        source_system=demo.source_system,
        source_id=demo.source_id,
        payload=demo.payload,
    )


def as_contributions(stream: Iterable[tuple[str, DemoChange]]) -> list[Contribution]:
    return [as_contribution(contributor, demo) for contributor, demo in stream]
