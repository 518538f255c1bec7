"""The principals and ACLs a registry implies, as plain values (no broker, no I/O).

Guarantees: `access_plan(registry)` is a pure function of the registry; every principal it names
is one `is_hub_principal` recognises (so a synchronisation removes only what it made, never the
administrator or anything an operator added by hand), and grants only what its role needs:
- a contributor (`org.<id>`) writes and describes its own `sitn.contrib.<id>` and uses its own
  publisher's transactional id (`hub.topics.publisher_transactional_id`, a literal: a prefix of
  `ot-caen` would also be one of `ot-caen-la-mer`): nothing else, in particular no other
  contributor's topic, no regional change, rejection or customer datum, no registry write;
- a diffuser (`diffuser.<id>`) reads and describes its own feed topic (`hub.topics.feed_topic`),
  with the consumer groups of `hub.topics.connector_groups`: nothing else;
- the operator (`sitn-operator`) reads and writes `sitn.registry`, the one principal besides the
  administrator that may write it, and creates and describes the contributors' topics (as
  `sitn registry apply` does for a new organisation).
Principals and grants are sorted, so a plan prints and compares the same whatever the registry's
order.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from hub.core.registry import Registry
from hub.topics import (
    CONTRIB_PREFIX,
    REGISTRY,
    connector_groups,
    contrib_topic,
    feed_topic,
    publisher_transactional_id,
)

__all__ = [
    "OPERATOR",
    "AccessPlan",
    "Grant",
    "Operation",
    "ResourceKind",
    "access_plan",
    "contributor_principal",
    "diffuser_principal",
    "is_hub_principal",
]

OPERATOR: Final = "sitn-operator"
_CONTRIBUTOR: Final = "org."
_DIFFUSER: Final = "diffuser."


class Operation(StrEnum):
    READ = "READ"
    WRITE = "WRITE"
    CREATE = "CREATE"
    DESCRIBE = "DESCRIBE"


class ResourceKind(StrEnum):
    TOPIC = "TOPIC"
    GROUP = "GROUP"
    TRANSACTIONAL_ID = "TRANSACTIONAL_ID"


@dataclass(frozen=True, order=True)
class Grant:
    """One ACL: `principal` may do `operation` on the resource (a name, or every name that
    starts with it when `prefixed`)."""

    principal: str
    kind: ResourceKind
    name: str
    operation: Operation
    prefixed: bool = False

    def describe(self) -> str:
        pattern = f"{self.name}*" if self.prefixed else self.name
        return f"{self.operation.value.lower()} {self.kind.value.lower()} {pattern}"


@dataclass(frozen=True)
class AccessPlan:
    principals: tuple[str, ...]  # SCRAM user names
    grants: tuple[Grant, ...]

    def grants_of(self, principal: str) -> tuple[Grant, ...]:
        return tuple(grant for grant in self.grants if grant.principal == principal)


def contributor_principal(org_id: str) -> str:
    return f"{_CONTRIBUTOR}{org_id}"


def diffuser_principal(diffuser_id: str) -> str:
    return f"{_DIFFUSER}{diffuser_id}"


def is_hub_principal(name: str) -> bool:
    """Whether `name` is one a synchronisation makes (and may therefore remove)."""
    return name == OPERATOR or name.startswith((_CONTRIBUTOR, _DIFFUSER))


def access_plan(registry: Registry) -> AccessPlan:
    """The principals and grants `registry` implies (see the module docstring)."""
    topic, transactional_id = ResourceKind.TOPIC, ResourceKind.TRANSACTIONAL_ID
    read, write, create, describe = (
        Operation.READ,
        Operation.WRITE,
        Operation.CREATE,
        Operation.DESCRIBE,
    )
    principals = [OPERATOR]
    grants = [Grant(OPERATOR, topic, REGISTRY, op) for op in (read, write, describe)]
    grants += [Grant(OPERATOR, topic, CONTRIB_PREFIX, op, True) for op in (create, describe)]
    for org_id in sorted(registry.organisations):
        name = contributor_principal(org_id)
        principals.append(name)
        for op in (write, describe):
            grants.append(Grant(name, topic, contrib_topic(org_id), op))
            grants.append(Grant(name, transactional_id, publisher_transactional_id(org_id), op))
    for diffuser_id in sorted(registry.diffusers):
        name = diffuser_principal(diffuser_id)
        principals.append(name)
        grants += [Grant(name, topic, feed_topic(diffuser_id), op) for op in (read, describe)]
        grants.append(
            Grant(name, ResourceKind.GROUP, connector_groups(diffuser_id), read, prefixed=True)
        )
    return AccessPlan(tuple(sorted(principals)), tuple(sorted(grants)))
