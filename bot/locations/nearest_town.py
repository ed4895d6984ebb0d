"""A shared location (latitude, longitude) turned into the nearest major town, offline.

Telegram lets a customer share a location instead of typing where they are. Area-code
boundaries are not published as shapes, so this is an approximation: the nearest of
about seventy major towns in ``data/town_coordinates.csv`` by great-circle distance,
within :data:`MAX_DISTANCE_KM`. The customer is told the town we took (the bot's answer
names it), so a wrong guess is visible and they can type their code instead. No network
service is involved: a customer's position never leaves the machine.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

MAX_DISTANCE_KM = 60.0
"""Farther than this from every listed town, we would rather ask than guess."""

_EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True, slots=True)
class Town:
    """A major town, the area code it is in and where it is."""

    area_code: str
    place: str
    latitude: float
    longitude: float


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Return the great-circle (haversine) distance between two points in kilometres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * _EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


class NearestTown:
    """Finds the nearest listed town to a point."""

    def __init__(self, towns: list[Town], max_distance_km: float = MAX_DISTANCE_KM) -> None:
        self._towns = towns
        self._max = max_distance_km

    @classmethod
    def load(cls, path: Path) -> NearestTown:
        """Read towns from a CSV with ``area_code,place,latitude,longitude`` columns.

        Raises:
            ValueError: a row is malformed (the message names the line).
        """
        towns: list[Town] = []
        with path.open(newline="", encoding="utf-8") as handle:
            for line, row in enumerate(csv.DictReader(handle), start=2):
                try:
                    towns.append(
                        Town(
                            area_code=row["area_code"].strip(),
                            place=row["place"].strip(),
                            latitude=float(row["latitude"]),
                            longitude=float(row["longitude"]),
                        )
                    )
                except (KeyError, TypeError, ValueError):
                    raise ValueError(f"{path.name} line {line}: malformed row") from None
        return cls(towns)

    def nearest(self, latitude: float, longitude: float) -> Town | None:
        """Return the nearest town within the distance limit, or ``None``."""
        best: Town | None = None
        best_km = self._max
        for town in self._towns:
            km = distance_km(latitude, longitude, town.latitude, town.longitude)
            if km <= best_km:
                best, best_km = town, km
        return best
