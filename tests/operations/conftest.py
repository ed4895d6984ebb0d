"""Reports written as the outage check writes them, from customers made through the inbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.conversations import store as conversations
from bot.messages import Channel, Inbound
from bot.models import ReportOutcome
from bot.operations import reports


async def customer(engine: AsyncEngine, user: str, channel: Channel = Channel.WEB) -> int:
    """A conversation with one message from ``user``; its id."""
    received = await conversations.receive(
        engine, Inbound(channel, user, "my broadband is down", external_id=f"{channel}-{user}")
    )
    assert received is not None and received.conversation.id is not None
    return received.conversation.id


async def report(
    engine: AsyncEngine,
    conversation_id: int,
    area_code: str,
    at: datetime,
    outcome: ReportOutcome = ReportOutcome.NO_INCIDENT,
    incident_id: int | None = None,
    text: str = "broadband down",
) -> None:
    """One report from ``conversation_id`` in ``area_code`` at ``at``."""
    await reports.record(
        engine,
        conversation_id=conversation_id,
        channel="web",
        area_code=area_code,
        intent="report_outage",
        outcome=outcome,
        incident_id=incident_id,
        text=text,
        now=at,
    )
