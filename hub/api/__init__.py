"""The HTTP feed API: diffusers read their feeds, contributors their rejections (architecture §9).

`create_app(feeds, store)` builds the FastAPI application (see `hub.api.app`); `sitn api serve`
runs it with uvicorn on the configured database.
"""

from hub.api.app import create_app

__all__ = ["create_app"]
