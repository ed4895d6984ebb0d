"""Customers waiting for a person hear their place in the queue, and again as the wait grows.

The hand-off reply names the place (``utter_queue_position``). After that, each time an
unclaimed hand-off has waited another ``every`` (``OUTAGE_BOT_QUEUE_NOTICE_MINUTES``), its
customer is told their current place and how long they have waited
(``utter_queue_still_waiting``), through the outbox on their own channel. It stops as soon
as an agent claims the hand-off or it is closed.

The place counts the hand-offs nobody has claimed yet, in the order the agents' console
lists them (priority, then the oldest): claimed ones are being answered already.

Once per threshold, and exactly once with several workers: ``escalation.queue_notices``
counts the thresholds told. A notice is queued in the same transaction as a conditional
UPDATE that moves that count from the value the pass read to the threshold reached; a
second pass that read the same value matches no row and queues nothing. A pass that
finds several thresholds passed (the service was down) sends one notice, not a burst.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.handoff.queue import REPLY_VARIANT
from bot.messages import Channel, Renderer
from bot.models import Conversation, Escalation, EscalationState, Message, MessageState, utcnow

log = logging.getLogger(__name__)

WAITING = EscalationState.OPEN.value
"""Only hand-offs no agent has claimed are in the queue a customer is told about."""

BATCH = 1000
"""Waiting hand-offs looked at per pass at most (the front of the queue first)."""


async def place_in_queue(engine: AsyncEngine, escalation_id: int) -> int | None:
    """The hand-off's place among those waiting, 1 at the front; ``None`` if it is not waiting.

    One count of the waiting hand-offs ahead of it: higher priority, or the same priority
    and asked earlier (the id breaks ties, as the console's order does).
    """
    async with AsyncSession(engine) as session:
        escalation = await session.get(Escalation, escalation_id)
        if escalation is None or escalation.state != WAITING:
            return None
        ahead = await session.exec(
            select(func.count())
            .select_from(Escalation)
            .where(
                col(Escalation.state) == WAITING,
                or_(
                    col(Escalation.priority) > escalation.priority,
                    and_(
                        col(Escalation.priority) == escalation.priority,
                        or_(
                            col(Escalation.created_at) < escalation.created_at,
                            and_(
                                col(Escalation.created_at) == escalation.created_at,
                                col(Escalation.id) < escalation_id,
                            ),
                        ),
                    ),
                ),
            )
        )
        return int(ahead.one()) + 1


def waited_phrase(waited: timedelta) -> str:
    """How long someone has waited, as a customer reads it: "10 minutes", "1 hour 5 minutes"."""
    minutes = max(1, int(waited.total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if minutes:
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return " ".join(parts)


@dataclass(frozen=True)
class QueueNotices:
    """Re-tells waiting customers their place each time their wait passes another ``every``.

    Attributes:
        engine: the database.
        render: renders the comms-edited canned responses.
        every: how much longer a customer waits between two notices.
    """

    engine: AsyncEngine
    render: Renderer
    every: timedelta

    async def run(self, now: datetime | None = None) -> set[Channel]:
        """Queue every notice now due; returns the channels to wake."""
        now = now or utcnow()
        woken: set[Channel] = set()
        async with AsyncSession(self.engine, expire_on_commit=False) as session:
            rows = (
                await session.exec(
                    select(Escalation, Conversation)
                    .join(Conversation, col(Conversation.id) == col(Escalation.conversation_id))
                    .where(col(Escalation.state) == WAITING)
                    # The agents' console's order (bot.handoff.queue.queue).
                    .order_by(
                        col(Escalation.priority).desc(),
                        col(Escalation.created_at),
                        col(Escalation.id),
                    )
                    .limit(BATCH)
                )
            ).all()
            for place, (escalation, conversation) in enumerate(rows, start=1):
                waited = now - escalation.created_at
                due = int(waited / self.every)
                if due <= escalation.queue_notices:
                    continue
                claimed = await session.exec(
                    update(Escalation)
                    .where(
                        col(Escalation.id) == escalation.id,
                        col(Escalation.state) == WAITING,
                        col(Escalation.queue_notices) == escalation.queue_notices,
                    )
                    .values(queue_notices=due, queue_noticed_at=now)
                )
                if claimed.rowcount != 1:
                    continue  # claimed, closed, or told by another pass meanwhile
                channel = Channel(conversation.channel)
                variant = REPLY_VARIANT[channel]
                values = {"position": str(place), "waited": waited_phrase(waited)}
                session.add(
                    Message(
                        conversation_id=conversation.id or 0,
                        channel=conversation.channel,
                        direction="out",
                        author="bot",
                        text=self.render.render("utter_queue_still_waiting", variant, values),
                        variant=variant.value,
                        state=MessageState.PENDING,
                        created_at=now,
                    )
                )
                woken.add(channel)
            await session.commit()
        if woken:
            log.info("told waiting customers their place in the queue again")
        return woken
