"""Early warning: reports rising in areas that no incident covers yet.

Every ``alert_check_seconds`` :func:`check` counts, per area code, the customers who
reported in the last ``alert_window_minutes``. An area with no active incident is
*surging* when that count is at least ``alert_min_reports`` and at least ``alert_growth``
times its own trailing rate (its reports in the 24 hours before the window, per window
length). Surging areas without an open alert are raised together as one new alert (an
outage often spans neighbouring codes); an open alert's figures follow its areas, and
it clears itself once active incidents cover all its areas. A dismissed alert is kept,
with who dismissed it and when, and its areas stay quiet for ``alert_snooze_minutes``.

Customers, not messages, are counted, so one customer writing ten times is one report.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import Alert, AlertState, Incident, IncidentArea, Report, utcnow

log = logging.getLogger(__name__)

BASELINE = timedelta(hours=24)
"""The trailing period an area's usual rate is measured over."""

SAMPLES = 3
"""How many of the latest report texts an alert shows."""


class AlertNotFound(LookupError):
    """No alert has that id."""


class AlertClosed(ValueError):
    """The alert is no longer open (dismissed, cleared or turned into an incident)."""


@dataclass(frozen=True)
class Thresholds:
    """When reports count as a surge; from :class:`bot.settings.Settings`."""

    min_reports: int = 5
    window: timedelta = timedelta(minutes=15)
    growth: float = 4.0
    snooze: timedelta = timedelta(minutes=60)


@dataclass(frozen=True)
class AlertView:
    """An open alert as ``GET /api/alerts`` shows it."""

    alert: Alert
    sample_messages: tuple[str, ...]

    @property
    def area_codes(self) -> list[str]:
        """The alert's area codes, sorted."""
        return codes_of(self.alert)

    def to_public(self) -> dict[str, Any]:
        """The JSON shape: ``id``, ``area_codes``, ``reports``, ``since``, ``sample_messages``."""
        return {
            "id": self.alert.id,
            "area_codes": self.area_codes,
            "reports": self.alert.reports,
            "since": self.alert.since.isoformat(),
            "raised_at": self.alert.raised_at.isoformat(),
            "sample_messages": list(self.sample_messages),
        }


def codes_of(alert: Alert) -> list[str]:
    """An alert's area codes as a list."""
    return [code for code in alert.area_codes.split(",") if code]


async def active_codes(session: AsyncSession) -> set[str]:
    """The area codes some active incident covers."""
    rows = await session.exec(
        select(IncidentArea.area_code)
        .join(Incident, col(Incident.id) == col(IncidentArea.incident_id))
        .where(col(Incident.resolved_at).is_(None))
        .distinct()
    )
    return set(rows.all())


async def _recent(session: AsyncSession, since: datetime) -> dict[str, tuple[int, datetime]]:
    """Per area: customers reporting since ``since`` and the first report's time."""
    rows = await session.exec(
        select(
            Report.area_code,
            func.count(func.distinct(Report.conversation_id)),
            func.min(Report.created_at),
        )
        .where(col(Report.created_at) >= since)
        .group_by(col(Report.area_code))
    )
    return {code: (int(count), first) for code, count, first in rows.all()}


async def _trailing(
    session: AsyncSession, codes: Iterable[str], start: datetime, end: datetime
) -> dict[str, int]:
    """Per area in ``codes``: customers reporting in ``[start, end)``."""
    rows = await session.exec(
        select(Report.area_code, func.count(func.distinct(Report.conversation_id)))
        .where(
            col(Report.area_code).in_(list(codes)),
            col(Report.created_at) >= start,
            col(Report.created_at) < end,
        )
        .group_by(col(Report.area_code))
    )
    return {code: int(count) for code, count in rows.all()}


async def _snoozed(session: AsyncSession, since: datetime) -> set[str]:
    rows = await session.exec(
        select(Alert.area_codes).where(
            col(Alert.state) == AlertState.DISMISSED.value,
            col(Alert.dismissed_at) >= since,
        )
    )
    return {code for codes in rows.all() for code in codes.split(",") if code}


async def _open(session: AsyncSession) -> list[Alert]:
    rows = await session.exec(
        select(Alert).where(col(Alert.state) == AlertState.OPEN.value).order_by(col(Alert.id))
    )
    return list(rows.all())


def surging(
    recent: int, trailing: int, thresholds: Thresholds, baseline: timedelta = BASELINE
) -> bool:
    """Whether ``recent`` customers in one window is a surge over ``trailing`` in ``baseline``."""
    windows = baseline / thresholds.window
    return recent >= thresholds.min_reports and recent >= thresholds.growth * trailing / windows


async def check(
    engine: AsyncEngine, thresholds: Thresholds, now: datetime | None = None
) -> list[AlertView]:
    """Raise, refresh and clear alerts from the latest reports; returns the new ones."""
    now = now or utcnow()
    window_start = now - thresholds.window
    async with AsyncSession(engine, expire_on_commit=False) as session:
        covered = await active_codes(session)
        recent = await _recent(session, window_start)
        open_alerts = await _open(session)
        alerted = {code for alert in open_alerts for code in codes_of(alert)}
        for alert in open_alerts:
            codes = codes_of(alert)
            if set(codes) <= covered:
                alert.state = AlertState.CLEARED.value
            else:
                alert.reports = max(alert.reports, sum(recent.get(c, (0, now))[0] for c in codes))
            alert.updated_at = now
            session.add(alert)
        quiet = covered | alerted | await _snoozed(session, now - thresholds.snooze)
        candidates = {
            code: figures
            for code, figures in recent.items()
            if code not in quiet and figures[0] >= thresholds.min_reports
        }
        trailing = (
            await _trailing(session, candidates, window_start - BASELINE, window_start)
            if candidates
            else {}
        )
        rising = sorted(
            code
            for code, (count, _first) in candidates.items()
            if surging(count, trailing.get(code, 0), thresholds)
        )
        raised: list[Alert] = []
        if rising:
            alert = Alert(
                area_codes=",".join(rising),
                reports=sum(candidates[c][0] for c in rising),
                since=min(candidates[c][1] for c in rising),
                raised_at=now,
                updated_at=now,
            )
            session.add(alert)
            raised.append(alert)
        await session.commit()
        if raised:
            log.warning("early warning: reports rising in %s", raised[0].area_codes)
        return [AlertView(a, await _samples(session, codes_of(a), a.since)) for a in raised]


async def _samples(
    session: AsyncSession, codes: Sequence[str], since: datetime
) -> tuple[str, ...]:
    rows = await session.exec(
        select(Report.text)
        .where(col(Report.area_code).in_(list(codes)), col(Report.created_at) >= since)
        # Newest by time, not id: the (created_at, area_code, ...) index then serves both
        # the range and the order; by id SQLite walked every report back to the window.
        .order_by(col(Report.created_at).desc())
        .limit(SAMPLES)
    )
    return tuple(text for text in rows.all() if text)


async def open_alerts(engine: AsyncEngine) -> list[AlertView]:
    """The open alerts, oldest first, each with its latest sample messages."""
    async with AsyncSession(engine, expire_on_commit=False) as session:
        alerts = await _open(session)
        return [AlertView(a, await _samples(session, codes_of(a), a.since)) for a in alerts]


async def get_open(engine: AsyncEngine, alert_id: int) -> Alert:
    """The open alert ``alert_id``.

    Raises:
        AlertNotFound: there is no such alert.
        AlertClosed: it was dismissed, cleared or turned into an incident.
    """
    async with AsyncSession(engine, expire_on_commit=False) as session:
        alert = await session.get(Alert, alert_id)
    if alert is None:
        raise AlertNotFound(f"no alert {alert_id}")
    if alert.state != AlertState.OPEN.value:
        raise AlertClosed(f"alert {alert_id} is {alert.state} already")
    return alert


async def _close(engine: AsyncEngine, alert_id: int, **values: object) -> Alert:
    """Move an open alert out of ``open``; a conditional UPDATE, so only one caller wins."""
    await get_open(engine, alert_id)
    async with AsyncSession(engine, expire_on_commit=False) as session:
        result = await session.exec(
            update(Alert)
            .where(col(Alert.id) == alert_id, col(Alert.state) == AlertState.OPEN.value)
            .values(**values)
        )
        await session.commit()
        if result.rowcount != 1:
            raise AlertClosed(f"alert {alert_id} was closed meanwhile")
        alert = await session.get(Alert, alert_id)
    assert alert is not None
    return alert


async def dismiss(
    engine: AsyncEngine, alert_id: int, by: str, now: datetime | None = None
) -> Alert:
    """Dismiss an open alert, recording who and when.

    Raises:
        AlertNotFound: there is no such alert.
        AlertClosed: it is not open.
    """
    now = now or utcnow()
    return await _close(
        engine,
        alert_id,
        state=AlertState.DISMISSED.value,
        dismissed_by=by[:80],
        dismissed_at=now,
        updated_at=now,
    )


async def became_incident(
    engine: AsyncEngine, alert_id: int, incident_id: int, now: datetime | None = None
) -> Alert:
    """Record that an incident was opened from the alert (which is no longer open).

    Raises:
        AlertNotFound: there is no such alert.
        AlertClosed: it is not open.
    """
    return await _close(
        engine,
        alert_id,
        state=AlertState.INCIDENT.value,
        incident_id=incident_id,
        updated_at=now or utcnow(),
    )


async def fingerprint(engine: AsyncEngine) -> tuple[Any, ...]:
    """Changes whenever an alert is raised, refreshed or closed (for the live pages)."""
    async with AsyncSession(engine) as session:
        row = await session.exec(select(func.count(), func.max(Alert.updated_at)))
        return tuple(row.one())


def webhook_payload(view: AlertView, places: dict[str, str]) -> dict[str, Any]:
    """The JSON posted to ``ALERT_WEBHOOK_URL``: a chat-tool ``text`` plus the alert."""
    named = ", ".join(f"{code} {places.get(code, '')}".strip() for code in view.area_codes)
    text = (
        f"Early warning: {view.alert.reports} customers reported faults in {named} "
        f"since {view.alert.since:%H:%M} UTC, with no incident open there."
    )
    return {"text": text, "alert": view.to_public()}
