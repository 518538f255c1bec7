"""`sitn worker [--stage NAME]`: run the hub's stages until interrupted."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Annotated

import typer

from hub.cli.console import err, fail, settings
from hub.settings import Settings
from hub.stages.groups import DEFAULT_PREFIX
from hub.stages.roots import STAGES, prepare_stages
from hub.stages.supervisor import Supervisor


def configure_logging() -> None:
    level = os.environ.get("SITN_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=level if level in logging.getLevelNamesMapping() else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    # The libraries' lines describe their internals (rebalances, a coordinator not up yet on a
    # new broker, fetchers), not the hub: what matters reaches the stages as errors they log.
    quiet = logging.DEBUG if level == "DEBUG" else logging.CRITICAL
    for chatty in ("aiokafka", "kafka"):
        logging.getLogger(chatty).setLevel(quiet)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # One line per tick is for debugging, not for an operator's screen.
    logging.getLogger("sitn.scheduler.ticks").setLevel(logging.WARNING)


def worker(
    stage: Annotated[
        str | None,
        typer.Option(
            help=f"Run only this stage, in this process: {', '.join(STAGES)}. Without it, every "
            "stage runs as a supervised child process (restarted with backoff if it stops).",
            metavar="NAME",
        ),
    ] = None,
) -> None:
    """Run the hub's stages: collection, store, diffusion, scheduler and delivery."""
    config = settings()
    configure_logging()
    if stage is None:
        # Here, not at the top: a stage process (`--stage`) loads no database library it
        # does not use, and only the supervisor prints the store's URL.
        from hub.replay.target import shown

        err.print(
            f"SITN Hub: stages {', '.join(STAGES)} on Kafka {config.bootstrap_servers}, store "
            f"{shown(config.database_url)} (Ctrl-C to stop)"
        )
        asyncio.run(_supervise(config))
        return
    if stage not in STAGES:
        fail(f"--stage {stage!r} is not a stage of the hub; use one of {', '.join(STAGES)}")
    asyncio.run(_stage(stage, config))


async def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _supervise(config: Settings) -> None:
    stop = await _stop_on_signals()
    await prepare_stages(config)
    await Supervisor(list(STAGES)).run(stop)
    logging.getLogger("sitn.supervisor").info("every stage stopped")


async def _stage(name: str, config: Settings) -> None:
    stop = await _stop_on_signals()
    log = logging.getLogger(f"sitn.{name}")
    log.info("stage %s starting", name)
    await STAGES[name](config, stop, DEFAULT_PREFIX)
    log.info("stage %s stopped", name)
