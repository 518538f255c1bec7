"""aiokafka clients configured the way the hub's guarantees need them.

aiokafka defaults to auto-committing offsets every few seconds and to a non-idempotent producer
(architecture §8); both would break "an offset is committed only after the outcome is durable" and
"nothing is half-sent", so every client the hub builds comes from here with both set explicitly.
Our topics are created here too, with the partition counts and configs `hub.topics` gives.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, UnknownTopicOrPartitionError, for_code

from hub.kafka_security import KafkaSecurity, client_options


@dataclass(frozen=True)
class TopicSpec:
    """A topic the hub owns: its name, partition count and extra broker-side config."""

    name: str
    partitions: int = 1
    replication: int = 1
    config: tuple[tuple[str, str], ...] = ()


def security_options(security: KafkaSecurity | None = None) -> dict[str, Any]:
    """The keyword arguments that authenticate a client: `security`'s, else the environment's
    (`hub.kafka_security`). Every client the hub builds, here or elsewhere, passes them."""
    return client_options() if security is None else security.options()


def make_producer(
    bootstrap: str, *, client_id: str = "sitn-hub", security: KafkaSecurity | None = None
) -> AIOKafkaProducer:
    """An idempotent producer that waits for every in-sync replica (acks=all)."""
    return AIOKafkaProducer(
        **security_options(security),
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
    )


def make_consumer(
    bootstrap: str,
    *,
    group_id: str | None,
    client_id: str = "sitn-hub",
    security: KafkaSecurity | None = None,
) -> AIOKafkaConsumer:
    """A consumer that never commits on its own: callers commit after the outcome is durable."""
    return AIOKafkaConsumer(
        **security_options(security),
        bootstrap_servers=bootstrap,
        client_id=client_id,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )


def make_admin(
    bootstrap: str, *, client_id: str = "sitn-admin", security: KafkaSecurity | None = None
) -> AIOKafkaAdminClient:
    """An admin client, authenticated like every other."""
    return AIOKafkaAdminClient(
        **security_options(security), bootstrap_servers=bootstrap, client_id=client_id
    )


async def ensure_topics(
    bootstrap: str, specs: Iterable[TopicSpec], *, security: KafkaSecurity | None = None
) -> list[str]:
    """Create the topics that do not exist yet; return the names that were created."""
    wanted = list(specs)
    admin = make_admin(bootstrap, security=security)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [spec for spec in wanted if spec.name not in existing]
        created: list[str] = []
        for spec in missing:
            topic = NewTopic(
                name=spec.name,
                num_partitions=spec.partitions,
                replication_factor=spec.replication,
                topic_configs=dict(spec.config),
            )
            try:
                await admin.create_topics([topic])
            except TopicAlreadyExistsError:
                # Another process created it between our listing and our request: same result.
                continue
            created.append(spec.name)
        return created
    finally:
        await admin.close()


async def topic_partitions(bootstrap: str, topics: Iterable[str]) -> list[TopicPartition]:
    """Every partition of `topics`, sorted, asking the brokers (not a client's partial metadata).

    A consumer's `partitions_for_topic` only knows topics it already fetched metadata for, so a
    freshly started consumer would see none; raises `KafkaError` naming a topic that is missing.
    """
    wanted = list(topics)
    admin = make_admin(bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(wanted)
    finally:
        await admin.close()
    found: list[TopicPartition] = []
    for topic in described:
        code = topic.get("error_code")
        if code == UnknownTopicOrPartitionError.errno:
            raise UnknownTopicOrPartitionError(
                f"topic {topic.get('topic')!r} does not exist; "
                "create the hub's topics with `sitn topics ensure`"
            )
        if code:
            error = for_code(code)
            raise error(f"topic {topic.get('topic')!r} cannot be described ({error.__name__})")
        found += [TopicPartition(topic["topic"], p["partition"]) for p in topic["partitions"]]
    return sorted(found)
