"""How fast the demo generator makes offers and changes, at the regional base's size.

Generates N offers (default 60,000, the size of Normandy's base) and N/2 changes with 5% invalid
items, turns them into contributions in `hub.records` JSON, and prints each stage's rate.
Usage: `python -m bench.demo_generate [N]`.
"""

from __future__ import annotations

import json
import sys
import time

from hub.records import contribution_to_json
from hub.reference import load_normandy_territory
from producers.demo import as_contributions, creations, generate_changes, generate_offers


def main(count: int) -> None:
    communes = tuple(load_normandy_territory().values())
    started = time.perf_counter()
    offers = generate_offers(count, 1, communes)
    offers_done = time.perf_counter()
    changes = generate_changes(offers, count // 2, 1, invalid_ratio=0.05)
    changes_done = time.perf_counter()
    contributions = as_contributions(creations(offers) + changes)
    size = sum(len(json.dumps(contribution_to_json(c), ensure_ascii=False)) for c in contributions)
    json_done = time.perf_counter()
    assert len(offers) == count
    for label, items, seconds in (
        ("offers", count, offers_done - started),
        ("changes", len(changes), changes_done - offers_done),
        ("JSON lines", len(contributions), json_done - changes_done),
    ):
        print(f"{label:<10} {items:>8,} in {seconds:6.2f}s  {items / seconds:>10,.0f}/s")
    print(f"JSON: {size / 1e6:,.1f} MB of characters")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 60_000)
