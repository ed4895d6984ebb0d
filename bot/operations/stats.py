"""The dashboard's figures, as plain data: what ``GET /api/stats`` returns.

Four parts, each a few grouped queries over indexed columns (bench/dashboard.py times
them with 100,000 messages and 1,000 subscriptions):

- ``reports``: per area code over the last 24 hours in 5-minute buckets (the ``report``
  table's stored ``bucket``), the top areas as series for the chart and every area as a
  table row with its growth: ``(reports in the last hour + 1) / (reports in the hour
  before + 1)``, so a quiet area going from 0 to 3 reads 4x and noise stays near 1x;
- ``incidents``: each active incident's area codes, estimated fix, customers told about
  it, subscribers still waiting for the fix notice and open hand-offs of customers told
  about it;
- ``queue``: the hand-off queue's length, oldest wait and make-up by reason and priority;
- ``containment``: per channel over the last 24 hours, the share of conversations the
  bot finished without a person (no hand-off asked for), and the first reply time to
  the latest customer messages (median and 95th percentile).
"""

from __future__ import annotations

import asyncio
import copy
import math
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy
from sqlalchemy import case, func
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import (
    REPORT_BUCKET_SECONDS,
    Conversation,
    Escalation,
    EscalationState,
    Incident,
    IncidentArea,
    Message,
    Report,
    Subscription,
    utcnow,
)
from bot.operations.reports import bucket_of

DAY_BUCKETS = 24 * 3600 // REPORT_BUCKET_SECONDS
"""How many 5-minute buckets the reports chart covers (24 hours)."""

TOP_AREAS = 6
"""How many areas the chart draws; the table lists up to :data:`TABLE_AREAS`."""
TABLE_AREAS = 100

OPEN_HAND_OFFS = [EscalationState.OPEN.value, EscalationState.CLAIMED.value]
"""The hand-offs the agents' queue lists."""

WINDOW = timedelta(hours=24)
"""The period the containment figures cover."""

REPLY_SAMPLE = 1000
"""About how many of the latest customer messages the first reply times are measured over
(the customers' among the latest ``2 * REPLY_SAMPLE`` messages)."""

PlaceFor = Callable[[str], str | None]


def percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile of ``values`` (``None`` when there are none)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def growth(last_hour: int, hour_before: int) -> float:
    """How much faster an area's reports come than an hour ago (smoothed by one each)."""
    return round((last_hour + 1) / (hour_before + 1), 2)


async def reports(
    session: AsyncSession, place_for: PlaceFor, now: datetime, top: int = TOP_AREAS
) -> dict[str, Any]:
    """Reports per area over the last 24 hours: the chart's series and the table's rows."""
    latest = bucket_of(now)
    first = latest - DAY_BUCKETS + 1
    bucket = col(Report.bucket)

    def within(start: int, end: int = latest) -> Any:
        return func.sum(case((bucket.between(start, end), 1), else_=0))

    # SQLAlchemy's own select: sqlmodel's is typed for at most four columns.
    totals = await (await session.connection()).execute(
        sqlalchemy.select(
            col(Report.area_code),
            func.count(),
            within(latest - 2),
            within(latest - 11),
            within(latest - 23, latest - 12),
        )
        .where(bucket >= first)
        .group_by(col(Report.area_code))
    )
    areas = [
        {
            "area_code": code,
            "place": place_for(code) or "",
            "total_24h": int(total),
            "last_15m": int(quarter or 0),
            "last_hour": int(hour or 0),
            "hour_before": int(before or 0),
            "growth": growth(int(hour or 0), int(before or 0)),
        }
        for code, total, quarter, hour, before in totals.all()
    ]
    areas.sort(key=lambda a: (-a["last_hour"], -a["total_24h"], a["area_code"]))
    chosen = [a["area_code"] for a in areas[:top]]
    series: dict[str, list[int]] = {code: [0] * DAY_BUCKETS for code in chosen}
    if chosen:
        rows = await session.exec(
            select(Report.area_code, Report.bucket, func.count())
            .where(bucket >= first, col(Report.area_code).in_(chosen))
            .group_by(col(Report.area_code), bucket)
        )
        for code, slot, count in rows.all():
            series[code][slot - first] = int(count)
    start = datetime.fromtimestamp(first * REPORT_BUCKET_SECONDS, tz=now.tzinfo)
    return {
        "bucket_minutes": REPORT_BUCKET_SECONDS // 60,
        "start": start.isoformat(),
        "top": [
            {"area_code": code, "place": place_for(code) or "", "counts": series[code]}
            for code in chosen
        ],
        "areas": areas[:TABLE_AREAS],
    }


async def _counts(session: AsyncSession, query: Any) -> dict[int, int]:
    return {int(key): int(count) for key, count in (await session.exec(query)).all()}


async def incidents(session: AsyncSession) -> list[dict[str, Any]]:
    """Each active incident with the customers it concerns, newest first."""
    active = (
        await session.exec(
            select(Incident)
            .where(col(Incident.resolved_at).is_(None))
            .order_by(col(Incident.started_at).desc())
        )
    ).all()
    ids = [incident.id for incident in active]
    if not ids:
        return []
    areas: dict[int, list[str]] = {}
    rows = await session.exec(
        select(IncidentArea.incident_id, IncidentArea.area_code).where(
            col(IncidentArea.incident_id).in_(ids)
        )
    )
    for incident_id, code in rows.all():
        areas.setdefault(incident_id, []).append(code)
    told = await _counts(
        session,
        select(Report.incident_id, func.count(func.distinct(Report.conversation_id)))
        .where(col(Report.incident_id).in_(ids))
        .group_by(col(Report.incident_id)),
    )
    waiting = await _counts(
        session,
        select(Subscription.incident_id, func.count())
        .where(col(Subscription.incident_id).in_(ids), col(Subscription.notified_at).is_(None))
        .group_by(col(Subscription.incident_id)),
    )
    escalated = await _counts(
        session,
        select(Report.incident_id, func.count(func.distinct(Escalation.id)))
        .join(Report, col(Report.conversation_id) == col(Escalation.conversation_id))
        .where(col(Report.incident_id).in_(ids), col(Escalation.state).in_(OPEN_HAND_OFFS))
        .group_by(col(Report.incident_id)),
    )
    return [
        {
            "reference": incident.reference,
            "title": incident.title,
            "status": incident.status,
            "area_codes": sorted(areas.get(incident.id or 0, [])),
            "eta": incident.eta.isoformat() if incident.eta else None,
            "started_at": incident.started_at.isoformat(),
            "customers_told": told.get(incident.id or 0, 0),
            "subscribers_waiting": waiting.get(incident.id or 0, 0),
            "escalations_open": escalated.get(incident.id or 0, 0),
        }
        for incident in active
    ]


async def queue(session: AsyncSession, now: datetime) -> dict[str, Any]:
    """The hand-off queue (open and claimed hand-offs, as the agents' console lists it)."""
    rows = (
        await session.exec(
            select(
                Escalation.reason,
                Escalation.priority,
                func.count(),
                func.min(Escalation.created_at),
            )
            .where(col(Escalation.state).in_(OPEN_HAND_OFFS))
            .group_by(col(Escalation.reason), col(Escalation.priority))
        )
    ).all()
    by_reason: dict[str, int] = {}
    by_priority: dict[str, int] = {}
    oldest: datetime | None = None
    for reason, priority, count, first in rows:
        by_reason[reason] = by_reason.get(reason, 0) + int(count)
        by_priority[str(priority)] = by_priority.get(str(priority), 0) + int(count)
        oldest = first if oldest is None else min(oldest, first)
    return {
        "length": sum(by_reason.values()),
        "oldest_wait_seconds": max(0, int((now - oldest).total_seconds())) if oldest else 0,
        "by_reason": dict(sorted(by_reason.items(), key=lambda item: -item[1])),
        "by_priority": dict(sorted(by_priority.items(), reverse=True)),
    }


def _seconds(later: Any, earlier: Any, dialect: str) -> Any:
    """``later - earlier`` in seconds, computed by the database (no datetimes to parse)."""
    if dialect == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return func.extract("epoch", later - earlier)


async def containment(session: AsyncSession, now: datetime, dialect: str) -> dict[str, Any]:
    """Per channel: conversations over :data:`WINDOW` and those without a person; reply times.

    A conversation counts when its customer wrote in the window (its ``updated_at``, which
    every customer message touches), and as finished without a person when no hand-off
    was asked for in the window. The first reply time is measured per customer message
    over about the latest :data:`REPLY_SAMPLE` of them: from the message to the first reply
    after it (the bot's, or an agent's once handed over), read along the primary key so it
    costs the same with a year of history as with a day. Unanswered messages are left out.
    """
    since = now - WINDOW
    conversations = {
        channel: int(count)
        for channel, count in (
            await session.exec(
                select(Conversation.channel, func.count())
                .where(col(Conversation.updated_at) >= since)
                .group_by(col(Conversation.channel))
            )
        ).all()
    }
    escalated = {
        channel: int(count)
        for channel, count in (
            await session.exec(
                select(Conversation.channel, func.count(func.distinct(Escalation.conversation_id)))
                .join(Conversation, col(Conversation.id) == col(Escalation.conversation_id))
                .where(col(Escalation.created_at) >= since)
                .group_by(col(Conversation.channel))
            )
        ).all()
    }
    # The latest messages by primary key (about half are the customers'), and no condition
    # on ``direction`` that would tempt SQLite into its outbox index and a sort.
    latest = sqlalchemy.select(func.max(col(Message.id))).scalar_subquery()
    asked = (
        sqlalchemy.select(
            col(Message.id).label("id"),
            col(Message.conversation_id).label("conversation_id"),
            col(Message.channel).label("channel"),
            col(Message.direction).label("direction"),
            col(Message.created_at).label("created_at"),
        )
        .where(col(Message.id) > latest - 2 * REPLY_SAMPLE, col(Message.created_at) >= since)
        .subquery()
    )
    reply = sqlalchemy.alias(Message.__table__, "reply")  # type: ignore[attr-defined]
    answered = (
        sqlalchemy.select(func.min(reply.c.created_at))
        .where(
            reply.c.conversation_id == asked.c.conversation_id,
            reply.c.direction == "out",
            reply.c.id > asked.c.id,
        )
        .scalar_subquery()
    )
    delay = case((asked.c.direction == "in", _seconds(answered, asked.c.created_at, dialect)))
    rows = await (await session.connection()).execute(sqlalchemy.select(asked.c.channel, delay))
    delays: dict[str, list[float]] = {}
    for channel, seconds in rows.all():
        if seconds is not None:
            delays.setdefault(channel, []).append(max(0.0, float(seconds)))
    channels = [
        _contained(
            channel,
            conversations.get(channel, 0),
            escalated.get(channel, 0),
            delays.get(channel, []),
        )
        for channel in sorted(set(conversations) | set(delays))
    ]
    everything = [d for values in delays.values() for d in values]
    overall = _contained("all", sum(conversations.values()), sum(escalated.values()), everything)
    return {
        "window_hours": WINDOW.total_seconds() / 3600,
        "reply_sample": REPLY_SAMPLE,
        "channels": channels,
        "overall": overall,
    }


def _contained(
    channel: str, total: int, escalated: int, delays: Sequence[float]
) -> dict[str, Any]:
    without = max(0, total - escalated)
    median = percentile(delays, 0.5)
    p95 = percentile(delays, 0.95)
    return {
        "channel": channel,
        "conversations": total,
        "without_person": without,
        "share": round(without / total, 3) if total else None,
        "first_reply_seconds": {
            "median": round(median, 3) if median is not None else None,
            "p95": round(p95, 3) if p95 is not None else None,
        },
    }


class Snapshot:
    """The latest figures, shared by every dashboard that asks within ``max_age`` seconds.

    Each open dashboard refreshes whenever the console socket says something changed, so
    during an outage (when everyone has it open) requests arrive in bursts; one read of
    the figures serves the whole burst, and concurrent askers wait for that one read
    rather than starting their own.
    """

    def __init__(self, engine: AsyncEngine, place_for: PlaceFor, max_age: float = 1.0) -> None:
        self._engine = engine
        self._place_for = place_for
        self._max_age = max_age
        self._figures: dict[str, Any] | None = None
        self._taken = float("-inf")
        self._lock = asyncio.Lock()

    async def figures(self) -> dict[str, Any]:
        """The dashboard's figures, at most ``max_age`` seconds old (a fresh copy each time)."""
        async with self._lock:
            if self._figures is None or time.monotonic() - self._taken >= self._max_age:
                self._figures = await dashboard(self._engine, self._place_for)
                self._taken = time.monotonic()
            return copy.deepcopy(self._figures)


async def dashboard(
    engine: AsyncEngine, place_for: PlaceFor, now: datetime | None = None
) -> dict[str, Any]:
    """Everything the dashboard shows (``GET /api/stats``), read in one session."""
    now = now or utcnow()
    async with AsyncSession(engine, expire_on_commit=False) as session:
        return {
            "generated_at": now.isoformat(),
            "reports": await reports(session, place_for, now),
            "incidents": await incidents(session),
            "queue": await queue(session, now),
            "containment": await containment(session, now, engine.dialect.name),
        }
