"""The area-code index customers are answered from: live incidents held in memory.

:meth:`AreaIndex.active_for` / :meth:`AreaIndex.recently_resolved_for` answer from an
in-memory index of the *live* incidents (active, or resolved in the last day). Every
``refresh_seconds`` one cheap aggregate query asks whether the live set changed (by
:meth:`AreaIndex.watch` in the background, or inline when nothing watches) and the index
is rebuilt only then; a write through :class:`bot.incidents.book.Incidents` invalidates it
at once. Live incidents are a few hundred at most while the table keeps every incident
ever, so lookups cost a dictionary hit and other workers see an edit within
``refresh_seconds``. The direct query (:func:`query_active_for`) missed the 1 ms p99
target by far with 100,000 incidents; bench/incident_lookup.py measures both.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.incidents.view import IncidentRecord
from bot.models import Incident, IncidentArea, utcnow

log = logging.getLogger(__name__)

RECENT = timedelta(hours=24)
"""How long a resolved incident still answers "is it fixed yet?"."""


async def query_active_for(engine: AsyncEngine, area_code: str) -> list[Incident]:
    """Return the active incidents in ``area_code`` straight from the database.

    One query through the ``incident_area(area_code, incident_id)`` index. The customer
    path uses :class:`Incidents`' index instead; this is the reference it is checked
    (and benchmarked) against.
    """
    async with AsyncSession(engine, expire_on_commit=False) as session:
        rows = await session.exec(
            select(Incident)
            .join(IncidentArea, col(IncidentArea.incident_id) == col(Incident.id))
            .where(IncidentArea.area_code == area_code, col(Incident.resolved_at).is_(None))
            .order_by(col(Incident.started_at).desc())
        )
        return list(rows.all())


class AreaIndex:
    """Live incidents by area code, refreshed when the database says they changed.

    Args:
        engine: the database.
        refresh_seconds: how stale the index may get when another process writes.
        clock: returns the current time (tests and the demo pass their own).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        refresh_seconds: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._engine = engine
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._by_area: dict[str, list[IncidentRecord]] = {}
        self._signature: tuple[int, str, int] | None = None
        self._checked_at = float("-inf")
        self._dirty = True
        self._changes = 0
        self._watched = False
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        """Make the next lookup reload the index (the book calls it after every write)."""
        self._dirty = True
        self._changes += 1

    @property
    def changes(self) -> int:
        """How many writes went through this worker's book.

        Readers with caches of their own (the status page) compare it to see this
        worker's edits at once, without asking the database.
        """
        return self._changes

    async def active_for(self, area_code: str) -> list[IncidentRecord]:
        """Return the open incidents in ``area_code``, newest first."""
        await self._fresh()
        return [r for r in self._by_area.get(area_code, ()) if r.incident.resolved_at is None]

    async def active(self) -> list[IncidentRecord]:
        """Return every open incident, newest first (a few at a time, even on a bad day)."""
        await self._fresh()
        seen: dict[int, IncidentRecord] = {}
        for records in self._by_area.values():
            for record in records:
                if record.incident.resolved_at is None:
                    seen.setdefault(record.incident.id or 0, record)
        return sorted(
            seen.values(), key=lambda r: (r.incident.started_at, r.incident.id or 0), reverse=True
        )

    async def recently_resolved_for(
        self, area_code: str, within: timedelta = RECENT, now: datetime | None = None
    ) -> list[IncidentRecord]:
        """Return the incidents in ``area_code`` resolved in the last ``within``, newest first.

        ``within`` longer than :data:`RECENT` is capped to it (the index holds one day).
        """
        await self._fresh()
        cutoff = (now or self._clock()) - min(within, RECENT)
        found = [
            r
            for r in self._by_area.get(area_code, ())
            if r.incident.resolved_at is not None and r.incident.resolved_at >= cutoff
        ]
        found.sort(key=lambda r: r.incident.resolved_at or cutoff, reverse=True)
        return found

    async def watch(self) -> None:
        """Keep the index fresh in the background (run as a task; cancel to stop).

        While this runs, lookups never wait for the database: they answer from the index,
        which this loop checks every ``refresh_seconds``.
        """
        self._watched = True
        try:
            while True:
                await asyncio.sleep(self._refresh_seconds)
                try:
                    await self.refresh_if_changed()
                except Exception:  # a database blip must not stop the refresher
                    log.exception("could not refresh the incident index")
        finally:
            self._watched = False

    async def refresh_if_changed(self) -> bool:
        """Reload the index if the live incidents changed since it was built; say if it did.

        The check is one aggregate query over the ``resolved_at`` index (a few ms with
        100,000 incidents); the reload runs only when it differs.
        """
        async with self._lock:
            cutoff = self._clock() - RECENT
            async with AsyncSession(self._engine) as session:
                signature = await live_signature(session, cutoff)
                self._checked_at = time.monotonic()
                if signature == self._signature and not self._dirty:
                    return False
                self._by_area = await _load_live(session, cutoff)
            self._signature = signature
            self._dirty = False
            return True

    async def _fresh(self) -> None:
        stale = time.monotonic() - self._checked_at >= self._refresh_seconds
        if self._dirty or (stale and not self._watched):
            await self.refresh_if_changed()


def live_since(cutoff: datetime) -> ColumnElement[bool]:
    """Select the incidents still open or resolved at or after ``cutoff``."""
    return or_(col(Incident.resolved_at).is_(None), col(Incident.resolved_at) >= cutoff)


async def live_signature(session: AsyncSession, cutoff: datetime) -> tuple[int, str, int]:
    """Return what changes whenever the incidents :func:`live_since` ``cutoff`` change.

    Their count, latest ``updated_at`` (every write sets it) and highest id: one
    aggregate over the ``resolved_at`` index, cheap enough to ask once a second.
    """
    row = await session.exec(
        select(func.count(), func.max(Incident.updated_at), func.max(Incident.id)).where(
            live_since(cutoff)
        )
    )
    count, latest, highest = row.one()
    return int(count), str(latest), int(highest or 0)


async def _load_live(session: AsyncSession, cutoff: datetime) -> dict[str, list[IncidentRecord]]:
    incidents = await session.exec(
        select(Incident)
        .where(live_since(cutoff))
        .order_by(col(Incident.started_at).desc(), col(Incident.id).desc())
    )
    areas = await session.exec(
        select(IncidentArea.incident_id, IncidentArea.area_code)
        .join(Incident, col(Incident.id) == col(IncidentArea.incident_id))
        .where(live_since(cutoff))
    )
    codes: dict[int, list[str]] = {}
    for incident_id, code in areas.all():
        codes.setdefault(incident_id, []).append(code)
    index: dict[str, list[IncidentRecord]] = {}
    for incident in incidents.all():
        record = IncidentRecord(incident, tuple(sorted(codes.get(incident.id or 0, []))))
        for code in record.areas:
            index.setdefault(code, []).append(record)
    return index
