"""The HTTP feed API: diffusers read their feeds, contributors their rejections (architecture §9).

`create_app(feeds, store)` builds the FastAPI application (see `consumers.api.app`); `sitn api
serve` runs it with uvicorn on the configured database. The application module (and FastAPI with it)
is imported when `create_app` is first asked for, so the bodies' modules (`native`, `jsonld`) serve
exports and stages without loading a web framework.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from consumers.api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from consumers.api.app import create_app

        return create_app
    raise AttributeError(f"module 'consumers.api' has no attribute {name!r}")
