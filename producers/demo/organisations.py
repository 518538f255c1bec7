"""The organisations the demo data speaks for, with the ids of the Normandy demo registry.

These ids are the contract between the generator and the registry the repository ships
(`hub/registry/normandy.toml`, which a test checks against them): the owner of every generated
offer is the CDT of its commune's department. Who else may change an offer is read from the
registry itself (see `producers.demo.entitlements`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

CRT = "crt-normandie"

CDT_BY_DEPARTMENT: Mapping[str, str] = MappingProxyType(
    {
        "14": "cdt-calvados",
        "27": "cdt-eure",
        "50": "cdt-manche",
        "61": "cdt-orne",
        "76": "cdt-seine-maritime",
    }
)

OTS_BY_DEPARTMENT: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "14": ("ot-caen-la-mer", "ot-bayeux", "ot-deauville"),
        "27": ("ot-evreux", "ot-giverny"),
        "50": ("ot-cherbourg", "ot-mont-saint-michel", "ot-granville"),
        "61": ("ot-alencon",),
        "76": ("ot-rouen", "ot-le-havre", "ot-etretat"),
    }
)

FEDERATORS: tuple[str, ...] = ("fed-cci-normandie", "fed-prefecture-calvados")
