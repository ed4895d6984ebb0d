"""How an incident is shown: as JSON to staff tools, and in words to customers.

:func:`placeholder_values` is the bridge from an incident row to the canned-response
placeholders (``{eta}``, ``{services}``, ``{resolved_at}`` ...), phrased in the customer's
time zone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.models import Incident, Service
from bot.responses.eta import eta_phrase, past_phrase

UNKNOWN_CAUSE = "a problem our engineers are still investigating"
"""What ``{cause}`` says while the cause is not known, so "It's caused by {cause}." reads."""


@dataclass(frozen=True, slots=True)
class IncidentRecord:
    """An incident with its affected area codes, as every reader wants it."""

    incident: Incident
    areas: tuple[str, ...]

    @property
    def active(self) -> bool:
        """Whether the fault is still open."""
        return self.incident.resolved_at is None

    def to_public(self) -> dict[str, Any]:
        """Return the API's JSON shape of this incident."""
        return to_public(self.incident, self.areas)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def to_public(incident: Incident, areas: Iterable[str]) -> dict[str, Any]:
    """Return the JSON shape of ``incident`` used by ``/api/incidents`` (ISO 8601 times)."""
    return {
        "reference": incident.reference,
        "title": incident.title,
        "cause": incident.cause,
        "services": split_services(incident.services),
        "status": incident.status,
        "areas": sorted(areas),
        "started_at": _iso(incident.started_at),
        "updated_at": _iso(incident.updated_at),
        "resolved_at": _iso(incident.resolved_at),
        "eta": _iso(incident.eta),
        "active": incident.resolved_at is None,
    }


def split_services(services: str) -> list[str]:
    """Return the stored comma-separated services as a list."""
    return [s for s in services.split(",") if s]


def services_phrase(services: Iterable[str]) -> str:
    """Say the affected services in a sentence: "broadband", "broadband and phone"."""
    names = ["TV" if s == Service.TV else str(s) for s in services]
    if len(names) <= 1:
        return "".join(names) or "service"
    return ", ".join(names[:-1]) + " and " + names[-1]


def placeholder_values(
    incident: Incident,
    *,
    area_code: str,
    place: str,
    now: datetime,
    tz: ZoneInfo,
) -> dict[str, str]:
    """Return the template values describing ``incident`` to a customer in ``area_code``.

    The ETA and resolution time are phrased in the customer's zone ``tz``; ``eta`` is empty
    when none is known (pick ``utter_outage_no_eta`` then), and an unknown cause reads as
    :data:`UNKNOWN_CAUSE`.
    """
    return {
        "place": place,
        "area_code": area_code,
        "reference": incident.reference,
        "title": incident.title,
        "cause": incident.cause or UNKNOWN_CAUSE,
        "services": services_phrase(split_services(incident.services)),
        "eta": eta_phrase(incident.eta, now, tz) if incident.eta is not None else "",
        "resolved_at": (
            past_phrase(incident.resolved_at, now, tz) if incident.resolved_at is not None else ""
        ),
    }
