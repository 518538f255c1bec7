"""`sitn topics ensure`: create the hub's topics on the configured broker (idempotent)."""

from __future__ import annotations

import asyncio

import typer
from aiokafka.errors import KafkaError

from hub.cli.console import fail, out, settings
from hub.kafka_clients import ensure_topics
from hub.topics import hub_topics

app = typer.Typer(help="Manage the hub's Kafka topics.", no_args_is_help=True)


@app.command()
def ensure() -> None:
    """Create the hub's topics that do not exist yet on KAFKA_BOOTSTRAP_SERVERS."""
    bootstrap = settings().bootstrap_servers
    try:
        created = asyncio.run(ensure_topics(bootstrap, hub_topics()))
    except (KafkaError, OSError) as error:
        fail(f"cannot reach Kafka at {bootstrap} ({error}); is it running? try `sitn kafka start`")
    names = ", ".join(created) if created else "none (all exist)"
    out.print(f"topics created on {bootstrap}: {names}")
