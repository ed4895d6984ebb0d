"""The agents' side of a hand-off: the queue, claiming, replying, releasing and closing.

An escalation (:mod:`bot.handoff.escalation`) goes open -> claimed -> closed. Several agents look
at the same queue, so every change of hands is a conditional ``UPDATE`` whose ``WHERE``
states what the agent saw ("still open", "still mine"): when two agents click at once,
exactly one UPDATE matches and the other learns who won. Nothing here knows about HTTP;
the console API maps :class:`HandoffNotFound` to 404 and :class:`HandoffConflict` to 409.

About 450 lines on purpose: every change of hands is here, side by side (the conditional
UPDATEs that keep one holder per conversation read best together), and the transcript
reads a conversation through the same private lookups (``_current``, ``_holder``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy
from sqlalchemy import func, or_, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.conversations import store as conversations
from bot.messages import Channel, Outbound, Variant
from bot.models import (
    Conversation,
    ConversationState,
    Escalation,
    EscalationState,
    Message,
    MessageState,
    Role,
    User,
    utcnow,
)

MAX_REPLY = 4000
"""The longest agent reply; Telegram's own limit is 4096 characters."""

OUTCOME_MAX = 200
AUTHOR_MAX = 80

REPLY_VARIANT: dict[Channel, Variant] = {
    Channel.WEB: Variant.WEB,
    Channel.TELEGRAM: Variant.TELEGRAM,
    Channel.X: Variant.X_DM,
}
"""Which text form an agent's reply takes; on X always a DM, since it may be personal."""


class HandoffError(ValueError):
    """A hand-off request is not acceptable as given; the message says why."""


class HandoffNotFound(HandoffError):
    """No such escalation or conversation."""


class HandoffConflict(HandoffError):
    """Someone else holds the conversation, or it is no longer waiting for anyone."""


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """One escalation as the console's queue shows it."""

    id: int
    conversation_id: int
    channel: str
    customer: str
    reason: str
    priority: int
    state: str
    agent: str | None
    created_at: datetime
    waiting_seconds: int
    area_code: str | None = None
    incident_id: int | None = None
    agent_id: int | None = None

    def to_public(self) -> dict[str, Any]:
        """Return the ``GET /api/escalations`` shape."""
        return {
            "id": self.id,
            "conversation_id": self.conversation_id,
            "channel": self.channel,
            "customer": self.customer,
            "reason": self.reason,
            "priority": self.priority,
            "state": self.state,
            "agent": self.agent,
            "created_at": self.created_at.isoformat(),
            "waiting_seconds": self.waiting_seconds,
            "area_code": self.area_code,
        }

    def answerable_by(self, agent: User) -> bool:
        """Whether ``agent`` may answer this customer without taking them from a colleague."""
        return self.state == EscalationState.OPEN or self.agent_id == agent.id


def agent_author(agent: User) -> str:
    """How an agent's messages are signed in the transcript (``agent:<name>``)."""
    return f"agent:{agent.name}"[:AUTHOR_MAX]


def _customer(conversation: Conversation) -> str:
    return conversation.display_name or conversation.external_user_id


# The columns the queue shows, not whole rows: consoles refetch it on every change, and
# building ORM objects for hundreds of waiting customers cost more than the query.
_QUEUE = (
    sqlalchemy.select(
        col(Escalation.id),
        col(Escalation.conversation_id),
        col(Escalation.reason),
        col(Escalation.priority),
        col(Escalation.state),
        col(Escalation.created_at),
        col(Escalation.area_code),
        col(Escalation.incident_id),
        col(Escalation.agent_id),
        col(Conversation.channel),
        col(Conversation.display_name),
        col(Conversation.external_user_id),
        col(User.name).label("agent"),
    )
    .join(Conversation, col(Conversation.id) == col(Escalation.conversation_id))
    .outerjoin(User, col(User.id) == col(Escalation.agent_id))
    .where(col(Escalation.state).in_([EscalationState.OPEN, EscalationState.CLAIMED]))
    .order_by(col(Escalation.priority).desc(), col(Escalation.created_at), col(Escalation.id))
)


async def queue(engine: AsyncEngine, now: datetime | None = None) -> list[QueueEntry]:
    """Return the open and claimed escalations: highest priority first, then the oldest.

    ``waiting_seconds`` counts from when the customer asked, so a claimed but neglected
    conversation keeps ageing where everyone can see it.
    """
    async with engine.connect() as connection:
        return await queue_in(connection, now)


async def queue_in(connection: AsyncConnection, now: datetime | None = None) -> list[QueueEntry]:
    """:func:`queue`, read in the caller's transaction."""
    now = now or utcnow()
    rows = (await connection.execute(_QUEUE)).all()
    return [
        QueueEntry(
            id=row.id,
            conversation_id=row.conversation_id,
            channel=row.channel,
            customer=row.display_name or row.external_user_id,
            reason=row.reason,
            priority=row.priority,
            state=row.state,
            agent=row.agent,
            created_at=row.created_at,
            waiting_seconds=max(0, int((now - row.created_at).total_seconds())),
            area_code=row.area_code,
            incident_id=row.incident_id,
            agent_id=row.agent_id,
        )
        for row in rows
    ]


# SQLAlchemy's own select: sqlmodel's is typed for at most four columns.
_ACTIVITY = sqlalchemy.select(
    select(func.count()).select_from(Escalation).scalar_subquery(),
    select(func.sum(Escalation.priority)).scalar_subquery(),
    select(func.max(Escalation.claimed_at)).scalar_subquery(),
    select(func.max(Escalation.closed_at)).scalar_subquery(),
    select(func.max(Message.id)).scalar_subquery(),
    select(func.count())
    .select_from(Message)
    .where(col(Message.direction) == "out", col(Message.state) == MessageState.PENDING)
    .scalar_subquery(),
)


async def activity(engine: AsyncEngine) -> tuple[Any, ...]:
    """A fingerprint of what the agents' console shows; it changes when the console should.

    A hand-off opened, raised, claimed or closed; any message, in or out; a reply
    delivered. Every part is a primary-key or index lookup or a count over the small
    escalation table, so consoles may ask for it every second.
    """
    async with engine.connect() as connection:
        return tuple((await connection.execute(_ACTIVITY)).one())


async def _holder(session: AsyncSession, agent_id: int | None) -> str:
    user = await session.get(User, agent_id) if agent_id is not None else None
    return user.name if user is not None else "another agent"


async def claim(engine: AsyncEngine, escalation_id: int, agent: User) -> Escalation:
    """Give escalation ``escalation_id`` to ``agent`` (claiming one's own again is fine).

    Raises:
        HandoffNotFound: there is no such escalation.
        HandoffConflict: another agent holds it, or it is closed.
    """
    now = utcnow()
    async with AsyncSession(engine, expire_on_commit=False) as session:
        result = await session.exec(
            update(Escalation)
            .where(
                col(Escalation.id) == escalation_id,
                or_(
                    col(Escalation.state) == EscalationState.OPEN,
                    (col(Escalation.state) == EscalationState.CLAIMED)
                    & (col(Escalation.agent_id) == agent.id),
                ),
            )
            .values(state=EscalationState.CLAIMED, agent_id=agent.id, claimed_at=now)
        )
        escalation = await session.get(Escalation, escalation_id)
        if escalation is None:
            raise HandoffNotFound(f"no escalation {escalation_id}")
        if result.rowcount != 1:
            if escalation.state == EscalationState.CLOSED:
                raise HandoffConflict(f"escalation {escalation_id} is already closed")
            holder = await _holder(session, escalation.agent_id)
            raise HandoffConflict(f"escalation {escalation_id} is claimed by {holder}")
        await _set_state(session, escalation.conversation_id, ConversationState.AGENT)
        await session.commit()
        await session.refresh(escalation)
        return escalation


async def _set_state(
    session: AsyncSession, conversation_id: int, state: ConversationState
) -> None:
    conversation = await session.get(Conversation, conversation_id)
    if conversation is not None:
        conversation.state = state
        conversation.updated_at = utcnow()
        if state == ConversationState.BOT:
            conversation.failures = 0
        session.add(conversation)


async def may_read(engine: AsyncEngine, conversation_id: int, reader: User) -> bool:
    """Whether ``reader`` may read the conversation's transcript.

    Admins read any; agents only conversations that were handed over to a person (open,
    held or closed since), never ones the bot alone has had. Other roles read none.
    """
    if reader.role == Role.ADMIN:
        return True
    if reader.role != Role.AGENT:
        return False
    async with AsyncSession(engine) as session:
        query = select(Escalation.id).where(Escalation.conversation_id == conversation_id)
        return (await session.exec(query.limit(1))).first() is not None


async def _current(session: AsyncSession, conversation_id: int) -> Escalation | None:
    query = (
        select(Escalation)
        .where(
            Escalation.conversation_id == conversation_id,
            Escalation.state != EscalationState.CLOSED,
        )
        .order_by(col(Escalation.id).desc())
    )
    return (await session.exec(query)).first()


async def _conversation(session: AsyncSession, conversation_id: int) -> Conversation:
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise HandoffNotFound(f"no conversation {conversation_id}")
    return conversation


async def _take_over(session: AsyncSession, conversation_id: int, agent: User) -> Escalation:
    """Make sure ``agent`` holds the conversation's escalation, claiming it if open."""
    escalation = await _current(session, conversation_id)
    if escalation is None:
        raise HandoffConflict(
            f"conversation {conversation_id} has no open hand-off; the bot is answering it"
        )
    if escalation.state == EscalationState.CLAIMED and escalation.agent_id == agent.id:
        return escalation
    result = await session.exec(
        update(Escalation)
        .where(col(Escalation.id) == escalation.id, col(Escalation.state) == EscalationState.OPEN)
        .values(state=EscalationState.CLAIMED, agent_id=agent.id, claimed_at=utcnow())
    )
    if result.rowcount != 1:
        await session.refresh(escalation)
        holder = await _holder(session, escalation.agent_id)
        raise HandoffConflict(f"conversation {conversation_id} is claimed by {holder}")
    return escalation


async def reply(engine: AsyncEngine, conversation_id: int, agent: User, text: str) -> Outbound:
    """Queue ``agent``'s reply to the customer through their own channel.

    Replying to an unclaimed hand-off claims it, so two agents never answer one customer.
    The reply stays pending in the outbox: channel workers send it (wake them), and web
    chat hands it over when the page next asks for updates.

    Raises:
        HandoffError: the text is empty or too long.
        HandoffNotFound: there is no such conversation.
        HandoffConflict: another agent holds it, or nobody asked for an agent.
    """
    text = text.strip()
    if not text:
        raise HandoffError("the reply must not be empty")
    if len(text) > MAX_REPLY:
        raise HandoffError(f"the reply is {len(text)} characters, the limit is {MAX_REPLY}")
    async with AsyncSession(engine, expire_on_commit=False) as session:
        conversation = await _conversation(session, conversation_id)
        await _take_over(session, conversation_id, agent)
        await _set_state(session, conversation_id, ConversationState.AGENT)
        await session.commit()
    variant = REPLY_VARIANT[Channel(conversation.channel)]
    (outbound,) = await conversations.queue_replies(
        engine, conversation, [text], variant, author=agent_author(agent)
    )
    return outbound


async def _finish(
    engine: AsyncEngine,
    conversation_id: int,
    agent: User,
    outcome: str,
    state: ConversationState,
) -> Conversation:
    now = utcnow()
    async with AsyncSession(engine, expire_on_commit=False) as session:
        conversation = await _conversation(session, conversation_id)
        escalation = await _current(session, conversation_id)
        if escalation is not None:
            conditions = [
                col(Escalation.id) == escalation.id,
                col(Escalation.state) != EscalationState.CLOSED,
            ]
            if agent.role != Role.ADMIN:
                conditions.append(
                    or_(
                        col(Escalation.state) == EscalationState.OPEN,
                        col(Escalation.agent_id) == agent.id,
                    )
                )
            result = await session.exec(
                update(Escalation)
                .where(*conditions)
                .values(state=EscalationState.CLOSED, outcome=outcome[:OUTCOME_MAX], closed_at=now)
            )
            if result.rowcount != 1:
                await session.refresh(escalation)
                holder = await _holder(session, escalation.agent_id)
                raise HandoffConflict(f"conversation {conversation_id} is claimed by {holder}")
        elif conversation.state not in (ConversationState.ESCALATED, ConversationState.AGENT):
            raise HandoffConflict(f"conversation {conversation_id} has no open hand-off")
        await _set_state(session, conversation_id, state)
        await session.commit()
        await session.refresh(conversation)
        return conversation


async def release(engine: AsyncEngine, conversation_id: int, agent: User) -> Conversation:
    """Give the conversation back to the bot and close its hand-off as ``released``.

    Raises:
        HandoffNotFound: there is no such conversation.
        HandoffConflict: another agent holds it (admins may release anyone's), or there
            is no hand-off to release.
    """
    return await _finish(engine, conversation_id, agent, "released", ConversationState.BOT)


async def close(
    engine: AsyncEngine, conversation_id: int, agent: User, outcome: str
) -> Conversation:
    """Close the conversation and its hand-off with ``outcome`` ("fixed", "engineer booked").

    The customer's next message reopens the conversation with the bot.

    Raises:
        HandoffError: the outcome is empty or too long.
        HandoffNotFound: there is no such conversation.
        HandoffConflict: another agent holds it, or there is no hand-off to close.
    """
    outcome = outcome.strip()
    if not outcome:
        raise HandoffError("an outcome is needed to close a conversation")
    if len(outcome) > OUTCOME_MAX:
        raise HandoffError(f"the outcome is {len(outcome)} characters, the limit is {OUTCOME_MAX}")
    return await _finish(engine, conversation_id, agent, outcome, ConversationState.CLOSED)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


async def transcript(engine: AsyncEngine, conversation_id: int) -> dict[str, Any]:
    """Return a conversation with its current hand-off and every message, oldest first.

    Raises:
        HandoffNotFound: there is no such conversation.
    """
    async with AsyncSession(engine, expire_on_commit=False) as session:
        conversation = await _conversation(session, conversation_id)
        escalation = await _current(session, conversation_id)
        holder = (
            await _holder(session, escalation.agent_id)
            if escalation is not None and escalation.agent_id is not None
            else None
        )
    messages = await conversations.transcript(engine, conversation_id)
    return {
        "conversation": {
            "id": conversation.id,
            "channel": conversation.channel,
            "customer": _customer(conversation),
            "state": conversation.state,
            "created_at": _iso(conversation.created_at),
            "updated_at": _iso(conversation.updated_at),
        },
        "escalation": (
            None
            if escalation is None
            else {
                "id": escalation.id,
                "reason": escalation.reason,
                "priority": escalation.priority,
                "state": escalation.state,
                "agent": holder,
                "created_at": _iso(escalation.created_at),
            }
        ),
        "messages": [
            {
                "id": m.id,
                "direction": m.direction,
                "author": m.author,
                "text": m.text,
                "state": m.state,
                "created_at": _iso(m.created_at),
                "sent_at": _iso(m.sent_at),
            }
            for m in messages
        ],
    }
