"""The status page's picture of the incidents, read again only when they change.

On the worst day many people reload the status page while incidents change a few times
an hour, so the page is built from a :class:`Snapshot` that lasts until the incidents
change, and each rendering of it is made once (:meth:`Snapshot.memo`). Whether they
changed is three cheap aggregates (the incident index's :func:`live_signature` over the
window, the newest timeline entry, the newest incident to have left the window), asked
at most once per ``check_seconds`` per worker however many requests come, and at once
after a write through this worker's own incident book (:attr:`AreaIndex.changes`).
Another worker's edit shows within ``check_seconds``: every worker keys on the same
database state.

Nothing here depends on the time it is read: times are absolute and the window's edge
moves only when an incident leaves it, which the signature sees. So every worker renders
the same bytes for the same incidents, and their ETags agree.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import func
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.incidents.book import Incidents, with_areas
from bot.incidents.index import live_signature, live_since
from bot.incidents.view import IncidentRecord
from bot.locations.locator import Locator
from bot.models import Incident, TimelineEntry, utcnow

T = TypeVar("T")

log = logging.getLogger(__name__)

WINDOW = timedelta(days=7)
"""How long a fixed incident stays on the status page."""

STEPS_SHOWN = 30
"""The most recent timeline entries shown per incident; older ones are only counted."""

#: The area changes the incident book writes into a timeline note ("areas: +0114 -0161"),
#: the one part of a note that is made by the book rather than typed by staff.
_AREA_CHANGE = re.compile(r"(?:^|; )areas: ((?:[+-]\d{3,6} ?)+)(?=;|$)")


@dataclass(frozen=True, slots=True)
class Step:
    """One public entry of an incident's timeline: when, the status and ETA from then on.

    Attributes:
        at: when the change was made.
        status: the incident's status after it.
        eta: the estimated fix after it, if any.
        first: whether this is the report that opened the incident.
        status_changed: whether the status differs from the previous entry's.
        eta_changed: whether the estimated fix differs from the previous entry's.
        added: area codes the change added, each with its place.
        removed: area codes the change removed, each with its place.
    """

    at: datetime
    status: str
    eta: datetime | None
    first: bool = False
    status_changed: bool = False
    eta_changed: bool = False
    added: tuple[tuple[str, str], ...] = ()
    removed: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class PublicIncident:
    """An incident as the public may see it: its row, areas with place names, and timeline.

    Attributes:
        record: the incident and its area codes.
        places: each area code with its place name, by code.
        steps: the latest :data:`STEPS_SHOWN` timeline entries, oldest first.
        earlier: how many older entries are not in ``steps``.
    """

    record: IncidentRecord
    places: tuple[tuple[str, str], ...]
    steps: tuple[Step, ...]
    earlier: int = 0

    @property
    def incident(self) -> Incident:
        """The incident row."""
        return self.record.incident

    @property
    def active(self) -> bool:
        """Whether the fault is still open."""
        return self.record.active


@dataclass(frozen=True)
class Snapshot:
    """The incidents on the status page at one moment, and what was rendered from them.

    Attributes:
        signature: what the database said when this was read; a new one means a new page.
        incidents: the active incidents, newest first, then those fixed within the
            window, most recently fixed first.
        last_modified: the latest change this picture shows (an edit, or an incident
            leaving the window); ``None`` when no incident was ever recorded.
    """

    signature: tuple[object, ...]
    incidents: tuple[PublicIncident, ...]
    last_modified: datetime | None
    _by_area: Mapping[str, tuple[PublicIncident, ...]] = field(default_factory=dict)
    _memo: dict[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> tuple[PublicIncident, ...]:
        """The open incidents, newest first."""
        return tuple(i for i in self.incidents if i.active)

    @property
    def resolved(self) -> tuple[PublicIncident, ...]:
        """The incidents fixed within the window, most recently fixed first."""
        return tuple(i for i in self.incidents if not i.active)

    def affecting(self, codes: Iterable[str]) -> list[PublicIncident]:
        """The incidents listing any of ``codes``, in page order.

        Pass a code with the codes it lies in (``Locator.parent_codes``): a fault filed
        for 01387 Dumfries affects 013873 Langholm too.
        """
        found = {id(i) for code in codes for i in self._by_area.get(code, ())}
        return [i for i in self.incidents if id(i) in found]

    def memo(self, key: str, build: Callable[[], T]) -> T:
        """Return what ``build`` made for ``key`` from this snapshot, building it only once.

        Renderings live as long as the snapshot: a change of incidents starts afresh.
        """
        if key not in self._memo:
            self._memo[key] = build()
        made: T = self._memo[key]
        return made


class StatusBoard:
    """Keeps the current :class:`Snapshot`, re-reading the database only after a change.

    Args:
        engine: the database.
        incidents: this worker's incident book (its writes show at once).
        locator: names the places of area codes.
        window: how long fixed incidents stay on the page.
        check_seconds: how often to ask the database whether another worker changed
            something.
        clock: returns the current time (tests pass their own).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        incidents: Incidents,
        locator: Locator,
        *,
        window: timedelta = WINDOW,
        check_seconds: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._engine = engine
        self._incidents = incidents
        self._locator = locator
        self._window = window
        self._check_seconds = check_seconds
        self._clock = clock
        self._snapshot: Snapshot | None = None
        self._seen_changes = -1
        self._checked_at = float("-inf")
        self._lock = asyncio.Lock()

    async def current(self) -> Snapshot:
        """Return the snapshot of the incidents as they are now (within ``check_seconds``).

        Concurrent callers share one check; between checks this costs no I/O. When the
        database cannot be read the last snapshot is kept: a status page that stays up
        with slightly old news beats an error page on a bad day.

        Raises:
            SQLAlchemyError: the database could not be read and nothing was read before.
            OSError: the same, from the driver's connection.
        """
        snapshot = self._snapshot
        if snapshot is not None and self._fresh():
            return snapshot
        async with self._lock:
            if self._snapshot is not None and self._fresh():
                return self._snapshot
            # Read before the query: a write landing during it leaves this stale for the next.
            changes = self._incidents.index.changes
            try:
                self._snapshot = await self._read(self._snapshot)
            except (SQLAlchemyError, OSError):
                if self._snapshot is None:
                    raise
                log.exception("cannot read the incidents; the status page keeps the last ones")
            self._seen_changes = changes
            self._checked_at = time.monotonic()
            return self._snapshot

    def _fresh(self) -> bool:
        return (
            self._incidents.index.changes == self._seen_changes
            and time.monotonic() - self._checked_at < self._check_seconds
        )

    async def _read(self, previous: Snapshot | None) -> Snapshot:
        cutoff = self._clock() - self._window
        async with AsyncSession(self._engine, expire_on_commit=False) as session:
            live = await live_signature(session, cutoff)
            # Every write through the book appends a timeline row: its id moves on however
            # the writers' clocks disagree about ``updated_at``.
            latest = await session.exec(select(func.max(TimelineEntry.id)))
            left = await session.exec(
                select(func.max(Incident.resolved_at)).where(col(Incident.resolved_at) < cutoff)
            )
            gone = left.one()
            signature = (*live, latest.one(), str(gone))
            if previous is not None and previous.signature == signature:
                return previous
            rows = await session.exec(select(Incident).where(live_since(cutoff)))
            records = await with_areas(session, list(rows.all()))
            steps = await _steps(session, [r.incident.id for r in records if r.incident.id])
        incidents = tuple(
            self._public(record, steps.get(record.incident.id or 0, []))
            for record in sorted(records, key=_page_order)
        )
        changed = [i.incident.updated_at for i in incidents]
        if gone is not None:
            changed.append(gone + self._window)
        by_area: dict[str, list[PublicIncident]] = {}
        for incident in incidents:
            for code in incident.record.areas:
                by_area.setdefault(code, []).append(incident)
        return Snapshot(
            signature=signature,
            incidents=incidents,
            last_modified=max(changed, default=None),
            _by_area={code: tuple(found) for code, found in by_area.items()},
        )

    def _public(self, record: IncidentRecord, updates: Sequence[TimelineEntry]) -> PublicIncident:
        places = tuple((code, self._locator.place_for(code) or code) for code in record.areas)
        steps = _timeline(updates, self._locator)
        shown = steps[-STEPS_SHOWN:]
        return PublicIncident(record, places, tuple(shown), len(steps) - len(shown))


def _page_order(record: IncidentRecord) -> tuple[bool, float, int]:
    """Active first, newest first; then fixed ones, most recently fixed first."""
    incident = record.incident
    moment = incident.resolved_at or incident.started_at
    return (not record.active, -moment.timestamp(), -(incident.id or 0))


async def _steps(session: AsyncSession, ids: Sequence[int]) -> dict[int, list[TimelineEntry]]:
    found: dict[int, list[TimelineEntry]] = {}
    for start in range(0, len(ids), 500):
        rows = await session.exec(
            select(TimelineEntry)
            .where(col(TimelineEntry.incident_id).in_(ids[start : start + 500]))
            .order_by(col(TimelineEntry.at), col(TimelineEntry.id))
        )
        for update in rows.all():
            found.setdefault(update.incident_id, []).append(update)
    return found


def _timeline(updates: Sequence[TimelineEntry], locator: Locator) -> list[Step]:
    """Turn timeline rows into public steps: what changed, never what staff typed."""
    steps: list[Step] = []
    for update in updates:
        added: list[tuple[str, str]] = []
        removed: list[tuple[str, str]] = []
        for match in _AREA_CHANGE.finditer(update.note):
            for change in match.group(1).split():
                place = locator.place_for(change[1:])
                if place is not None:
                    (added if change[0] == "+" else removed).append((change[1:], place))
        previous = steps[-1] if steps else None
        steps.append(
            Step(
                at=update.at,
                status=update.status,
                eta=update.eta,
                first=previous is None,
                status_changed=previous is not None and previous.status != update.status,
                eta_changed=previous is not None and previous.eta != update.eta,
                added=tuple(added),
                removed=tuple(removed),
            )
        )
    return steps
