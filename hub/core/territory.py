"""Normandy's territory: its communes by INSEE code, its five departments and its bounding box.

A `Territory` is an immutable value built from commune rows handed to it (the reference data is
read by `hub.reference`, never here). It answers "is this commune in Normandy, and in which
department?" and "could these coordinates be in Normandy?". Communes are kept sorted by INSEE
code, so iteration order never depends on the order the rows came in.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

NORMANDY_DEPARTMENTS: tuple[str, ...] = ("14", "27", "50", "61", "76")

# INSEE commune codes of mainland France: two characters of department, three of commune.
_INSEE_CODE = re.compile(r"[0-9]{5}|2[AB][0-9]{3}")


class TerritoryError(ValueError):
    """Reference data that cannot make a territory (a duplicate or misplaced commune)."""


@dataclass(frozen=True)
class Commune:
    insee: str  # INSEE code of the Code officiel géographique, e.g. "14118" (Caen)
    department: str  # e.g. "14"
    name: str


@dataclass(frozen=True)
class BoundingBox:
    """A latitude/longitude rectangle in decimal degrees (WGS84), bounds included."""

    south: float
    north: float
    west: float
    east: float

    def contains(self, latitude: float, longitude: float) -> bool:
        # NaN and infinities are never inside (comparisons with NaN are all false).
        if not (math.isfinite(latitude) and math.isfinite(longitude)):
            return False
        return self.south <= latitude <= self.north and self.west <= longitude <= self.east


# Normandy's published extents, rounded outwards by 0.01° (about 1 km): 48.17–50.07 N and
# 1.94 W–1.79 E for the mainland and Chausey (French Wikipedia, "Géographie de la Normandie",
# which prints these decimal degrees with minute signs). North is the Bresle side of the
# Seine-Maritime by Le Tréport, west the Nez de Jobourg in the Hague, south the Perche of the
# Orne. They are not computed from commune geometries, which the reference data does not carry.
# Limits: a rectangle is only a necessary condition. It also covers sea and slices of the
# neighbouring regions (north-east Ille-et-Vilaine by the Couesnon, the north of Mayenne,
# Sarthe and Eure-et-Loir, the Vexin of Val-d'Oise and Oise, the Bresle side of the Somme), so a
# point inside it is plausible, not proven Norman; nor can it tell whether the point lies in the
# offer's own commune. The Channel Islands (west of 2° W) are outside, as they should be.
NORMANDY_BOUNDS = BoundingBox(south=48.16, north=50.08, west=-1.95, east=1.80)


class Territory(Mapping[str, Commune]):
    """Normandy's communes keyed by INSEE code, with its departments and bounding box."""

    __slots__ = ("_bounds", "_communes", "_departments")

    def __init__(
        self,
        communes: Iterable[Commune],
        departments: Sequence[str] = NORMANDY_DEPARTMENTS,
        bounds: BoundingBox = NORMANDY_BOUNDS,
    ) -> None:
        by_code: dict[str, Commune] = {}
        for commune in communes:
            problem = _problem_with(commune, departments)
            if problem is not None:
                raise TerritoryError(f"commune {commune.insee!r} ({commune.name!r}): {problem}")
            if commune.insee in by_code:
                raise TerritoryError(
                    f"commune {commune.insee!r} appears twice ({by_code[commune.insee].name!r} "
                    f"and {commune.name!r}); keep one row per INSEE code"
                )
            by_code[commune.insee] = commune
        self._communes = MappingProxyType(dict(sorted(by_code.items())))
        self._departments = tuple(departments)
        self._bounds = bounds

    @classmethod
    def from_rows(
        cls,
        rows: Iterable[tuple[str, str, str]],
        departments: Sequence[str] = NORMANDY_DEPARTMENTS,
        bounds: BoundingBox = NORMANDY_BOUNDS,
    ) -> Territory:
        """A territory from `(insee, department, name)` rows."""
        return cls((Commune(*row) for row in rows), departments, bounds)

    @property
    def departments(self) -> tuple[str, ...]:
        return self._departments

    @property
    def bounds(self) -> BoundingBox:
        return self._bounds

    def department_of(self, insee: str) -> str | None:
        """The department of a commune of this territory, or None if it is not one."""
        commune = self._communes.get(insee)
        return commune.department if commune is not None else None

    def __getitem__(self, insee: str) -> Commune:
        return self._communes[insee]

    def __contains__(self, insee: object) -> bool:
        return insee in self._communes

    def __iter__(self) -> Iterator[str]:
        return iter(self._communes)

    def __len__(self) -> int:
        return len(self._communes)

    def __repr__(self) -> str:
        return f"Territory({len(self)} communes in departments {', '.join(self._departments)})"


def _problem_with(commune: Commune, departments: Sequence[str]) -> str | None:
    if commune.department not in departments:
        return f"department {commune.department!r} is not one of {', '.join(departments)}"
    if _INSEE_CODE.fullmatch(commune.insee) is None:
        return "the INSEE code is not 5 characters such as 14118"
    if not commune.insee.startswith(commune.department):
        return f"the INSEE code does not start with its department {commune.department!r}"
    if not commune.name.strip():
        return "the name is empty"
    return None
