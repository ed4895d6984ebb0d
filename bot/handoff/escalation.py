"""Hand-off to a person: why a conversation leaves the bot, and how urgent it is.

Priorities order the agents' queue. A vulnerable customer (medical equipment, care
alarm) outranks everyone; a customer the bot failed or who asked for a person comes
next; things the bot cannot do (billing, compensation, cancelling) after that.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import Conversation, ConversationState, Escalation, Message, MessageState, utcnow

PRIORITY: dict[str, int] = {
    "vulnerable": 3,
    "request_human": 2,
    "bot_failed": 2,
    "frustrated": 2,
    "abuse": 1,
    "compensation": 1,
    "billing": 1,
    "cancel": 1,
}

REASON_FOR_INTENT: dict[str, str] = {
    "request_human": "request_human",
    "vulnerable": "vulnerable",
    "compensation": "compensation",
    "billing": "billing",
    "cancel": "cancel",
    "abuse": "abuse",
    "frustrated": "frustrated",
}


def priority_for(reason: str) -> int:
    """How urgent an escalation for ``reason`` is (higher first)."""
    return PRIORITY.get(reason, 1)


async def escalate(engine: AsyncEngine, conversation_id: int, reason: str) -> Escalation | None:
    """Take a conversation from the bot and queue it for an agent.

    Idempotent: a conversation that already has an open escalation keeps it (raised to
    the higher priority), so a customer repeating "human please" does not queue twice.
    Returns ``None`` when the conversation does not exist.

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
                    Escalation.state != "closed",
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
