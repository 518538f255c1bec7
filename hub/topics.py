"""The catalogue of topics the hub owns: names, partition counts and retention.

Every offer-bearing topic is keyed by offer id (architecture §6) so one offer's events stay ordered;
partition counts are fixed here once, because one offer's records on every offer-keyed topic must
meet in one partition number (one collection task). Contributor topics are one per organisation:
`sitn.contrib.<org>`.
"""

from __future__ import annotations

import re

from aiokafka.partitioner import murmur2

from hub.kafka_clients import TopicSpec

CONTRIB_PREFIX = "sitn.contrib."
REGISTRY = "sitn.registry"
REGIONAL_CHANGES = "sitn.regional.changes"
REJECTIONS = "sitn.rejections"
DEADLETTER = "sitn.deadletter"
CUSTOMER_DATA = "sitn.private.customer-data"
DIFFUSION_TICKS = "sitn.diffusion.ticks"
COLLECTION_STATE = "sitn.collection.state"
COLLECTION_BOUNDARIES = "sitn.collection.boundaries"
SCHEDULER_STATE = "sitn.scheduler.state"

OFFER_PARTITIONS = 6
# Keyed by offer id, so with the contributor topics they must share one partition count.
OFFER_KEYED = frozenset(
    {
        REGIONAL_CHANGES,
        REJECTIONS,
        CUSTOMER_DATA,
        DIFFUSION_TICKS,
        COLLECTION_STATE,
        COLLECTION_BOUNDARIES,
        SCHEDULER_STATE,
    }
)
_FOREVER = (("retention.ms", "-1"),)
_COMPACTED = (("cleanup.policy", "compact"), ("min.compaction.lag.ms", "0"))
_ORG_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


def expected_partition(key: bytes, partitions: int) -> int:
    """Where Kafka's default partitioner (murmur2 of the key) puts `key`."""
    return int((murmur2(key) & 0x7FFFFFFF) % partitions)


def offer_partition(offer_id: str) -> int:
    """The partition number of an offer's records on every offer-keyed topic."""
    return expected_partition(offer_id.encode(), OFFER_PARTITIONS)


def contrib_topic(org_id: str) -> str:
    """The topic an organisation publishes its contributions to."""
    if not _ORG_ID.fullmatch(org_id):
        raise ValueError(
            f"organisation id {org_id!r} is not valid: use 2-63 lowercase letters, digits or '-'"
        )
    return f"{CONTRIB_PREFIX}{org_id}"


def publisher_transactional_id(org_id: str) -> str:
    """The transactional id of an organisation's publisher (one per organisation fences a second
    publisher of it); its broker login may use this one only."""
    return f"sitn-publisher-{org_id}"


FEED_PREFIX = "sitn.feed."


def feed_topic(diffuser_id: str) -> str:
    """The Kafka topic of a diffuser's feed, which only that diffuser's login may read."""
    return f"{FEED_PREFIX}{diffuser_id}"


def connector_groups(diffuser_id: str) -> str:
    """The prefix of the consumer groups a diffuser's connectors may use (the dot ends the id,
    so one diffuser's prefix is never the start of another's)."""
    return f"sitn.connect.{diffuser_id}."


def hub_topics() -> list[TopicSpec]:
    """The topics every hub deployment needs, contributor topics excepted."""
    return [
        # The registry and the regional history are the event-sourced truth: kept forever.
        TopicSpec(REGISTRY, partitions=1, config=_FOREVER),
        TopicSpec(REGIONAL_CHANGES, partitions=OFFER_PARTITIONS, config=_FOREVER),
        TopicSpec(REJECTIONS, partitions=OFFER_PARTITIONS),
        TopicSpec(DEADLETTER, partitions=1, config=_FOREVER),
        TopicSpec(CUSTOMER_DATA, partitions=OFFER_PARTITIONS),
        # Time-driven diffusion changes are events too (hub.core.clock): replays need them all.
        TopicSpec(DIFFUSION_TICKS, partitions=OFFER_PARTITIONS, config=_FOREVER),
        # The collection stage's per-offer ledger: compacted, so a restart reads one record per
        # offer whatever the history's length (docs/architecture.md, "Collection").
        TopicSpec(
            COLLECTION_STATE,
            partitions=OFFER_PARTITIONS,
            config=_COMPACTED,
        ),
        # Beside it, each offer's latest change's boundary facts, a few hundred bytes where the
        # ledger record is kilobytes: all the scheduler reads to restore (same transaction).
        TopicSpec(COLLECTION_BOUNDARIES, partitions=OFFER_PARTITIONS, config=_COMPACTED),
        # The scheduler's own: each offer's latest tick, so a start reads one tick per offer, not
        # every tick ever sent (sitn.diffusion.ticks is kept forever, for replays).
        TopicSpec(SCHEDULER_STATE, partitions=OFFER_PARTITIONS, config=_COMPACTED),
    ]


def contributor_topic_spec(org_id: str) -> TopicSpec:
    return TopicSpec(contrib_topic(org_id), partitions=OFFER_PARTITIONS, config=_FOREVER)
