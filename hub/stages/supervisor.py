"""`sitn worker` without `--stage`: every stage as a supervised child process on this machine.

Each stage runs as `python -m hub.cli worker --stage NAME` with this process's environment (so
the same settings). A stage that exits, or is killed, is reported and started again after a
backoff that doubles from 1 s up to 30 s, and starts again from 1 s once a run lasted a minute.
SIGINT or SIGTERM stops every stage with SIGTERM, then SIGKILL for one that has not stopped
after `grace` seconds; the supervisor then exits.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

__all__ = ["Supervisor"]

log = logging.getLogger("sitn.supervisor")

FIRST_BACKOFF: Final = 1.0
LAST_BACKOFF: Final = 30.0
HEALTHY_AFTER: Final = 60.0


@dataclass
class Child:
    stage: str
    process: asyncio.subprocess.Process | None = None
    started: float = 0.0
    backoff: float = FIRST_BACKOFF
    restarts: int = 0


@dataclass
class Supervisor:
    stages: Sequence[str]
    grace: float = 20.0
    environment: dict[str, str] = field(default_factory=dict)  # added to this process's own
    children: dict[str, Child] = field(default_factory=dict)

    def command(self, stage: str) -> list[str]:
        return [sys.executable, "-m", "hub.cli", "worker", "--stage", stage]

    async def run(self, stop: asyncio.Event) -> None:
        self.children = {stage: Child(stage) for stage in self.stages}
        watchers = [
            asyncio.create_task(self._keep(child, stop), name=f"supervise-{child.stage}")
            for child in self.children.values()
        ]
        try:
            await stop.wait()
        finally:
            await self._stop_all()
            for watcher in watchers:
                watcher.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)

    async def _keep(self, child: Child, stop: asyncio.Event) -> None:
        while not stop.is_set():
            child.process = await asyncio.create_subprocess_exec(
                *self.command(child.stage),
                env={**os.environ, **self.environment},
                start_new_session=True,
            )
            child.started = time.monotonic()
            log.info("stage %s started (pid %d)", child.stage, child.process.pid)
            code = await child.process.wait()
            if stop.is_set():
                return
            lasted = time.monotonic() - child.started
            if lasted >= HEALTHY_AFTER:
                child.backoff = FIRST_BACKOFF
            child.restarts += 1
            log.error(
                "stage %s exited with %s after %.1f s; starting it again in %.0f s",
                child.stage,
                _describe(code),
                lasted,
                child.backoff,
            )
            try:
                await asyncio.wait_for(stop.wait(), child.backoff)
                return
            except TimeoutError:
                child.backoff = min(child.backoff * 2, LAST_BACKOFF)

    async def _stop_all(self) -> None:
        running = [
            c.process
            for c in self.children.values()
            if c.process is not None and c.process.returncode is None
        ]
        for process in running:
            _signal(process, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.gather(*(p.wait() for p in running)), timeout=self.grace)
        except TimeoutError:
            for process in running:
                if process.returncode is None:
                    log.error("pid %d did not stop in %.0f s: killed", process.pid, self.grace)
                    _signal(process, signal.SIGKILL)
            await asyncio.gather(*(p.wait() for p in running))


def _signal(process: asyncio.subprocess.Process, sig: int) -> None:
    try:
        process.send_signal(sig)
    except ProcessLookupError:
        return


def _describe(code: int) -> str:
    if code < 0:
        return f"signal {signal.Signals(-code).name}"
    return f"code {code}"
