"""A worker running in the test's event loop, for tests that need the whole hub on the real broker.

`running_worker(settings, app_id)` starts `hub.worker.Worker` (a unique `app_id` gives it its own
consumer group, so it judges every contribution topic from the beginning), yields it once it is
ready, and stops it cleanly on the way out, failing the test if it crashed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from hub.settings import Settings
from hub.worker import Worker

STOP_TIMEOUT = 60.0


def settings_for(bootstrap: str, home: Path) -> Settings:
    """Settings on `bootstrap` with an SQLite store under `home`."""
    return Settings.from_env(
        {
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "SITN_HOME": str(home),
            "SITN_DATABASE_URL": f"sqlite:///{home / 'store.db'}",
        }
    )


@asynccontextmanager
async def running_worker(settings: Settings, app_id: str) -> AsyncIterator[Worker]:
    worker = Worker(settings, app_id=app_id)
    ready = asyncio.Event()
    task = asyncio.create_task(worker.run(on_ready=lambda _: ready.set()))
    waiter = asyncio.create_task(ready.wait())
    done, _ = await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        waiter.cancel()
        task.result()
        raise RuntimeError("the worker stopped before it was ready")
    try:
        yield worker
    finally:
        assert worker.stop is not None
        worker.stop.set()
        await asyncio.wait_for(task, STOP_TIMEOUT)
