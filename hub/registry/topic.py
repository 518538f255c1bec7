"""The registry topic (`sitn.registry`): read it back to the end, apply a new registry to it.

Reading assigns every partition, starts from the beginning and stops at the end offsets taken
when reading began, so it returns what the topic held at that moment. Applying reads the topic,
folds it into the registry currently in force, and publishes only the difference (upserts, then
removals of entries that disappeared) with the hub's idempotent producer, keyed `kind:id`:
applying the same file twice publishes nothing the second time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from hub.codec import DecodeError
from hub.core.registry import Registry
from hub.core.registry_events import (
    RegistryChanges,
    RegistryEvent,
    fold_registry,
    registry_changes,
)
from hub.kafka_clients import (
    TopicSpec,
    ensure_topics,
    make_consumer,
    make_producer,
    topic_partitions,
)
from hub.registry.wire import decode_registry_event, encode_registry_event, record_key
from hub.topics import REGISTRY, hub_topics

# A registry is small (hundreds of entries): reading it takes well under a second on a live broker.
READ_TIMEOUT = 60.0


class RegistryTopicError(RuntimeError):
    """The registry topic cannot be read to its end, or holds a record that does not decode."""


@dataclass(frozen=True)
class TopicState:
    """What the registry topic held when it was read."""

    events: tuple[RegistryEvent, ...]
    registry: Registry


def registry_topic_spec(topic: str = REGISTRY) -> TopicSpec:
    """The hub's spec for the registry topic (one partition, kept forever), under any name."""
    spec = next(spec for spec in hub_topics() if spec.name == REGISTRY)
    return TopicSpec(topic, spec.partitions, spec.replication, spec.config)


async def read_registry_topic(bootstrap: str, topic: str = REGISTRY) -> TopicState:
    """Every event on the topic from the beginning, and the registry they fold into.

    Creates the topic if it does not exist yet (it is one of the hub's topics).
    """
    await ensure_topics(bootstrap, [registry_topic_spec(topic)])
    consumer = make_consumer(bootstrap, group_id=None, client_id="sitn-registry")
    await consumer.start()
    try:
        async with asyncio.timeout(READ_TIMEOUT):
            partitions = await topic_partitions(bootstrap, [topic])
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            events: list[RegistryEvent] = []
            while await _behind(consumer, partitions, ends):
                batches = await consumer.getmany(*partitions, timeout_ms=500)
                for tp in sorted(batches, key=lambda tp: tp.partition):
                    for record in batches[tp]:
                        if record.offset >= ends[tp]:
                            continue
                        try:
                            events.append(decode_registry_event(record.value))
                        except DecodeError as error:
                            raise RegistryTopicError(
                                f"{topic} partition {tp.partition} offset {record.offset} "
                                f"(key {record.key!r}) does not decode: {error}"
                            ) from None
    except TimeoutError:
        raise RegistryTopicError(
            f"could not read {topic} to its end within {READ_TIMEOUT:g} s; is the broker healthy?"
        ) from None
    finally:
        await consumer.stop()
    return TopicState(tuple(events), fold_registry(events))


async def publish_registry_events(
    bootstrap: str, events: Sequence[RegistryEvent], topic: str = REGISTRY
) -> None:
    """Publish events in order and wait until every one is acknowledged by the broker."""
    if not events:
        return
    producer = make_producer(bootstrap, client_id="sitn-registry")
    await producer.start()
    try:
        sent = [
            await producer.send(topic, encode_registry_event(event), key=record_key(event))
            for event in events
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def apply_registry(
    bootstrap: str, registry: Registry, topic: str = REGISTRY
) -> RegistryChanges:
    """Publish what turns the topic's registry into `registry`; return what changed."""
    current = await read_registry_topic(bootstrap, topic)
    changes = registry_changes(current.registry, registry)
    await publish_registry_events(bootstrap, changes.events, topic)
    return changes


async def _behind(
    consumer: AIOKafkaConsumer,
    partitions: Sequence[TopicPartition],
    ends: dict[TopicPartition, int],
) -> bool:
    for tp in partitions:
        if await consumer.position(tp) < ends[tp]:
            return True
    return False
