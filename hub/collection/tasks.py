"""Assigns the collection stage's *tasks* to the members of its consumer group.

A task is one partition number across every contributor topic: every offer-keyed topic has the
same partition count and Kafka's default partitioner, so all the events of one offer, whoever
published them, meet in one task, and one instance judges them against one ledger. Kafka's own
assignors split each topic on its own (round robin) or give one member the same range of every
topic only while all members subscribe to the same topics (range); this one always keeps a task's
partitions together: tasks are split into contiguous ranges over the members sorted by id, and a
member gets, of each topic it subscribes to, the partitions of its tasks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aiokafka.cluster import ClusterMetadata
from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.protocol import (
    ConsumerProtocolMemberAssignment,
    ConsumerProtocolMemberMetadata,
)

__all__ = ["TaskAssignor", "split_tasks"]


def split_tasks(tasks: Iterable[int], members: Iterable[str]) -> dict[str, list[int]]:
    """Contiguous ranges of the sorted `tasks` over the sorted `members` (the first ones get one
    more when they do not divide evenly)."""
    ordered, people = sorted(set(tasks)), sorted(set(members))
    if not people:
        return {}
    size, extra = divmod(len(ordered), len(people))
    split: dict[str, list[int]] = {}
    start = 0
    for index, member in enumerate(people):
        length = size + (1 if index < extra else 0)
        split[member] = ordered[start : start + length]
        start += length
    return split


class TaskAssignor(AbstractPartitionAssignor):  # type: ignore[misc]
    name = "sitn-tasks"
    version = 0

    @classmethod
    def assign(
        cls,
        cluster: ClusterMetadata,
        members: Mapping[str, ConsumerProtocolMemberMetadata],
    ) -> dict[str, ConsumerProtocolMemberAssignment]:
        partitions: dict[str, set[int]] = {}
        for metadata in members.values():
            for topic in metadata.subscription:
                found = cluster.partitions_for_topic(topic)
                if found:
                    partitions[topic] = set(found)
        tasks = {p for found in partitions.values() for p in found}
        split = split_tasks(tasks, members)
        assignment: dict[str, ConsumerProtocolMemberAssignment] = {}
        for member, metadata in members.items():
            mine = set(split.get(member, []))
            topics = sorted(
                (topic, sorted(partitions[topic] & mine))
                for topic in set(metadata.subscription)
                if topic in partitions and partitions[topic] & mine
            )
            assignment[member] = ConsumerProtocolMemberAssignment(cls.version, topics, b"")
        return assignment

    @classmethod
    def metadata(cls, topics: Iterable[str]) -> ConsumerProtocolMemberMetadata:
        return ConsumerProtocolMemberMetadata(cls.version, sorted(topics), b"")

    @classmethod
    def on_assignment(cls, assignment: ConsumerProtocolMemberAssignment) -> None:
        return None
