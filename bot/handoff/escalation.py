"""Hand-off to a person: why a conversation leaves the bot, and how urgent it is.

Priorities order the agents' queue. A vulnerable customer (medical equipment, care
alarm) outranks everyone; a customer the bot failed or who asked for a person comes
next; things the bot cannot do (billing, compensation, cancelling) after that.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import (
    Conversation,
    ConversationState,
    Escalation,
    EscalationState,
    HandOffReason,
    Message,
    MessageState,
    utcnow,
)

PRIORITY: dict[str, int] = {
    HandOffReason.VULNERABLE: 3,
    HandOffReason.REQUEST_HUMAN: 2,
    HandOffReason.BOT_FAILED: 2,
    HandOffReason.FRUSTRATED: 2,
    HandOffReason.ABUSE: 1,
    HandOffReason.COMPENSATION: 1,
    HandOffReason.BILLING: 1,
    HandOffReason.CANCEL: 1,
}


def reason_for_intent(intent: str | None) -> HandOffReason:
    """The reason a hand-off intent names; any other intent is a plain request for a person.

    ``bot_failed`` is the bot's own verdict, never something a customer can say.
    """
    try:
        reason = HandOffReason(intent or "")
    except ValueError:
        return HandOffReason.REQUEST_HUMAN
    return HandOffReason.REQUEST_HUMAN if reason is HandOffReason.BOT_FAILED else reason


def priority_for(reason: str) -> int:
    """How urgent an escalation for ``reason`` is (higher first)."""
    return PRIORITY.get(reason, 1)


async def escalate(
    engine: AsyncEngine,
    conversation_id: int,
    reason: HandOffReason,
    *,
    area_code: str | None = None,
    incident_id: int | None = None,
) -> Escalation | None:
    """Take a conversation from the bot and queue it for an agent.

    Idempotent: a conversation that already has an open escalation keeps it (raised to
    the higher priority), so a customer repeating "human please" does not queue twice.
    Returns ``None`` when the conversation does not exist.

    ``area_code`` and ``incident_id`` say what the bot knew: where the customer is and the
    incident it told them about (:mod:`bot.handoff.about`); what is known now replaces
    what was known before.

    Messages that were waiting for Rasa are the agent's from now on: the bot owes them
    nothing, so it will not answer them late once the conversation comes back to it.
    """
    async with AsyncSession(engine, expire_on_commit=False) as session:
        conversation = await session.get(Conversation, conversation_id)
        if conversation is None:
            return None
        existing = (
            await session.exec(
                select(Escalation).where(
                    Escalation.conversation_id == conversation_id,
                    Escalation.state != EscalationState.CLOSED,
                )
            )
        ).first()
        priority = priority_for(reason)
        if existing is not None:
            if priority > existing.priority:
                existing.priority = priority
                existing.reason = reason
            escalation = existing
        else:
            escalation = Escalation(
                conversation_id=conversation_id, reason=reason, priority=priority
            )
        if area_code:
            escalation.area_code = area_code
            escalation.incident_id = incident_id
        session.add(escalation)
        if conversation.state == ConversationState.BOT:
            conversation.state = ConversationState.ESCALATED
            await session.exec(
                update(Message)
                .where(
                    col(Message.conversation_id) == conversation_id,
                    col(Message.direction) == "in",
                    col(Message.state) == MessageState.WAITING,
                )
                .values(state=MessageState.PROCESSED)
            )
        conversation.updated_at = utcnow()
        session.add(conversation)
        await session.commit()
        return escalation
