"""The operators' read-only web dashboard, served by the API process under ``/dashboard``.

`create_dashboard` (`hub.dashboard.app`) builds the pages over the stores, the broker's status
(`hub.operations.status`) and the registry (`hub.registry.source`); operators open it
with the operator key (`hub.dashboard.access`). `local_dashboard` wires it for `sitn api serve`
and `sitn demo run --serve` from the settings (`hub.dashboard.serving`). Pages are rendered on the
server from the Jinja2 templates shipped in this package, with one stylesheet and no script.
"""

from hub.dashboard.access import OperatorKey, OperatorKeyError, load_operator_key
from hub.dashboard.app import DashboardSources, create_dashboard
from hub.dashboard.serving import DASHBOARD_PATH, local_dashboard
from hub.registry.source import FixedRegistry, RegistrySource, TopicRegistry

__all__ = [
    "DASHBOARD_PATH",
    "DashboardSources",
    "FixedRegistry",
    "OperatorKey",
    "OperatorKeyError",
    "RegistrySource",
    "TopicRegistry",
    "create_dashboard",
    "load_operator_key",
    "local_dashboard",
]
