"""Who may do what on the broker: the principals and ACLs the registry implies (`plan`, pure),
and their synchronisation with a broker's SCRAM credentials and ACLs (`kafka_admin`)."""

from hub.access.plan import (
    AccessPlan,
    Grant,
    Operation,
    access_plan,
    is_hub_principal,
)

__all__ = [
    "AccessPlan",
    "Grant",
    "Operation",
    "access_plan",
    "is_hub_principal",
]
