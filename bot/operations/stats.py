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

A little over 400 lines on purpose: the four parts are the one answer of ``/api/stats``,
read together by ``dashboard`` and timed together by the bench, so their queries stay
side by side where a change to one is weighed against the others' indexes.
"""

from __future__ import annotations

import asyncio
import copy
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy
from sqlalchemy import case, exists, func
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.messages import Channel
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


async def incidents(session: AsyncSession) -> list[dict[str, Any]]:
    """Each active incident with the customers it concerns, newest first.

    Two round trips: the incidents with their three counts as correlated subqueries (each
    an index lookup per incident, and there are tens of active incidents at most), then
    their area codes.
    """
    told = (
        select(func.count(func.distinct(Report.conversation_id)))
        .where(col(Report.incident_id) == col(Incident.id))
        .scalar_subquery()
    )
    waiting = (
        select(func.count())
        .select_from(Subscription)
        .where(
            col(Subscription.incident_id) == col(Incident.id),
            col(Subscription.notified_at).is_(None),
        )
        .scalar_subquery()
    )
    # Driven by the few open hand-offs, each checked against the incident's reports.
    escalated = (
        select(func.count())
        .select_from(Escalation)
        .where(
            col(Escalation.state).in_(OPEN_HAND_OFFS),
            exists()
            .where(
                col(Report.conversation_id) == col(Escalation.conversation_id),
                col(Report.incident_id) == col(Incident.id),
            )
            .correlate_except(Report),
        )
        .scalar_subquery()
    )
    active = (
        await session.exec(
            select(Incident, told, waiting, escalated)
            .where(col(Incident.resolved_at).is_(None))
            .order_by(col(Incident.started_at).desc())
        )
    ).all()
    if not active:
        return []
    areas: dict[int, list[str]] = {}
    rows = await session.exec(
        select(IncidentArea.incident_id, IncidentArea.area_code).where(
            col(IncidentArea.incident_id).in_([incident.id for incident, *_counts in active])
        )
    )
    for incident_id, code in rows.all():
        areas.setdefault(incident_id, []).append(code)
    return [
        {
            "reference": incident.reference,
            "title": incident.title,
            "status": incident.status,
            "area_codes": sorted(areas.get(incident.id or 0, [])),
            "eta": incident.eta.isoformat() if incident.eta else None,
            "started_at": incident.started_at.isoformat(),
            "customers_told": int(customers or 0),
            "subscribers_waiting": int(subscribers or 0),
            "escalations_open": int(hand_offs or 0),
        }
        for incident, customers, subscribers, hand_offs in active
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


def _epoch(moment: Any, dialect: str) -> Any:
    """``moment`` in seconds since the epoch, computed by the database (no datetimes to parse)."""
    if dialect == "sqlite":
        return (func.julianday(moment) - 2440587.5) * 86400.0
    return func.date_part("epoch", moment)  # double precision; EXTRACT gives numeric


async def containment(session: AsyncSession, now: datetime, dialect: str) -> dict[str, Any]:
    """Per channel: conversations over :data:`WINDOW` and those without a person; reply times.

    A conversation counts when its customer wrote in the window (its ``updated_at``, which
    every customer message touches), and as finished without a person when no hand-off
    was asked for in the window. The first reply time is measured per customer message
    over about the latest :data:`REPLY_SAMPLE` of them: from the message to the first reply
    after it in its conversation (the bot's, or an agent's once handed over), which is
    among the latest ``2 * REPLY_SAMPLE`` messages too unless it is yet to come (then the
    message is left out). Those are read backwards along the primary key, a bounded
    index scan that costs the same with a year of history as with a day, and paired by a
    window function, so only the customers' messages' delays come back.
    """
    since = now - WINDOW
    # One count per channel over the (channel, updated_at) index: a range each, no sort.
    counts = sqlalchemy.select(
        *(
            select(func.count())
            .select_from(Conversation)
            .where(
                col(Conversation.channel) == channel.value,
                col(Conversation.updated_at) >= since,
            )
            .scalar_subquery()
            for channel in Channel
        )
    )
    row = (await (await session.connection()).execute(counts)).one()
    conversations = {
        channel.value: int(count) for channel, count in zip(Channel, row, strict=True) if count
    }
    # From the hand-offs (few) to their conversations by primary key, whatever the planner.
    channel_of = (
        select(Conversation.channel)
        .where(col(Conversation.id) == col(Escalation.conversation_id))
        .scalar_subquery()
    )
    handed_over = (
        select(channel_of, func.count(func.distinct(Escalation.conversation_id)))
        .where(col(Escalation.created_at) >= since)
        .group_by(channel_of)
    )
    escalated = {name: int(count) for name, count in (await session.exec(handed_over)).all()}
    latest = (
        sqlalchemy.select(
            col(Message.id).label("id"),
            col(Message.conversation_id).label("conversation_id"),
            col(Message.channel).label("channel"),
            col(Message.direction).label("direction"),
            _epoch(col(Message.created_at), dialect).label("at"),
        )
        .order_by(col(Message.id).desc())
        .limit(2 * REPLY_SAMPLE)
        .subquery()
    )
    replied = func.min(case((latest.c.direction == "out", latest.c.at))).over(
        partition_by=latest.c.conversation_id, order_by=latest.c.id, rows=(1, None)
    )
    paired = sqlalchemy.select(
        latest.c.channel,
        latest.c.direction,
        latest.c.at,
        (replied - latest.c.at).label("delay"),
    ).subquery()
    rows = await (await session.connection()).execute(
        sqlalchemy.select(paired.c.channel, paired.c.delay).where(
            paired.c.direction == "in",
            paired.c.at >= since.timestamp(),
            paired.c.delay.is_not(None),
        )
    )
    delays: dict[str, list[float]] = {}
    for name, seconds in rows.all():
        delays.setdefault(name, []).append(max(0.0, seconds))
    channels = [
        _contained(
            name,
            conversations.get(name, 0),
            escalated.get(name, 0),
            delays.get(name, []),
        )
        for name in sorted(set(conversations) | set(delays))
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
    """Everything the dashboard shows (``GET /api/stats``).

    The four parts are independent, so each reads on its own connection at the same
    time: the wait is the slowest part's rather than the sum of all four.
    """
    now = now or utcnow()
    dialect = engine.dialect.name

    async def read(part: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            return await part(session)

    reported, active, waiting, contained = await asyncio.gather(
        read(lambda session: reports(session, place_for, now)),
        read(incidents),
        read(lambda session: queue(session, now)),
        read(lambda session: containment(session, now, dialect)),
    )
    return {
        "generated_at": now.isoformat(),
        "reports": reported,
        "incidents": active,
        "queue": waiting,
        "containment": contained,
    }
