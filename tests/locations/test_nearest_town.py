"""Shared locations resolved to the nearest major town, offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.locations.nearest_town import NearestTown, distance_km
from bot.settings import Settings

TOWNS = Settings().data_dir / "town_coordinates.csv"


@pytest.fixture(scope="module")
def towns() -> NearestTown:
    return NearestTown.load(TOWNS)


@pytest.mark.parametrize(
    ("latitude", "longitude", "place", "code"),
    [
        (53.4794, -2.2453, "Manchester", "0161"),  # Piccadilly Gardens
        (53.8008, -1.5491, "Leeds", "0113"),
        (51.5014, -0.1419, "London", "020"),  # Buckingham Palace
        (55.9486, -3.1999, "Edinburgh", "0131"),
        (53.95, -1.10, "York", "01904"),
    ],
)
def test_nearest_town(
    towns: NearestTown, latitude: float, longitude: float, place: str, code: str
) -> None:
    town = towns.nearest(latitude, longitude)
    assert town is not None
    assert (town.place, town.area_code) == (place, code)


@pytest.mark.parametrize(("latitude", "longitude"), [(45.0, -30.0), (48.8566, 2.3522)])
def test_nowhere_near_a_listed_town_is_none(
    towns: NearestTown, latitude: float, longitude: float
) -> None:
    assert towns.nearest(latitude, longitude) is None


def test_distance_is_great_circle() -> None:
    # London to Manchester is about 262 km as the crow flies.
    assert distance_km(51.507, -0.128, 53.480, -2.242) == pytest.approx(262, abs=3)


def test_malformed_row_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "towns.csv"
    path.write_text(
        "area_code,place,latitude,longitude\n0161,Manchester,53.4,-2.2\n020,London,x,y\n"
    )
    with pytest.raises(ValueError, match="line 3"):
        NearestTown.load(path)
