from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.demo import LONDON_2016_AREAS, load_demo
from bot.incidents.book import Incidents
from bot.locations.locator import Locator
from bot.models import IncidentStatus
from bot.settings import Settings

NOW = datetime(2026, 11, 25, 12, 7, tzinfo=UTC)


@pytest.fixture(scope="module")
def locator() -> Locator:
    return Locator.from_data(Settings().data_dir)


async def test_demo_replays_the_london_outage_and_two_more(
    engine: AsyncEngine, locator: Locator
) -> None:
    references = await load_demo(engine, locator, NOW)
    assert len(references) == 3
    book = Incidents(engine, locator, clock=lambda: NOW)
    for code in LONDON_2016_AREAS:
        (london,) = await book.index.active_for(code)
        assert london.incident.status == IncidentStatus.IDENTIFIED
        assert "power failure" in london.incident.cause
        assert london.incident.services == "broadband,phone"
    assert london.incident.eta is not None
    assert timedelta(hours=3) <= london.incident.eta - NOW <= timedelta(hours=3, minutes=15)
    (leeds,) = await book.index.active_for("0113")
    assert leeds.incident.eta is None and leeds.incident.status == IncidentStatus.INVESTIGATING
    assert await book.index.active_for("0161") == []
    (fixed,) = await book.index.recently_resolved_for("0161")
    assert fixed.incident.resolved_at == NOW - timedelta(hours=2)
    timeline = await book.timeline(london.incident.reference)
    assert [u.status for u in timeline] == ["investigating", "identified"]


async def test_demo_leaves_a_database_with_incidents_alone(
    engine: AsyncEngine, locator: Locator
) -> None:
    book = Incidents(engine, locator)
    await book.create(title="Real", areas=["020"], services=["phone"])
    assert await load_demo(engine, locator, NOW) == []
    assert len(await book.find()) == 1


async def test_demo_loads_once(engine: AsyncEngine, locator: Locator) -> None:
    assert len(await load_demo(engine, locator, NOW)) == 3
    assert await load_demo(engine, locator, NOW) == []
