"""`sitn worker`: run the hub (collection rules and regional store) until interrupted."""

from __future__ import annotations

import asyncio
import logging
import signal

from hub.cli.console import err, settings
from hub.worker import Worker


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    # The libraries' INFO lines describe their internals (rebalances, fetchers), not the hub.
    for chatty in ("faust", "mode", "aiokafka", "kafka", "alembic"):
        logging.getLogger(chatty).setLevel(logging.WARNING)


def worker() -> None:
    """Run the hub: judge every registered contributor's contributions, keep the store."""
    config = settings()
    configure_logging()
    err.print(
        f"SITN Hub worker: Kafka {config.bootstrap_servers}, store {config.database_url} "
        "(Ctrl-C to stop)"
    )
    asyncio.run(_run(Worker(config)))


async def _run(hub: Worker) -> None:
    hub.stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, hub.stop.set)
    await hub.run(on_ready=lambda w: logging.getLogger("sitn.worker").info("ready"))
    logging.getLogger("sitn.worker").info("stopped; %s", hub.summary())
