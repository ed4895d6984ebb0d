"""The customer beside the transcript: where they are, the faults there, what came before.

In a surge an agent opens one waiting customer after another; asking each "where are
you?" again, or scrolling a long transcript for it, is what the bot was meant to spare
them. What the service already knows is put beside the transcript instead:

- the area code, from the newest of what the bot learnt: the hand-off itself (the area
  the customer gave), their latest outage check, their latest subscription; with it the
  incident they heard of there;
- the active incidents that area (or the hand-off's incident) is about
  (:mod:`bot.handoff.about`), with the estimated fix;
- earlier hand-offs (how they ended) and the fix notices the customer asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy
from sqlalchemy import bindparam
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from bot.handoff.about import incidents_about
from bot.incidents.view import IncidentRecord
from bot.models import (
    Escalation,
    EscalationState,
    Incident,
    Report,
    Subscription,
    User,
)

HISTORY = 20
"""Earlier hand-offs and subscriptions shown at most (the newest)."""

_HANDOFFS: sqlalchemy.Select[*tuple[Any, ...]] = (
    sqlalchemy.select(
        col(Escalation.id),
        col(Escalation.reason),
        col(Escalation.state),
        col(Escalation.outcome),
        col(Escalation.created_at),
        col(Escalation.closed_at),
        col(Escalation.area_code),
        col(Escalation.incident_id),
        col(User.name).label("agent"),
    )
    .outerjoin(User, col(User.id) == col(Escalation.agent_id))
    .where(col(Escalation.conversation_id) == bindparam("conversation"))
    .order_by(col(Escalation.id).desc())
    .limit(HISTORY)
)
_LATEST_REPORT = (
    sqlalchemy.select(col(Report.area_code), col(Report.created_at), col(Report.incident_id))
    .where(col(Report.conversation_id) == bindparam("conversation"))
    .order_by(col(Report.id).desc())
    .limit(1)
)
_SUBSCRIPTIONS = (
    sqlalchemy.select(
        col(Subscription.area_code),
        col(Subscription.created_at),
        col(Subscription.notified_at),
        col(Subscription.incident_id),
        col(Incident.reference),
        col(Incident.title),
        col(Incident.resolved_at),
    )
    .join(Incident, col(Incident.id) == col(Subscription.incident_id))
    .where(col(Subscription.conversation_id) == bindparam("conversation"))
    .order_by(col(Subscription.created_at).desc(), col(Subscription.id).desc())
    .limit(HISTORY)
)


@dataclass(frozen=True, slots=True)
class Customer:
    """What the service knows about the customer of one conversation.

    Attributes:
        area_code: where they are, when the bot learnt it.
        place: the town of ``area_code``.
        incidents: the active incidents their hand-off is about, the one they were told
            of first.
        handoffs: their earlier hand-offs (not the one open now), newest first.
        subscriptions: the fix notices they asked for, newest first.
    """

    area_code: str | None
    place: str | None
    incidents: tuple[IncidentRecord, ...]
    handoffs: tuple[dict[str, Any], ...]
    subscriptions: tuple[dict[str, Any], ...]

    def to_public(self) -> dict[str, Any]:
        """The ``customer`` part of ``GET /api/conversations/{id}``."""
        return {
            "area_code": self.area_code,
            "place": self.place,
            "incidents": [
                {
                    "reference": r.incident.reference,
                    "title": r.incident.title,
                    "status": r.incident.status,
                    "cause": r.incident.cause,
                    "eta": _iso(r.incident.eta),
                    "areas": list(r.areas),
                }
                for r in self.incidents
            ],
            "handoffs": list(self.handoffs),
            "subscriptions": list(self.subscriptions),
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


async def customer(
    engine: AsyncEngine,
    conversation_id: int,
    active: Sequence[IncidentRecord],
    place_for: Callable[[str], str | None],
) -> Customer:
    """Gather what is known about the customer of ``conversation_id``.

    ``active`` are the open incidents (the live index has them in memory); three small
    indexed queries fetch the rest.
    """
    params = {"conversation": conversation_id}
    async with engine.connect() as connection:
        handoffs = (await connection.execute(_HANDOFFS, params)).all()
        report = (await connection.execute(_LATEST_REPORT, params)).first()
        subscriptions = (await connection.execute(_SUBSCRIPTIONS, params)).all()
    current = next((h for h in handoffs if h.state != EscalationState.CLOSED), None)
    # Where they are, and the incident they heard of there, from what was learnt last.
    told = [(h.created_at, h.area_code, h.incident_id) for h in handoffs if h.area_code]
    told += [(report.created_at, report.area_code, report.incident_id)] if report else []
    told += [(s.created_at, s.area_code, s.incident_id) for s in subscriptions]
    _, area_code, incident_id = max(told, key=lambda t: t[0]) if told else (None, None, None)
    return Customer(
        area_code=area_code,
        place=place_for(area_code) if area_code else None,
        incidents=tuple(incidents_about(active, area_code, incident_id)),
        handoffs=tuple(
            {
                "id": h.id,
                "reason": h.reason,
                "state": h.state,
                "outcome": h.outcome,
                "agent": h.agent,
                "created_at": _iso(h.created_at),
                "closed_at": _iso(h.closed_at),
            }
            for h in handoffs
            if h is not current
        ),
        subscriptions=tuple(
            {
                "reference": s.reference,
                "title": s.title,
                "area_code": s.area_code,
                "created_at": _iso(s.created_at),
                "notified_at": _iso(s.notified_at),
                "fixed": s.resolved_at is not None,
            }
            for s in subscriptions
        ),
    )
