"""Customers waiting about incidents: an incident book and hand-offs that know their area."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.conversations import store as conversations
from bot.handoff.escalation import escalate
from bot.incidents.book import Incidents
from bot.incidents.view import IncidentRecord
from bot.locations.locator import Locator
from bot.messages import Channel, Inbound
from bot.models import Role, User
from bot.settings import Settings


@pytest.fixture(scope="session")
def locator() -> Locator:
    return Locator.from_data(Settings().data_dir)


@pytest.fixture
def incidents(engine: AsyncEngine, locator: Locator) -> Incidents:
    return Incidents(engine, locator)


async def add_incident(
    incidents: Incidents, areas: list[str], *, eta_hours: float | None = 3
) -> IncidentRecord:
    """An open broadband incident in ``areas``, caused by a cut cable."""
    return await incidents.create(
        title="Broadband outage",
        areas=areas,
        services=["broadband"],
        cause="a cut cable",
        eta=datetime.now(UTC) + timedelta(hours=eta_hours) if eta_hours is not None else None,
    )


async def user(engine: AsyncEngine, name: str, role: Role = Role.AGENT) -> User:
    """A console user ``name``."""
    found = User(name=name, role=role, password_hash="-")
    async with AsyncSession(engine, expire_on_commit=False) as session:
        session.add(found)
        await session.commit()
    return found


async def waiting(
    engine: AsyncEngine,
    who: str,
    *,
    channel: Channel = Channel.WEB,
    area_code: str | None = None,
    incident: IncidentRecord | None = None,
    name: str = "",
) -> int:
    """Customer ``who`` asks for a person, the bot knowing ``area_code``; their conversation."""
    received = await conversations.receive(
        engine,
        Inbound(channel, who, "get me a human", external_id=uuid4().hex, display_name=name),
    )
    assert received is not None and received.conversation.id is not None
    await escalate(
        engine,
        received.conversation.id,
        "request_human",
        area_code=area_code,
        incident_id=incident.incident.id if incident is not None else None,
    )
    return received.conversation.id
