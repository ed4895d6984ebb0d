from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.incidents.input import (
    IncidentError,
    normalise_areas,
    parse_services,
    parse_status,
    parse_when,
)
from bot.locations.locator import Locator
from bot.models import IncidentStatus
from bot.settings import Settings

LONDON = ZoneInfo("Europe/London")


@pytest.fixture(scope="module")
def locator() -> Locator:
    return Locator.from_data(Settings().data_dir)


def test_parse_when_reads_naive_times_as_local() -> None:
    assert parse_when("2016-07-20T17:45", LONDON) == datetime(2016, 7, 20, 16, 45, tzinfo=UTC)
    assert parse_when("2016-07-20T17:45+00:00", LONDON) == datetime(
        2016, 7, 20, 17, 45, tzinfo=UTC
    )
    with pytest.raises(IncidentError, match="ISO 8601"):
        parse_when("tomorrow", LONDON)


def test_normalise_areas_accepts_codes_places_and_punctuation(locator: Locator) -> None:
    assert normalise_areas(locator, ["(020)", "0161-", "leeds, 020"]) == ["020", "0161", "0113"]
    assert normalise_areas(locator, ["01387 3"]) == ["013873"]


@pytest.mark.parametrize("area", ["01632", "Atlantis", "07700 900123"])
def test_normalise_areas_refuses_unknown_areas(locator: Locator, area: str) -> None:
    with pytest.raises(IncidentError, match="unknown area"):
        normalise_areas(locator, [area])


def test_parse_services_and_status() -> None:
    assert parse_services(["Broadband, phone", "phone"]) == ["broadband", "phone"]
    with pytest.raises(IncidentError, match="at least one service"):
        parse_services([" , "])
    assert parse_status(" Identified ") is IncidentStatus.IDENTIFIED
    with pytest.raises(IncidentError, match="status must be one of"):
        parse_status("resolved", allow_resolved=False)
