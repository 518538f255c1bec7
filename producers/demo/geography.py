"""Where a demo offer is: a real commune, a plausible street, postal code and map point.

The reference data gives INSEE code, department and name per commune, but no coordinates and no
postal codes, so:
- map points: about forty tourist towns use their real centre; any other commune gets a fixed
  point of its department's interior box, drawn from a hash of its INSEE code with a triangular
  law (biased towards the box's centre), so one commune's offers cluster around one spot. Each
  offer then moves up to ~1 km from it. The boxes lie inside Normandy's bounding box
  (`hub.core.territory.NORMANDY_BOUNDS`) and roughly inside their department; they overlap a
  little where departments interlock, so a point is plausible, not surveyed;
- postal codes: only the tourist towns carry theirs (La Poste's codes cannot be derived from
  INSEE codes); other addresses leave it empty, which the charte allows.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from hub.core.offer import Address, GeoPoint, Location
from hub.core.territory import Commune


@dataclass(frozen=True)
class _Box:
    south: float
    north: float
    west: float
    east: float


# Each department's interior, in WGS84 degrees, trimmed from its extents so that jitter stays
# inside the region.
_DEPARTMENT_BOXES: Mapping[str, _Box] = MappingProxyType(
    {
        "14": _Box(south=48.80, north=49.38, west=-1.10, east=0.40),
        "27": _Box(south=48.72, north=49.45, west=0.35, east=1.72),
        "50": _Box(south=48.52, north=49.68, west=-1.85, east=-0.80),
        "61": _Box(south=48.25, north=48.92, west=-0.80, east=0.90),
        "76": _Box(south=49.30, north=50.02, west=0.12, east=1.72),
    }
)


@dataclass(frozen=True)
class TouristTown:
    latitude: float
    longitude: float
    postal_code: str


# Real town centres (rounded to ~100 m) and postal codes, by INSEE code.
TOURIST_TOWNS: Mapping[str, TouristTown] = MappingProxyType(
    {
        "14021": TouristTown(49.339, -0.621, "14117"),  # Arromanches-les-Bains
        "14047": TouristTown(49.276, -0.703, "14400"),  # Bayeux
        "14117": TouristTown(49.285, -0.125, "14390"),  # Cabourg
        "14118": TouristTown(49.183, -0.370, "14000"),  # Caen
        "14220": TouristTown(49.359, 0.075, "14800"),  # Deauville
        "14333": TouristTown(49.419, 0.233, "14600"),  # Honfleur
        "14366": TouristTown(49.146, 0.227, "14100"),  # Lisieux
        "14715": TouristTown(49.366, 0.082, "14360"),  # Trouville-sur-Mer
        "27016": TouristTown(49.246, 1.412, "27700"),  # Les Andelys
        "27052": TouristTown(49.230, 0.719, "27800"),  # Le Bec-Hellouin
        "27056": TouristTown(49.089, 0.598, "27300"),  # Bernay
        "27229": TouristTown(49.024, 1.151, "27000"),  # Évreux
        "27285": TouristTown(49.076, 1.533, "27620"),  # Giverny
        "27377": TouristTown(49.399, 1.476, "27480"),  # Lyons-la-Forêt
        "27467": TouristTown(49.355, 0.515, "27500"),  # Pont-Audemer
        "27681": TouristTown(49.093, 1.485, "27200"),  # Vernon
        "50025": TouristTown(48.684, -1.357, "50300"),  # Avranches
        "50030": TouristTown(49.671, -1.264, "50760"),  # Barfleur
        "50129": TouristTown(49.639, -1.616, "50100"),  # Cherbourg-en-Cotentin
        "50147": TouristTown(49.048, -1.445, "50200"),  # Coutances
        "50218": TouristTown(48.838, -1.597, "50400"),  # Granville
        "50353": TouristTown(48.636, -1.511, "50170"),  # Le Mont-Saint-Michel
        "50502": TouristTown(49.116, -1.091, "50000"),  # Saint-Lô
        "50523": TouristTown(49.408, -1.317, "50480"),  # Sainte-Mère-Église
        "61001": TouristTown(48.432, 0.091, "61000"),  # Alençon
        "61006": TouristTown(48.745, -0.020, "61200"),  # Argentan
        "61145": TouristTown(48.592, -0.646, "61700"),  # Domfront en Poiraie
        "61293": TouristTown(48.520, 0.547, "61400"),  # Mortagne-au-Perche
        "61483": TouristTown(48.557, -0.416, "61140"),  # Bagnoles de l'Orne Normandie
        "76217": TouristTown(49.922, 1.078, "76200"),  # Dieppe
        "76254": TouristTown(49.707, 0.206, "76790"),  # Étretat
        "76259": TouristTown(49.757, 0.375, "76400"),  # Fécamp
        "76351": TouristTown(49.494, 0.108, "76600"),  # Le Havre
        "76378": TouristTown(49.433, 0.819, "76480"),  # Jumièges
        "76540": TouristTown(49.443, 1.099, "76000"),  # Rouen
        "76655": TouristTown(49.870, 0.713, "76460"),  # Saint-Valery-en-Caux
        "76735": TouristTown(49.875, 0.802, "76980"),  # Veules-les-Roses
    }
)

_OFFER_JITTER = 0.01  # degrees, about 1 km: offers of one commune spread around its point

_STREETS: tuple[str, ...] = (
    "rue de l'Église",
    "place du Marché",
    "rue du Général de Gaulle",
    "route de la Mer",
    "chemin des Vergers",
    "rue de la Libération",
    "rue du Port",
    "avenue de la Gare",
    "rue des Écoles",
    "le Bourg",
    "chemin du Moulin",
    "rue Guillaume le Conquérant",
    "quai de la Marine",
    "route du Mont",
    "impasse des Pommiers",
)


def commune_point(commune: Commune) -> GeoPoint:
    """The commune's fixed point: its real centre for a tourist town, else a hashed one."""
    town = TOURIST_TOWNS.get(commune.insee)
    if town is not None:
        return GeoPoint(town.latitude, town.longitude)
    box = _DEPARTMENT_BOXES[commune.department]
    digest = hashlib.blake2b(commune.insee.encode("ascii"), digest_size=16).digest()
    a, b, c, d = (int.from_bytes(digest[i : i + 4], "big") / 2**32 for i in range(0, 16, 4))
    # The mean of two uniform draws: triangular, most communes near the department's centre.
    latitude = box.south + (box.north - box.south) * (a + b) / 2
    longitude = box.west + (box.east - box.west) * (c + d) / 2
    return GeoPoint(latitude, longitude)


def offer_location(commune: Commune, rng: random.Random) -> Location:
    """A street address in `commune` and a point near the commune's own point."""
    centre = commune_point(commune)
    town = TOURIST_TOWNS.get(commune.insee)
    street = _STREETS[rng.randrange(len(_STREETS))]
    number = rng.randint(1, 60) if not street.startswith("le ") else None
    return Location(
        address=Address(
            commune_insee=commune.insee,
            street=f"{number} {street}" if number is not None else street[0].upper() + street[1:],
            postal_code=town.postal_code if town is not None else None,
            commune_name=commune.name,
        ),
        geo=GeoPoint(
            round(centre.latitude + rng.uniform(-_OFFER_JITTER, _OFFER_JITTER), 6),
            round(centre.longitude + rng.uniform(-_OFFER_JITTER, _OFFER_JITTER), 6),
        ),
    )


def is_tourist_town(commune: Commune) -> bool:
    return commune.insee in TOURIST_TOWNS
