"""Synthetic Normandy offers and change streams for the demo, the tests and the benchmarks.

`generate_offers(count, seed, communes)` makes offers in real communes, owned by their
department's CDT, with every field group their type carries; `generate_changes(offers, count,
seed, invalid_ratio=...)` makes the follow-up changes by the owner CDTs and the organisations the
registry entitles (OTs, federators, the CRT), with an exact share of contributions the hub must
reject, each flagged with its `RuleFamily`; `creations(offers)` are the owners' creations and
`as_contributions` turns either into the hub's envelopes. Same
arguments, same output, byte for byte: one seeded `random.Random`, a fixed epoch, no clock.
"""

from producers.demo.changes import (
    DemoChange,
    RuleFamily,
    creations,
    generate_changes,
)
from producers.demo.envelopes import as_change, as_contribution, as_contributions
from producers.demo.offers import DEPARTMENT_MIX, EPOCH, TYPE_MIX, DemoOffer, generate_offers
from producers.demo.organisations import (
    CDT_BY_DEPARTMENT,
    CRT,
    FEDERATORS,
    OTS_BY_DEPARTMENT,
)

__all__ = [
    "CDT_BY_DEPARTMENT",
    "CRT",
    "DEPARTMENT_MIX",
    "EPOCH",
    "FEDERATORS",
    "OTS_BY_DEPARTMENT",
    "TYPE_MIX",
    "DemoChange",
    "DemoOffer",
    "RuleFamily",
    "as_change",
    "as_contribution",
    "as_contributions",
    "creations",
    "generate_changes",
    "generate_offers",
]
