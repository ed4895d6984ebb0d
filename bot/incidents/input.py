"""What staff type about an incident, checked and normalised before anything is written.

The CLI, the HTTP API and the console all take the same loose input: areas as codes or
towns ("020", "(0161)", "Leeds"), services as comma lists, times in ISO 8601 with or
without an offset. Everything is checked here first, so a bad value is refused with a
message that names it and no half-made incident is ever stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.models import IncidentStatus, Service

TITLE_MAX = 120
CAUSE_MAX = 200
_CODE = re.compile(r"^0\d{2,4}(?: ?\d)?$")


class IncidentError(ValueError):
    """Bad input for an incident (unknown area, status, service, reference...); say it as is."""


class IncidentNotFound(IncidentError):
    """No incident has the given reference."""


class Location(Protocol):
    """A resolved location (``bot.locations.locator.Location``)."""

    @property
    def area_code(self) -> str:
        """The area code, e.g. ``0161``."""
        ...

    @property
    def place(self) -> str:
        """The place the code serves, e.g. ``Manchester``."""
        ...


class Locator(Protocol):
    """What incidents need from ``bot.locations.locator.Locator``."""

    def locate(self, text: str) -> Location | None:
        """Return the location named in ``text``, if any."""
        ...

    def place_for(self, code: str) -> str | None:
        """Return the place an area code serves, or ``None`` if it is not a known code."""
        ...


def parse_when(text: str, tz: ZoneInfo) -> datetime:
    """Parse an ISO 8601 time; one without an offset is read as local time in ``tz``.

    Raises:
        IncidentError: ``text`` is not an ISO 8601 date and time.
    """
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise IncidentError(
            f"eta must be an ISO 8601 time such as 2026-11-25T17:45+00:00, got {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment


def parse_status(value: str, *, allow_resolved: bool = True) -> IncidentStatus:
    """Return the status named ``value``.

    Raises:
        IncidentError: not a status (or ``resolved`` where that is not allowed).
    """
    try:
        status = IncidentStatus(value.strip().lower())
    except ValueError:
        status = None
    if status is None or (status is IncidentStatus.RESOLVED and not allow_resolved):
        allowed = [s.value for s in IncidentStatus if allow_resolved or s.value != "resolved"]
        raise IncidentError(f"status must be one of {', '.join(allowed)}, got {value!r}")
    return status


def parse_services(values: Iterable[str]) -> list[str]:
    """Return the services named in ``values`` (each may be comma-separated), in order.

    Raises:
        IncidentError: a name is not a service, or none is given.
    """
    names: list[str] = []
    for value in values:
        for raw in value.split(","):
            name = raw.strip().lower()
            if not name:
                continue
            if name not in {s.value for s in Service}:
                allowed = ", ".join(s.value for s in Service)
                raise IncidentError(f"unknown service {raw.strip()!r} (use {allowed})")
            if name not in names:
                names.append(name)
    if not names:
        raise IncidentError("at least one service is needed (broadband, phone, tv)")
    return names


def normalise_areas(locator: Locator, areas: Iterable[str]) -> list[str]:
    """Return the area codes for ``areas`` (codes or place names), without repeats.

    Raises:
        IncidentError: an area is neither a known code nor a place the Locator knows,
            or none is given.
    """
    codes: list[str] = []
    for value in areas:
        for raw in value.split(","):
            text = raw.strip()
            if not text:
                continue
            code = _area_code(locator, text)
            if code is None:
                raise IncidentError(
                    f"unknown area {text!r}: give a UK area code such as 0161 or a town"
                )
            if code not in codes:
                codes.append(code)
    if not codes:
        raise IncidentError("at least one area (code or town) is needed")
    return codes


def _area_code(locator: Locator, text: str) -> str | None:
    compact = re.sub(r"[()\s-]", "", text)
    if _CODE.match(compact) and locator.place_for(compact) is not None:
        return compact
    if _CODE.match(text) and locator.place_for(text) is not None:
        return text
    location = locator.locate(text)
    return location.area_code if location is not None else None


def check_text(title: str | None, cause: str | None) -> None:
    """Refuse an empty or over-long title or cause.

    Raises:
        IncidentError: says which and how long.
    """
    if title is not None:
        if not title.strip():
            raise IncidentError("title must not be empty")
        if len(title) > TITLE_MAX:
            raise IncidentError(f"title is {len(title)} characters, the limit is {TITLE_MAX}")
    if cause is not None and len(cause) > CAUSE_MAX:
        raise IncidentError(f"cause is {len(cause)} characters, the limit is {CAUSE_MAX}")


def check_eta(eta: datetime | None, now: datetime) -> None:
    """Refuse an ETA without a time zone or not after ``now``.

    Raises:
        IncidentError: says why.
    """
    if eta is None:
        return
    if eta.tzinfo is None:
        raise IncidentError("eta must include a time zone")
    if eta <= now:
        raise IncidentError(f"eta {eta.isoformat()} is in the past")
