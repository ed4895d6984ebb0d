"""Proactive follow-ups: the bot writes first when what it told a customer has changed.

Two occasions, both queued through the outbox (``Message`` rows, so the channels' own
delivery loops send them, with their retries):

- an incident is opened in an area where, in the two hours before, customers reported a
  fault and were told no problem was known: each gets the apology, the cause and the
  estimated fix once;
- the estimated fix of an incident moves later by :data:`ETA_SLIP` or more than the one a
  subscriber last heard of: each subscriber is told the new time once per such move.

"Once" is the ``follow_up`` table's unique key ``(kind, conversation, incident,
occasion)``, written in the same transaction as the message: a second worker, a retry or
a bug in here cannot queue the same follow-up twice, because the database refuses it.
Like :mod:`bot.subscriptions`, these run from a background loop and look at the tables,
so an incident opened or changed anywhere (console, API, CLI) is followed up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.incidents.view import placeholder_values
from bot.messages import Channel
from bot.models import (
    Conversation,
    FollowUp,
    FollowUpKind,
    Incident,
    IncidentArea,
    Message,
    MessageState,
    Report,
    ReportOutcome,
    Subscription,
    utcnow,
)
from bot.responses.eta import eta_phrase
from bot.subscriptions import Render, private_variant, waiting

log = logging.getLogger(__name__)

REPORTED_WITHIN = timedelta(hours=2)
"""How long before an incident opens a "no known problem" answer still earns a follow-up."""

ETA_SLIP = timedelta(minutes=30)
"""How much later the estimated fix must move before subscribers are told."""

BATCH = 500
"""Follow-ups queued per pass at most; the next pass (seconds later) takes the rest."""

SPACING: dict[Channel, timedelta] = {
    Channel.TELEGRAM: timedelta(seconds=1 / 20),
    Channel.X: timedelta(seconds=1),
    Channel.WEB: timedelta(0),
}
"""The gap between two follow-ups on one channel.

Telegram allows about 30 messages a second to different chats and X far fewer direct
messages; follow-ups go out in bursts of hundreds, so they are spread out here, below
those limits, rather than left to collect rate-limit refusals (which the outbox would
still honour). Web chat has no sending limit: its replies wait to be picked up.
"""


@dataclass
class Pacer:
    """Hands out send times per channel, :data:`SPACING` apart, across passes."""

    next_free: dict[Channel, datetime] = field(default_factory=dict)

    def slot(self, channel: Channel, now: datetime) -> datetime | None:
        """When the next follow-up on ``channel`` may go (``None``: at once)."""
        spacing = SPACING.get(channel, timedelta(0))
        if not spacing:
            return None
        at = max(now, self.next_free.get(channel, now))
        self.next_free[channel] = at + spacing
        return at if at > now else None


@dataclass(frozen=True)
class FollowUps:
    """What the follow-ups need: the database, the wording and the place names.

    Attributes:
        engine: the database.
        render: renders a comms-edited canned response.
        tz: the customers' time zone, for estimated fixes.
        place_for: the place name of an area code.
        pacer: spreads each channel's follow-ups out.
    """

    engine: AsyncEngine
    render: Render
    tz: ZoneInfo
    place_for: Callable[[str], str | None]
    pacer: Pacer = field(default_factory=Pacer)

    async def run(self, now: datetime | None = None) -> set[Channel]:
        """Queue every follow-up now due; returns the channels to wake."""
        now = now or utcnow()
        return await self.incident_opened(now) | await self.eta_later(now)

    def _message(
        self, conversation: Conversation, key: str, values: dict[str, str], now: datetime
    ) -> Message:
        variant = private_variant(conversation)
        channel = Channel(conversation.channel)
        return Message(
            conversation_id=conversation.id or 0,
            channel=conversation.channel,
            direction="out",
            author="bot",
            text=self.render(key, variant, values),
            variant=variant.value,
            state=MessageState.PENDING,
            next_attempt_at=self.pacer.slot(channel, now),
            created_at=now,
        )

    def _values(self, incident: Incident, area_code: str, now: datetime) -> dict[str, str]:
        place = self.place_for(area_code) or area_code
        return placeholder_values(incident, area_code=area_code, place=place, now=now, tz=self.tz)

    async def incident_opened(self, now: datetime) -> set[Channel]:
        """Write to customers told "no known problem" shortly before an incident opened."""
        woken: set[Channel] = set()
        async with AsyncSession(self.engine, expire_on_commit=False) as session:
            incidents = (
                await session.exec(
                    select(Incident).where(
                        col(Incident.resolved_at).is_(None),
                        col(Incident.started_at) >= now - REPORTED_WITHIN,
                    )
                )
            ).all()
            for incident in incidents:
                woken |= await self._opened(session, incident, now)
            await _commit(session)
        return woken

    async def _opened(
        self, session: AsyncSession, incident: Incident, now: datetime
    ) -> set[Channel]:
        told = exists().where(
            col(FollowUp.kind) == FollowUpKind.OPENED.value,
            col(FollowUp.conversation_id) == col(Report.conversation_id),
            col(FollowUp.incident_id) == incident.id,
        )
        rows = (
            await session.exec(
                select(Report.area_code, Conversation)
                .join(IncidentArea, col(IncidentArea.area_code) == col(Report.area_code))
                .join(Conversation, col(Conversation.id) == col(Report.conversation_id))
                .where(
                    col(IncidentArea.incident_id) == incident.id,
                    col(Report.outcome) == ReportOutcome.NO_INCIDENT.value,
                    col(Report.created_at) >= incident.started_at - REPORTED_WITHIN,
                    ~told,
                )
                .order_by(col(Report.id).desc())
                .limit(BATCH)
            )
        ).all()
        latest: dict[int, tuple[str, Conversation]] = {}
        for area_code, conversation in rows:
            latest.setdefault(conversation.id or 0, (area_code, conversation))
        woken: set[Channel] = set()
        for conversation_id, (area_code, conversation) in sorted(latest.items()):
            values = self._values(incident, area_code, now)
            key = "utter_followup_incident" if values["eta"] else "utter_followup_incident_no_eta"
            session.add(
                FollowUp(
                    kind=FollowUpKind.OPENED.value,
                    conversation_id=conversation_id,
                    incident_id=incident.id or 0,
                    created_at=now,
                )
            )
            session.add(self._message(conversation, key, values, now))
            woken.add(Channel(conversation.channel))
        if latest:
            log.info("queued %d follow-ups for %s", len(latest), incident.reference)
        return woken

    async def eta_later(self, now: datetime) -> set[Channel]:
        """Tell subscribers once each time the estimated fix moves :data:`ETA_SLIP` later."""
        woken: set[Channel] = set()
        async with AsyncSession(self.engine, expire_on_commit=False) as session:
            eta = col(Incident.eta)
            told = col(Subscription.eta_told)
            query = waiting(
                col(Incident.resolved_at).is_(None),
                eta.is_not(None),
                told.is_(None) | (eta > told),
            )
            rows = (await session.exec(query)).all()
            for subscription, incident, conversation in rows:
                new_eta = incident.eta
                old_eta = subscription.eta_told
                assert new_eta is not None
                if old_eta is not None and new_eta - old_eta < ETA_SLIP:
                    continue  # small moves add up until the customer's time is 30 min out
                claimed = await session.exec(
                    update(Subscription)
                    .where(
                        col(Subscription.id) == subscription.id,
                        told.is_(None) if old_eta is None else told == old_eta,
                    )
                    .values(eta_told=new_eta)
                )
                if claimed.rowcount != 1 or old_eta is None:
                    continue  # another pass got there, or they never heard of a time
                values = self._values(incident, subscription.area_code, now)
                values["previous_eta"] = eta_phrase(old_eta, now, self.tz)
                session.add(
                    FollowUp(
                        kind=FollowUpKind.ETA_LATER.value,
                        conversation_id=conversation.id or 0,
                        incident_id=incident.id or 0,
                        occasion=new_eta.isoformat()[:40],
                        created_at=now,
                    )
                )
                session.add(self._message(conversation, "utter_notify_eta_later", values, now))
                woken.add(Channel(conversation.channel))
            await _commit(session)
        return woken


async def _commit(session: AsyncSession) -> None:
    """Commit, or drop the whole pass when a follow-up was already queued by someone else."""
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        log.warning("a follow-up was queued twice; the database kept the first")
