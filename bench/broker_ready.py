"""How long the local broker takes from `start` to a successful client round-trip.

Runs N start/stop cycles of a fresh broker (cached jars, storage formatted on the first cycle
only) on free loopback ports and prints each time and the median. Usage:
`python -m bench.broker_ready [N]`.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from hub.broker import LocalBroker, ensure_kafka_jars
from hub.settings import Settings
from tests.conftest import free_port


def main(cycles: int) -> None:
    settings = Settings.from_env()
    jars = ensure_kafka_jars(settings.cache_dir)
    print(f"jars downloaded in {jars.seconds:.1f}s" if jars.downloaded else "jars: cached")
    with tempfile.TemporaryDirectory() as home:
        broker = LocalBroker(
            home=Path(home),
            cache_dir=settings.cache_dir,
            port=free_port(),
            controller_port=free_port(),
        )
        ready: list[float] = []
        for cycle in range(cycles):
            outcome = broker.start()
            started_stopping = time.monotonic()
            broker.stop()
            stop_seconds = time.monotonic() - started_stopping
            ready.append(outcome.ready_seconds)
            print(
                f"cycle {cycle + 1}: ready in {outcome.ready_seconds:.2f}s, "
                f"stopped in {stop_seconds:.2f}s"
            )
    print(f"median ready time over {cycles} cycles: {statistics.median(ready):.2f}s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
