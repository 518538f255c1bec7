"""Brings a broker's SCRAM users and ACLs in line with an `AccessPlan`, through librdkafka's admin
client (confluent-kafka: aiokafka's has neither SCRAM users nor ACLs).

Guarantees: after `sync_access`, every principal of the plan has a SCRAM-SHA-512 credential and
exactly the plan's ACLs; a hub principal (`hub.access.plan.is_hub_principal`) the plan no longer
names has neither credential nor ACL left, so an organisation or diffuser removed from the
registry is refused at its next request; nothing else on the broker is touched (the
administrator, the controller, principals an operator made by hand). A new principal's password
is random and written to `<credentials>/<principal>.password` (mode 600) before the broker knows
it; an existing password is kept, so a sync run again changes nothing. Blocking: call it from a
worker thread.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

from hub.access.plan import AccessPlan, Grant, Operation, ResourceKind, is_hub_principal
from hub.kafka_security import KafkaSecurity, private_folder, write_secret

__all__ = ["AccessError", "NotAdministrator", "SyncReport", "broker_grants", "sync_access"]

_ITERATIONS: Final = 8192  # SCRAM's PBKDF2 rounds, as Kafka's own tools use
_TIMEOUT_S: Final = 30.0
_KINDS: Final = {
    ResourceKind.TOPIC: ResourceType.TOPIC,
    ResourceKind.GROUP: ResourceType.GROUP,
    ResourceKind.TRANSACTIONAL_ID: ResourceType.TRANSACTIONAL_ID,
}
_OPERATIONS: Final = {
    Operation.READ: AclOperation.READ,
    Operation.WRITE: AclOperation.WRITE,
    Operation.CREATE: AclOperation.CREATE,
    Operation.DESCRIBE: AclOperation.DESCRIBE,
}


class AccessError(RuntimeError):
    """The broker refused or could not carry out a part of the synchronisation."""


class NotAdministrator(AccessError):
    """The client's login may not manage the broker's users and ACLs."""


@dataclass(frozen=True)
class SyncReport:
    users_added: tuple[str, ...]
    users_removed: tuple[str, ...]
    grants_added: tuple[Grant, ...]
    grants_removed: tuple[Grant, ...]
    other_acls_removed: int = 0  # of hub principals, in no shape the plan grants (a DENY...)
    users_rotated: tuple[str, ...] = ()


def sync_access(
    plan: AccessPlan,
    bootstrap: str,
    security: KafkaSecurity,
    credentials: Path,
    *,
    rotate: Iterable[str] = (),
) -> SyncReport:
    """Make the broker's hub principals and their ACLs those of `plan` (module docstring); the
    principals named in `rotate` get a new password (their old one stops working)."""
    wanted = set(plan.principals)
    unknown = sorted(set(rotate) - wanted)
    if unknown:
        raise AccessError(
            f"cannot rotate {', '.join(unknown)}: not a principal of the registry "
            "(`sitn access show` lists them)"
        )
    admin = AdminClient(_config(bootstrap, security))
    _require_administrator(admin, security)
    known = {user for user in _users(admin) if is_hub_principal(user)}
    rotated = sorted(set(rotate) & known)
    added = sorted(wanted - known)
    removed = sorted(known - wanted)
    private_folder(credentials)
    alterations: list[UserScramCredentialUpsertion | UserScramCredentialDeletion] = [
        UserScramCredentialUpsertion(
            name,
            ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, _ITERATIONS),
            _password(credentials / f"{name}.password").encode(),
        )
        for name in sorted({*added, *rotated})
    ]
    alterations += [
        UserScramCredentialDeletion(name, ScramMechanism.SCRAM_SHA_512) for name in removed
    ]
    if alterations:
        _wait(admin.alter_user_scram_credentials(alterations), "alter SCRAM credentials")  # type: ignore[arg-type]
    for name in removed:
        (credentials / f"{name}.password").unlink(missing_ok=True)
    _until_known(admin, set(added), set(removed))

    bindings = _hub_bindings(admin)
    target = set(plan.grants)
    present = {_as_grant(binding) for binding in bindings} - {None}
    missing = sorted(target - present)
    # Any other binding of a hub principal goes, whatever its shape (a DENY, another host, an
    # operation the plan never grants): a removed principal keeps nothing, a kept one only its
    # plan's rights.
    extra = [binding for binding in bindings if _as_grant(binding) not in target]
    if missing:
        _wait(admin.create_acls([_binding(grant) for grant in missing]), "create ACLs")
    if extra:
        _wait(admin.delete_acls([_exactly(binding) for binding in extra]), "delete ACLs")
    withdrawn = sorted({grant for binding in extra if (grant := _as_grant(binding)) is not None})
    others = sum(_as_grant(binding) is None for binding in extra)
    return SyncReport(
        tuple(added), tuple(removed), tuple(missing), tuple(withdrawn), others, tuple(rotated)
    )


def broker_grants(bootstrap: str, security: KafkaSecurity) -> tuple[Grant, ...]:
    """The ACLs of the hub's principals on the broker, sorted (what `sitn access show` prints)."""
    admin = AdminClient(_config(bootstrap, security))
    _require_administrator(admin, security)
    grants = {_as_grant(binding) for binding in _hub_bindings(admin)} - {None}
    return tuple(sorted(grant for grant in grants if grant is not None))


# ---------------------------------------------------------------- the broker's side


def _config(bootstrap: str, security: KafkaSecurity) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "security.protocol": security.protocol,
        "socket.timeout.ms": int(_TIMEOUT_S * 1000),
        # librdkafka writes to stderr unless given a logger: the hub's logs stay quiet by default.
        "logger": logging.getLogger("hub.access.librdkafka"),
    }
    if security.protocol.startswith("SASL"):
        config |= {
            "sasl.mechanisms": security.mechanism,
            "sasl.username": security.user,
            "sasl.password": security.password,
        }
    if security.ca_file is not None:
        config["ssl.ca.location"] = str(security.ca_file)
    return config


def _require_administrator(admin: AdminClient, security: KafkaSecurity) -> None:
    """Refuses, before asking anything else, a principal that may not manage users and ACLs:
    describing SCRAM users without the right aborts the whole process in librdkafka 2.16
    instead of failing the request, so the right is checked first, with a call that fails well."""
    try:
        cluster = admin.describe_cluster(include_authorized_operations=True).result(_TIMEOUT_S)
    except KafkaException as error:
        raise AccessError(f"cannot describe the cluster ({error})") from None
    allowed = set(cluster.authorized_operations or ())
    if not {AclOperation.ALTER, AclOperation.DESCRIBE} <= allowed:
        raise NotAdministrator(
            f"{security.user or 'this client'} may not manage the broker's users and ACLs "
            "(it lacks Alter and Describe on the cluster); run this as the broker's "
            "administrator (SITN_KAFKA_USER, SITN_KAFKA_PASSWORD_FILE)"
        )


def _users(admin: AdminClient) -> list[str]:
    future = admin.describe_user_scram_credentials()  # every user: one future
    if not isinstance(future, Future):
        raise AccessError("the admin client answered the users' description per user")
    try:
        described = future.result(_TIMEOUT_S)
    except KafkaException as error:
        raise AccessError(f"cannot list the broker's SCRAM users: {error}") from None
    return list(described)


def _until_known(admin: AdminClient, added: set[str], removed: set[str]) -> None:
    """Returns once the broker answers with the new users and without the removed ones: the
    controller has committed them, but a broker applies the metadata a moment later, and a
    principal given its password must be able to log in at once."""
    deadline = time.monotonic() + _TIMEOUT_S
    while added or removed:
        users = set(_users(admin))
        if added <= users and not removed & users:
            return
        if time.monotonic() > deadline:
            late = sorted((added - users) | (removed & users))
            raise AccessError(f"the broker did not apply the credentials of {', '.join(late)}")
        time.sleep(0.1)


def _hub_bindings(admin: AdminClient) -> list[AclBinding]:
    """Every ACL binding of a hub principal on the broker."""
    every = AclBindingFilter(
        ResourceType.ANY,
        None,  # type: ignore[arg-type]  # None matches any name, principal and host
        ResourcePatternType.ANY,
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    try:
        bindings: Iterable[AclBinding] = admin.describe_acls(every).result(_TIMEOUT_S)
    except KafkaException as error:
        raise AccessError(f"cannot list the broker's ACLs: {error}") from None
    return [b for b in bindings if is_hub_principal(b.principal.removeprefix("User:"))]


def _as_grant(binding: AclBinding) -> Grant | None:
    """The plan's grant this binding is exactly, or None (not a shape the plan makes)."""
    kinds: dict[object, ResourceKind] = {kind: ours for ours, kind in _KINDS.items()}
    operations: dict[object, Operation] = {op: ours for ours, op in _OPERATIONS.items()}
    kind, operation = kinds.get(binding.restype), operations.get(binding.operation)
    patterns = (ResourcePatternType.LITERAL, ResourcePatternType.PREFIXED)
    if (
        kind is None
        or operation is None
        or binding.permission_type != AclPermissionType.ALLOW
        or binding.host != "*"
        or binding.resource_pattern_type not in patterns
    ):
        return None
    prefixed = binding.resource_pattern_type == ResourcePatternType.PREFIXED
    return Grant(binding.principal.removeprefix("User:"), kind, binding.name, operation, prefixed)


def _exactly(binding: AclBinding) -> AclBindingFilter:
    """A filter matching exactly `binding`."""
    return AclBindingFilter(
        binding.restype,
        binding.name,
        binding.resource_pattern_type,
        binding.principal,
        binding.host,
        binding.operation,
        binding.permission_type,
    )


def _binding(grant: Grant) -> AclBinding:
    return AclBinding(
        _KINDS[grant.kind],
        grant.name,
        ResourcePatternType.PREFIXED if grant.prefixed else ResourcePatternType.LITERAL,
        f"User:{grant.principal}",
        "*",
        _OPERATIONS[grant.operation],
        AclPermissionType.ALLOW,
    )


def _wait(futures: Mapping[Any, Future[Any]], what: str) -> None:
    failed = []
    for key, future in futures.items():
        try:
            future.result(_TIMEOUT_S)
        except KafkaException as error:
            failed.append(f"{key}: {error}")
    if failed:
        raise AccessError(f"the broker refused to {what}: " + "; ".join(failed[:5]))


def _password(path: Path) -> str:
    """A new random password, in its file (mode 600) before any broker holds it."""
    secret = secrets.token_urlsafe(24)
    write_secret(path, secret + "\n")
    return secret
