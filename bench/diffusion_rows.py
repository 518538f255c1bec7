"""What saving the diffusion timeline's rows costs the diffusion stage's write path.

The demo generator's offers and follow-up changes (`--offers`, `--changes`), judged by the hub's
`CollectionProcessor` into regional changes (bytes as on the topic, decoded once, not timed), are
fanned out to `--diffusers` diffusers (`bench.diffusion_latency`'s registry) into a fresh SQLite
feed store, in batches of the stage's size, two ways, alternated in one run:
(a) entries and positions only (`diffuse`: the write path before the rows existed);
(b) entries, positions and the touched offers' timeline rows (`diffuse_batch`, as the stage does).
Prints changes/s of each round and the ratio (b)/(a); asserts nothing about time.
Usage: `python -m bench.diffusion_rows [--offers N] [--changes M] [--diffusers D] [--rounds R]`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.diffusion_latency import bench_registry
from consumers.diffusion_projector import BATCH_RECORDS, diffuse, diffuse_batch, evaluations
from consumers.feeds.sql import SqlFeedStore
from hub.codec import encode_contribution
from hub.collection_processor import CollectionProcessor, Inbound
from hub.core.clock import Timeline
from hub.core.regional import RegionalChange
from hub.core.registry import Registry
from hub.reference import load_normandy_territory
from hub.registry.format import load_normandy_registry
from hub.topics import REGIONAL_CHANGES, contrib_topic
from hub.wire import decode_regional_change
from producers.demo import as_contribution, creations, generate_changes, generate_offers


def regional_changes(offers: int, changes: int) -> list[tuple[RegionalChange, bytes]]:
    registry, territory = load_normandy_registry(), load_normandy_territory()
    made = generate_offers(offers, 11, tuple(territory.values()))
    stream = creations(made) + generate_changes(
        made, changes, 11, invalid_ratio=0.0, registry=registry
    )
    processor = CollectionProcessor(registry, territory)
    found: list[tuple[RegionalChange, bytes]] = []
    for offset, (contributor, change) in enumerate(stream):
        contribution = as_contribution(contributor, change)
        inbound = Inbound(
            contrib_topic(contributor),
            0,
            offset,
            int(contribution.occurred_at.timestamp() * 1000),
            contribution.offer_id.encode(),
            encode_contribution(contribution),
        )
        for out in processor.process(inbound):
            if out.topic == REGIONAL_CHANGES:
                found.append((decode_regional_change(out.value), out.value))
    return found


def project(
    folder: Path,
    label: str,
    registry: Registry,
    changes: list[tuple[RegionalChange, bytes]],
    rows: bool,
) -> float:
    """Changes/s of one arm into a fresh feed store."""
    with SqlFeedStore(f"sqlite:///{folder / f'{label}.db'}") as feeds:
        feeds.migrate()
        timeline = Timeline()
        started = time.perf_counter()
        for start in range(0, len(changes), BATCH_RECORDS):
            batch = changes[start : start + BATCH_RECORDS]
            positions = {(REGIONAL_CHANGES, 0): start + len(batch)}
            decoded = [change for change, _ in batch]
            if rows:
                raw = {c.offer_id: (c.version, value) for c, value in batch}
                diffuse_batch(feeds, registry, timeline, decoded, [], positions, raw=raw)
            else:
                diffuse(feeds, registry, evaluations(timeline, decoded, []), positions)
        return len(changes) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--offers", type=int, default=500)
    parser.add_argument("--changes", type=int, default=1500)
    parser.add_argument("--diffusers", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    registry, _ = bench_registry(args.diffusers, 4, 1)
    changes = regional_changes(args.offers, args.changes)
    print(f"{len(changes):,} regional changes to {len(registry.diffusers)} diffusers")
    rates: dict[str, list[float]] = {"entries only": [], "entries and rows": []}
    with tempfile.TemporaryDirectory(prefix="sitn-bench-rows-") as folder:
        for n in range(args.rounds):
            for label, rows in (("entries only", False), ("entries and rows", True)):
                rate = project(Path(folder), f"{label}-{n}", registry, changes, rows)
                rates[label].append(rate)
                print(f"  round {n + 1}: {label:<17} {rate:8,.0f} changes/s")
    a, b = (sum(r) / len(r) for r in rates.values())
    print(f"entries and rows / entries only: {b / a:.2f}")


if __name__ == "__main__":
    main()
