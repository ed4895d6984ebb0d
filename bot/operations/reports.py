"""Customers' reports: the raw signal of an outage, written as the bot answers them.

A report is a customer message that names (or resolves to) an area code and describes a
fault or asks about one. Rasa decides that: its outage check
(``bot.rasa.actions.outage.ActionCheckOutage``) runs exactly for such messages, once the
area code is known, and it records one report with the answer it gave. The dashboard,
the early warning and the follow-ups all read this table instead of the message history.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.models import REPORT_BUCKET_SECONDS, Report, ReportOutcome

TEXT_LIMIT = 280
"""How much of the customer's message is kept, for the alerts' sample messages."""

_TABLE: Table = Report.__table__  # type: ignore[attr-defined]
_INSERT = insert(_TABLE)


def bucket_of(moment: datetime) -> int:
    """The 5-minute slot ``moment`` falls in (whole slots since the epoch)."""
    return int(moment.timestamp()) // REPORT_BUCKET_SECONDS


async def record(
    engine: AsyncEngine,
    *,
    conversation_id: int,
    channel: str,
    area_code: str,
    intent: str,
    outcome: ReportOutcome,
    incident_id: int | None,
    text: str,
    now: datetime,
) -> None:
    """Store one report; one small INSERT on the customer's path."""
    row = {
        "conversation_id": conversation_id,
        "channel": channel,
        "area_code": area_code[:8],
        "intent": intent[:40],
        "outcome": outcome.value,
        "incident_id": incident_id,
        "text": text.strip()[:TEXT_LIMIT],
        "created_at": now,
        "bucket": bucket_of(now),
    }
    async with engine.begin() as connection:
        await connection.execute(_INSERT, row)
