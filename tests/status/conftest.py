"""A real locator and an incident book on the test database, for the status page's parts."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.incidents.book import Incidents
from bot.locations.locator import Locator
from bot.settings import Settings


@pytest.fixture(scope="session")
def locator() -> Locator:
    return Locator.from_data(Settings().data_dir)


@pytest.fixture
def book(engine: AsyncEngine, locator: Locator) -> Incidents:
    return Incidents(engine, locator)
