"""The dashboard as the API process serves it: built from the settings, and how to open it.

`local_dashboard(settings, status)` gives the dashboard application over the broker and stores
of `status`, with the registry on `sitn.registry` of that broker, and the operator key
(`SITN_OPERATOR_KEY`, or the key file under SITN_HOME); `how_to_open` is the line the commands
print so an operator knows the URL and where the key is, without the key itself being logged.
"""

from __future__ import annotations

from typing import Final

from fastapi import FastAPI

from hub.dashboard.access import OperatorKey, load_operator_key
from hub.dashboard.app import DashboardSources, create_dashboard
from hub.operations.status import StatusSources
from hub.registry.source import TopicRegistry
from hub.settings import Settings

# Where `consumers.api.create_app` mounts the dashboard.
DASHBOARD_PATH: Final = "/dashboard"


def local_dashboard(settings: Settings, status: StatusSources) -> tuple[FastAPI, OperatorKey]:
    """The dashboard over `status` (broker and stores), and the key that opens it.

    The registry is read from `sitn.registry` on the same broker. Raises `OperatorKeyError` if
    the operator key cannot be read or is too short.
    """
    key = load_operator_key(settings)
    sources = DashboardSources(status=status, registry=TopicRegistry(status.bootstrap))
    return create_dashboard(sources, key), key


def how_to_open(base_url: str, key: OperatorKey, *, show_key: bool = False) -> str:
    """One line: the dashboard's URL and where its key is (the key itself only if `show_key`)."""
    where = (
        f"the key in {key.origin}"
        if not key.from_environment
        else f"the key in the environment variable {key.origin}"
    )
    shown = f"operator key {key.value} ({where})" if show_key else where
    return f"Operators' dashboard: {base_url.rstrip('/')}{DASHBOARD_PATH}/ (log in with {shown})"
