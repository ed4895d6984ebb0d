"""Which incident a hand-off is about: one rule for the queue, the side panel and bulk answers.

A hand-off records where the customer is and the incident the bot had told them about
(:func:`bot.handoff.escalation.escalate`). It is about an incident when it recorded that
incident, or when the incident covers the customer's area: an incident opened after the
customer asked for a person is still the answer they wait for. An incident filed for a
wider code covers the six-digit "mixed" codes inside it (01387 covers 013873), as it does
when the bot answers customers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.incidents.view import IncidentRecord

SHORTEST_CODE = 3
"""UK area codes have at least three digits (020); no shorter prefix names an area."""


def covers(areas: Iterable[str], area_code: str | None) -> bool:
    """Whether an incident in ``areas`` affects a customer in ``area_code``."""
    if not area_code:
        return False
    return any(len(area) >= SHORTEST_CODE and area_code.startswith(area) for area in areas)


def is_about(record: IncidentRecord, area_code: str | None, incident_id: int | None) -> bool:
    """Whether a hand-off with ``area_code`` and ``incident_id`` is about ``record``."""
    return (incident_id is not None and incident_id == record.incident.id) or covers(
        record.areas, area_code
    )


def incidents_about(
    active: Sequence[IncidentRecord], area_code: str | None, incident_id: int | None
) -> list[IncidentRecord]:
    """The active incidents a hand-off is about: the one it recorded first, then as given."""
    found = [r for r in active if is_about(r, area_code, incident_id)]
    found.sort(key=lambda r: r.incident.id != incident_id)
    return found


class ActiveIncidents:
    """:func:`incidents_about` for many hand-offs at once: the queue asks it for each.

    Indexed by area code, so each hand-off costs a few dictionary lookups (its code and
    the shorter codes it may lie in) rather than a look at every area of every incident;
    hand-offs from one area share one answer.
    """

    def __init__(self, active: Sequence[IncidentRecord]) -> None:
        self._position = {id(record): n for n, record in enumerate(active)}
        self._by_id = {record.incident.id: record for record in active}
        self._by_area: dict[str, list[IncidentRecord]] = {}
        for record in active:
            for area in record.areas:
                if len(area) >= SHORTEST_CODE:
                    self._by_area.setdefault(area, []).append(record)
        self._answers: dict[tuple[str | None, int | None], list[IncidentRecord]] = {}

    def about(self, area_code: str | None, incident_id: int | None) -> list[IncidentRecord]:
        """The active incidents a hand-off is about, as :func:`incidents_about` orders them."""
        question = (area_code, incident_id)
        if question not in self._answers:
            found = {
                id(r): r
                for n in range(SHORTEST_CODE, len(area_code or "") + 1)
                for r in self._by_area.get((area_code or "")[:n], ())
            }
            recorded = self._by_id.get(incident_id)
            if recorded is not None:
                found[id(recorded)] = recorded
            ordered = sorted(found.values(), key=lambda r: self._position[id(r)])
            ordered.sort(key=lambda r: r.incident.id != incident_id)
            self._answers[question] = ordered
        return self._answers[question]
