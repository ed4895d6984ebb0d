"""Telling customers when their fault is fixed, as the bot offered to.

Resolution can happen anywhere (the CLI, the admin console, another worker), so the
notifier does not wait to be called: it looks for subscriptions whose incident is
resolved and not yet notified, queues the message in the outbox and marks them, in
one transaction, so a customer is told exactly once. Marking is a conditional UPDATE, so
when several workers find the same subscription only the first one queues the message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from bot.incidents.view import services_phrase, split_services
from bot.messages import Channel, Variant
from bot.models import Conversation, Incident, Message, MessageState, Subscription, utcnow
from bot.responses.eta import past_phrase

log = logging.getLogger(__name__)

Render = Callable[[str, Variant, dict[str, str]], str]

BATCH = 500
"""Subscribers handled per pass at most."""


async def subscribe(
    engine: AsyncEngine,
    conversation_id: int,
    incident_id: int,
    area_code: str,
    eta_told: datetime | None = None,
) -> None:
    """Subscribe a conversation to an incident; subscribing twice changes nothing.

    ``eta_told`` is the estimated fix the customer was just given, so a later one can be
    announced (:mod:`bot.operations.followups`).
    """
    async with AsyncSession(engine) as session:
        session.add(
            Subscription(
                conversation_id=conversation_id,
                incident_id=incident_id,
                area_code=area_code,
                eta_told=eta_told,
            )
        )
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()


def waiting(
    *conditions: ColumnElement[bool],
) -> Select[Subscription, Incident, Conversation]:
    """Subscriptions not yet told of the fix, with their incident and conversation.

    At most :data:`BATCH`, oldest first: one lock order for every worker, and the next pass
    takes the rest.
    """
    return (
        select(Subscription, Incident, Conversation)
        .join(Incident, col(Incident.id) == col(Subscription.incident_id))
        .join(Conversation, col(Conversation.id) == col(Subscription.conversation_id))
        .where(col(Subscription.notified_at).is_(None), *conditions)
        .order_by(col(Subscription.id))
        .limit(BATCH)
    )


def private_variant(conversation: Conversation) -> Variant:
    """Fix notifications are private: on X they go by DM, never as a public reply."""
    return {
        Channel.TELEGRAM.value: Variant.TELEGRAM,
        Channel.X.value: Variant.X_DM,
        Channel.WEB.value: Variant.WEB,
    }.get(conversation.channel, Variant.DEFAULT)


async def notify_resolved(
    engine: AsyncEngine,
    render: Render,
    tz: ZoneInfo,
    place_for: Callable[[str], str | None],
    now: datetime | None = None,
) -> set[Channel]:
    """Queue a "fixed" message for every subscriber of a resolved incident.

    Returns:
        The channels that got new messages, so their delivery loops can be woken.
    """
    now = now or utcnow()
    woken: set[Channel] = set()
    queued = 0
    async with AsyncSession(engine, expire_on_commit=False) as session:
        rows = (await session.exec(waiting(col(Incident.resolved_at).is_not(None)))).all()
        for subscription, incident, conversation in rows:
            claimed = await session.exec(
                update(Subscription)
                .where(
                    col(Subscription.id) == subscription.id,
                    col(Subscription.notified_at).is_(None),
                )
                .values(notified_at=now)
            )
            if claimed.rowcount != 1:
                continue  # another worker is telling this customer
            variant = private_variant(conversation)
            resolved_at = incident.resolved_at or now
            text = render(
                "utter_notify_fixed",
                variant,
                {
                    "area_code": subscription.area_code,
                    "place": place_for(subscription.area_code) or subscription.area_code,
                    "reference": incident.reference,
                    "title": incident.title,
                    "services": services_phrase(split_services(incident.services)),
                    "resolved_at": past_phrase(resolved_at, now, tz),
                },
            )
            session.add(
                Message(
                    conversation_id=conversation.id or 0,
                    channel=conversation.channel,
                    direction="out",
                    author="bot",
                    text=text,
                    variant=variant.value,
                    state=MessageState.PENDING,
                )
            )
            woken.add(Channel(conversation.channel))
            queued += 1
        await session.commit()
    if queued:
        log.info("queued %d fix notifications", queued)
    return woken
