"""`sitn topics ensure`: create the hub's topics, and the topic of every organisation of the
registry on `sitn.registry`, on the configured broker (idempotent)."""

from __future__ import annotations

import asyncio

import typer
from aiokafka.errors import KafkaError

from hub.cli.console import fail, out, settings
from hub.kafka_clients import ensure_topics
from hub.registry.topic import read_registry_topic
from hub.topics import contributor_topic_spec, hub_topics

app = typer.Typer(help="Manage the hub's Kafka topics.", no_args_is_help=True)


async def _ensure(bootstrap: str) -> list[str]:
    created = await ensure_topics(bootstrap, hub_topics())
    registry = (await read_registry_topic(bootstrap)).registry
    specs = [contributor_topic_spec(org) for org in sorted(registry.organisations)]
    return created + await ensure_topics(bootstrap, specs)


@app.command()
def ensure() -> None:
    """Create the hub's topics and the registered contributors' topics that do not exist yet."""
    bootstrap = settings().bootstrap_servers
    try:
        created = asyncio.run(_ensure(bootstrap))
    except (KafkaError, OSError) as error:
        fail(f"cannot reach Kafka at {bootstrap} ({error}); is it running? try `sitn kafka start`")
    names = ", ".join(created) if created else "none (all exist)"
    out.print(f"topics created on {bootstrap}: {names}")
