"""`sitn worker [--stage NAME]`: run the hub's stages until interrupted."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Annotated

import typer

from hub.cli.console import err, fail, settings
from hub.settings import Settings
from hub.stages.groups import DEFAULT_PREFIX
from hub.stages.roots import STAGES
from hub.stages.supervisor import Supervisor


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    # The libraries' INFO lines describe their internals (rebalances, fetchers), not the hub.
    for chatty in ("faust", "mode", "aiokafka", "kafka", "alembic"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    # One line per tick is for debugging, not for an operator's screen.
    logging.getLogger("sitn.scheduler").setLevel(logging.WARNING)


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
        err.print(
            f"SITN Hub: stages {', '.join(STAGES)} on Kafka {config.bootstrap_servers}, store "
            f"{config.database_url} (Ctrl-C to stop)"
        )
        asyncio.run(_supervise())
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


async def _supervise() -> None:
    stop = await _stop_on_signals()
    await Supervisor(list(STAGES)).run(stop)
    logging.getLogger("sitn.supervisor").info("every stage stopped")


async def _stage(name: str, config: Settings) -> None:
    stop = await _stop_on_signals()
    log = logging.getLogger(f"sitn.{name}")
    log.info("stage %s starting", name)
    await STAGES[name](config, stop, DEFAULT_PREFIX)
    log.info("stage %s stopped", name)
