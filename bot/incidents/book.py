"""Incidents: the faults customers ask about, kept by comms staff (storage and queries).

Writes (create, update, resolve) are single transactions that also append a timeline row,
so the console, the CLI and the API all leave the same audit trail. Areas may be given as
codes ("0161") or places ("Leeds"); they are normalised to codes through the Locator and
anything unknown is refused before anything is written. Every write through the book
invalidates its :attr:`Incidents.index` (:mod:`bot.incidents.index`), which answers the
customer path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.incidents.index import AreaIndex
from bot.incidents.input import (
    IncidentError,
    IncidentNotFound,
    Locator,
    check_eta,
    check_text,
    normalise_areas,
    parse_services,
    parse_status,
)
from bot.incidents.view import (
    IncidentRecord,
)
from bot.models import Incident, IncidentArea, IncidentStatus, TimelineEntry, utcnow

log = logging.getLogger(__name__)

_CREATE_ATTEMPTS = 20


class Incidents:
    """The incident book: writes and staff queries go to the database.

    Customer lookups go to :attr:`index`, which every write here invalidates.

    Args:
        engine: the database.
        locator: turns "Leeds" or "(0113)" into an area code.
        refresh_seconds: how stale the lookup index may get when another process writes.
        clock: returns the current time (tests and the demo pass their own).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        locator: Locator,
        *,
        refresh_seconds: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._engine = engine
        self._locator = locator
        self._clock = clock
        self.index = AreaIndex(engine, refresh_seconds=refresh_seconds, clock=clock)

    # ----- writes ---------------------------------------------------------------------

    async def create(
        self,
        *,
        title: str,
        areas: Iterable[str],
        services: Iterable[str],
        status: str = IncidentStatus.INVESTIGATING,
        eta: datetime | None = None,
        cause: str = "",
        author: str = "system",
        now: datetime | None = None,
    ) -> IncidentRecord:
        """Record a new incident and return it with its fresh ``INC-YYYYMMDD-NNNN`` reference.

        Raises:
            IncidentError: bad title, area, service, status or ETA; nothing is written.
        """
        now = now or self._clock()
        codes = normalise_areas(self._locator, areas)
        names = parse_services(services)
        state = parse_status(status, allow_resolved=False)
        check_text(title, cause)
        check_eta(eta, now)
        for _attempt in range(_CREATE_ATTEMPTS):
            try:
                record = await self._insert(
                    title.strip(), cause.strip(), names, state, eta, codes, author, now
                )
            except IntegrityError:
                log.info("incident reference taken by a concurrent writer; retrying")
                continue
            self.index.invalidate()
            return record
        raise IncidentError("could not allocate an incident reference; try again")

    async def _insert(
        self,
        title: str,
        cause: str,
        services: list[str],
        status: IncidentStatus,
        eta: datetime | None,
        codes: list[str],
        author: str,
        now: datetime,
    ) -> IncidentRecord:
        async with AsyncSession(self._engine, expire_on_commit=False) as session:
            reference = await _next_reference(session, now)
            incident = Incident(
                reference=reference,
                title=title,
                cause=cause,
                services=",".join(services),
                status=status,
                started_at=now,
                updated_at=now,
                eta=eta,
            )
            session.add(incident)
            await session.flush()
            assert incident.id is not None
            session.add_all(IncidentArea(incident_id=incident.id, area_code=c) for c in codes)
            session.add(
                TimelineEntry(
                    incident_id=incident.id,
                    at=now,
                    author=author,
                    status=status,
                    eta=eta,
                    note=f"created: {title} ({', '.join(codes)})",
                )
            )
            await session.commit()
            return IncidentRecord(incident, tuple(sorted(codes)))

    async def update(
        self,
        reference: str,
        *,
        title: str | None = None,
        cause: str | None = None,
        status: str | None = None,
        eta: datetime | None = None,
        clear_eta: bool = False,
        areas: Iterable[str] | None = None,
        services: Iterable[str] | None = None,
        author: str = "system",
        note: str = "",
        now: datetime | None = None,
    ) -> IncidentRecord:
        """Change an incident and append what changed to its timeline.

        Status ``resolved`` resolves it; an active status on a resolved incident reopens it.

        Raises:
            IncidentNotFound: no incident has ``reference``.
            IncidentError: bad input; nothing is written.
        """
        now = now or self._clock()
        codes = normalise_areas(self._locator, areas) if areas is not None else None
        names = parse_services(services) if services is not None else None
        state = parse_status(status) if status is not None else None
        check_text(title, cause)
        check_eta(eta, now)
        async with AsyncSession(self._engine, expire_on_commit=False) as session:
            incident = await _get(session, reference)
            assert incident.id is not None
            changes: list[str] = []
            if title is not None and title.strip() != incident.title:
                incident.title = title.strip()
                changes.append(f"title: {incident.title}")
            if cause is not None and cause.strip() != incident.cause:
                incident.cause = cause.strip()
                changes.append(f"cause: {incident.cause}")
            if names is not None and ",".join(names) != incident.services:
                incident.services = ",".join(names)
                changes.append(f"services: {', '.join(names)}")
            if clear_eta and incident.eta is not None:
                incident.eta = None
                changes.append("eta cleared")
            elif eta is not None and eta != incident.eta:
                incident.eta = eta
                changes.append(f"eta: {eta.isoformat()}")
            if state is not None and state != incident.status:
                incident.status = state
                incident.resolved_at = now if state is IncidentStatus.RESOLVED else None
                changes.append(f"status: {state}")
            current = await _areas(session, incident.id)
            if codes is not None and set(codes) != set(current):
                added = [c for c in codes if c not in current]
                removed = [c for c in current if c not in codes]
                for code in added:
                    session.add(IncidentArea(incident_id=incident.id, area_code=code))
                for code in removed:
                    area = await session.get(IncidentArea, (incident.id, code))
                    if area is not None:
                        await session.delete(area)
                current = sorted(codes)
                changes.append(
                    "areas: " + " ".join([f"+{c}" for c in added] + [f"-{c}" for c in removed])
                )
            if changes or note:
                incident.updated_at = now
                session.add(incident)
                session.add(
                    TimelineEntry(
                        incident_id=incident.id,
                        at=now,
                        author=author,
                        status=incident.status,
                        eta=incident.eta,
                        note="; ".join([*changes, *([note] if note else [])]),
                    )
                )
                await session.commit()
            record = IncidentRecord(incident, tuple(sorted(current)))
        self.index.invalidate()
        return record

    async def resolve(
        self,
        reference: str,
        *,
        author: str = "system",
        note: str = "",
        now: datetime | None = None,
    ) -> IncidentRecord:
        """Mark an incident fixed (idempotent: resolving a resolved incident changes nothing).

        Raises:
            IncidentNotFound: no incident has ``reference``.
        """
        return await self.update(
            reference, status=IncidentStatus.RESOLVED, author=author, note=note, now=now
        )

    # ----- reads for staff --------------------------------------------------------------

    async def is_empty(self) -> bool:
        """Whether no incident was ever recorded (demo data goes only into such a book)."""
        async with AsyncSession(self._engine) as session:
            row = await session.exec(select(Incident.id).limit(1))
            return row.first() is None

    async def get(self, reference: str) -> IncidentRecord:
        """Return the incident with ``reference``.

        Raises:
            IncidentNotFound: there is none.
        """
        async with AsyncSession(self._engine, expire_on_commit=False) as session:
            incident = await _get(session, reference)
            assert incident.id is not None
            return IncidentRecord(incident, tuple(sorted(await _areas(session, incident.id))))

    async def timeline(self, reference: str) -> list[TimelineEntry]:
        """Return the incident's updates, oldest first.

        Raises:
            IncidentNotFound: no incident has ``reference``.
        """
        async with AsyncSession(self._engine, expire_on_commit=False) as session:
            incident = await _get(session, reference)
            rows = await session.exec(
                select(TimelineEntry)
                .where(TimelineEntry.incident_id == incident.id)
                .order_by(col(TimelineEntry.at), col(TimelineEntry.id))
            )
            return list(rows.all())

    async def find(
        self, *, area: str | None = None, active: bool | None = None, limit: int = 200
    ) -> list[IncidentRecord]:
        """Return incidents, newest first, optionally only one area's or only active ones.

        Raises:
            IncidentError: ``area`` is not a known code or place.
        """
        query = select(Incident).order_by(col(Incident.started_at).desc(), col(Incident.id).desc())
        if area is not None:
            code = normalise_areas(self._locator, [area])[0]
            query = query.join(IncidentArea, col(IncidentArea.incident_id) == col(Incident.id))
            query = query.where(IncidentArea.area_code == code)
        if active is True:
            query = query.where(col(Incident.resolved_at).is_(None))
        elif active is False:
            query = query.where(col(Incident.resolved_at).is_not(None))
        async with AsyncSession(self._engine, expire_on_commit=False) as session:
            incidents = list((await session.exec(query.limit(limit))).all())
            return await with_areas(session, incidents)


async def _get(session: AsyncSession, reference: str) -> Incident:
    row = await session.exec(select(Incident).where(Incident.reference == reference.strip()))
    incident = row.first()
    if incident is None:
        raise IncidentNotFound(f"no incident {reference!r}")
    return incident


async def _areas(session: AsyncSession, incident_id: int) -> list[str]:
    rows = await session.exec(
        select(IncidentArea.area_code).where(IncidentArea.incident_id == incident_id)
    )
    return list(rows.all())


async def with_areas(session: AsyncSession, incidents: Sequence[Incident]) -> list[IncidentRecord]:
    """Return ``incidents`` with their area codes, in a query per 500 incidents."""
    ids = [i.id for i in incidents if i.id is not None]
    areas: dict[int, list[str]] = {}
    for start in range(0, len(ids), 500):
        rows = await session.exec(
            select(IncidentArea).where(col(IncidentArea.incident_id).in_(ids[start : start + 500]))
        )
        for area in rows.all():
            areas.setdefault(area.incident_id, []).append(area.area_code)
    return [IncidentRecord(i, tuple(sorted(areas.get(i.id or 0, [])))) for i in incidents]


async def _next_reference(session: AsyncSession, now: datetime) -> str:
    """Return the day's next free reference; it carries the UTC date so every worker agrees."""
    prefix = f"INC-{now.astimezone(UTC):%Y%m%d}-"
    ref = col(Incident.reference)
    row = await session.exec(
        select(ref)
        .where(ref.startswith(prefix))
        .order_by(func.length(ref).desc(), ref.desc())
        .limit(1)
    )
    last = row.first()
    number = int(last.removeprefix(prefix)) + 1 if last else 1
    return f"{prefix}{number:04d}"
