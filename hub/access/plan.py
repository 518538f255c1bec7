"""The principals and ACLs a registry implies, as plain values (no broker, no I/O).

Guarantees: `access_plan(registry)` is a pure function of the registry; every principal it names
starts with one of `PRINCIPAL_PREFIXES` (so a synchronisation removes only what it made, never the
administrator or anything an operator added by hand), and grants only what its role needs:
- a contributor (`org.<id>`) writes and describes its own `sitn.contrib.<id>` and uses its own
  transactional id `sitn-publisher-<id>` (the publisher's): nothing else, in particular no other
  contributor's topic, no regional change, rejection or customer datum, no registry write;
- a diffuser (`diffuser.<id>`) reads and describes its own feed topic `sitn.feed.<id>`, with
  consumer groups prefixed `sitn-connect-<id>`: nothing else;
- the operator (`sitn-operator`) reads and writes `sitn.registry`, the one principal besides the
  administrator that may write it.
Grants are sorted, so a plan prints and compares the same whatever the registry's order.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from hub.core.registry import Registry

__all__ = [
    "OPERATOR",
    "PRINCIPAL_PREFIXES",
    "AccessPlan",
    "Grant",
    "Operation",
    "Principal",
    "ResourceKind",
    "access_plan",
    "contributor_principal",
    "diffuser_principal",
    "feed_topic",
    "is_hub_principal",
]

OPERATOR: Final = "sitn-operator"
_CONTRIBUTOR: Final = "org."
_DIFFUSER: Final = "diffuser."
PRINCIPAL_PREFIXES: Final = (_CONTRIBUTOR, _DIFFUSER, OPERATOR)


class Operation(StrEnum):
    READ = "READ"
    WRITE = "WRITE"
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


@dataclass(frozen=True, order=True)
class Principal:
    """A SCRAM user of the broker, and what the registry knows it as."""

    name: str
    role: str  # "contributor", "diffuser" or "operator"
    of: str  # the organisation's or diffuser's id ("" for the operator)


@dataclass(frozen=True)
class AccessPlan:
    principals: tuple[Principal, ...]
    grants: tuple[Grant, ...]

    def grants_of(self, principal: str) -> tuple[Grant, ...]:
        return tuple(grant for grant in self.grants if grant.principal == principal)


def contributor_principal(org_id: str) -> str:
    return f"{_CONTRIBUTOR}{org_id}"


def diffuser_principal(diffuser_id: str) -> str:
    return f"{_DIFFUSER}{diffuser_id}"


def feed_topic(diffuser_id: str) -> str:
    """The Kafka topic of a diffuser's feed (written by the diffusion stage, read by its
    connector)."""
    return f"sitn.feed.{diffuser_id}"


def is_hub_principal(name: str) -> bool:
    """Whether `name` is one a synchronisation makes (and may therefore remove)."""
    return name == OPERATOR or name.startswith((_CONTRIBUTOR, _DIFFUSER))


def access_plan(registry: Registry) -> AccessPlan:
    """The principals and grants `registry` implies (see the module docstring)."""
    principals = [Principal(OPERATOR, "operator", "")]
    grants = [
        Grant(OPERATOR, ResourceKind.TOPIC, "sitn.registry", operation)
        for operation in (Operation.READ, Operation.WRITE, Operation.DESCRIBE)
    ]
    for org_id in sorted(registry.organisations):
        name = contributor_principal(org_id)
        principals.append(Principal(name, "contributor", org_id))
        for operation in (Operation.WRITE, Operation.DESCRIBE):
            grants.append(Grant(name, ResourceKind.TOPIC, f"sitn.contrib.{org_id}", operation))
            grants.append(
                Grant(name, ResourceKind.TRANSACTIONAL_ID, f"sitn-publisher-{org_id}", operation)
            )
    for diffuser_id in sorted(registry.diffusers):
        name = diffuser_principal(diffuser_id)
        principals.append(Principal(name, "diffuser", diffuser_id))
        for operation in (Operation.READ, Operation.DESCRIBE):
            grants.append(Grant(name, ResourceKind.TOPIC, feed_topic(diffuser_id), operation))
        grants.append(
            Grant(name, ResourceKind.GROUP, f"sitn-connect-{diffuser_id}", Operation.READ, True)
        )
    return AccessPlan(tuple(sorted(principals)), tuple(sorted(grants)))
