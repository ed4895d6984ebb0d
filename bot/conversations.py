"""Conversations and their messages: the inbox, the transcript and who answers.

Storing an inbound message is the first thing that happens to it, and the unique
``(channel, external_id)`` constraint makes a redelivered platform message a no-op, so
a crash or a retried webhook never makes the bot answer twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Table, bindparam, case, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.messages import Channel, Inbound, Outbound, Variant
from bot.models import Conversation, ConversationState, Message, utcnow


@dataclass(frozen=True, slots=True)
class Received:
    """An inbound message newly stored, with the conversation it belongs to."""

    conversation: Conversation
    message: Message


async def _conversation(session: AsyncSession, inbound: Inbound) -> Conversation:
    query = select(Conversation).where(
        Conversation.channel == inbound.channel.value,
        Conversation.external_user_id == inbound.external_user_id,
    )
    found = (await session.exec(query)).first()
    if found is not None:
        return found
    conversation = Conversation(
        channel=inbound.channel.value,
        external_user_id=inbound.external_user_id,
        display_name=inbound.display_name[:200],
    )
    session.add(conversation)
    try:
        await session.commit()
    except IntegrityError:
        # Another worker created it between our SELECT and INSERT: use theirs.
        await session.rollback()
        return (await session.exec(query)).one()
    return conversation


# Core INSERT ... RETURNING on the table itself: the ORM's flush (or bulk) machinery
# costs more than the insert does.
_MESSAGE_TABLE: Table = Message.__table__  # type: ignore[attr-defined]
_INSERT_MESSAGE = insert(_MESSAGE_TABLE).returning(
    _MESSAGE_TABLE.c.id, sort_by_parameter_order=True
)

_CLOSED = col(Conversation.state) == ConversationState.CLOSED.value

# Touch the customer's conversation and hand it back in one statement: a closed one
# reopens with the bot (the SET expressions all see the row as it was).
_TOUCH = (
    update(Conversation)
    .where(
        col(Conversation.channel) == bindparam("touch_channel"),
        col(Conversation.external_user_id) == bindparam("touch_user"),
    )
    .values(
        updated_at=bindparam("touch_now"),
        state=case((_CLOSED, ConversationState.BOT.value), else_=col(Conversation.state)),
        failures=case((_CLOSED, 0), else_=col(Conversation.failures)),
    )
    .returning(Conversation)
    .execution_options(synchronize_session=False)
)


async def receive(engine: AsyncEngine, inbound: Inbound) -> Received | None:
    """Store ``inbound`` in its conversation; ``None`` when it was stored before.

    A closed conversation reopens with the bot, since a customer writing again after
    an agent closed it has a new question. The conversation comes back as it stands
    after this message, so the caller need not read it again.
    """
    async with AsyncSession(engine, expire_on_commit=False) as session:
        touch = {
            "touch_channel": inbound.channel.value,
            "touch_user": inbound.external_user_id,
            "touch_now": utcnow(),
        }
        conversation = (await session.execute(_TOUCH, touch)).scalars().first()
        if conversation is None:
            conversation = await _conversation(session, inbound)
        message = Message(
            conversation_id=conversation.id or 0,
            channel=inbound.channel.value,
            direction="in",
            author="customer",
            text=inbound.text,
            external_id=inbound.external_id,
            reply_to=inbound.reply_to,
            context=inbound.variant.value,
            state="received",
        )
        try:
            inserted = await session.execute(_INSERT_MESSAGE, message.model_dump(exclude={"id"}))
            message.id = inserted.scalar_one()
            await session.commit()
        except IntegrityError:
            await session.rollback()
            if inbound.external_id is None or not await _stored(session, inbound):
                raise  # not a redelivery: never drop a customer's message silently
            return None
    return Received(conversation, message)


async def _stored(session: AsyncSession, inbound: Inbound) -> bool:
    query = select(Message.id).where(
        Message.channel == inbound.channel.value, Message.external_id == inbound.external_id
    )
    return (await session.exec(query)).first() is not None


# The router's per-message statements are built once: building SQLAlchemy expressions
# costs about as much as running these small queries.
_PROCESSED = (
    update(Message)
    .where(col(Message.id) == bindparam("processed_id"))
    .values(state="processed")
    .execution_options(synchronize_session=False)
)
_STANDING = (
    select(Conversation.state, Message.state)
    .join(Conversation, col(Conversation.id) == col(Message.conversation_id))
    .where(col(Message.id) == bindparam("message_id"))
)
_STATE = select(Conversation.state).where(col(Conversation.id) == bindparam("conversation_id"))


async def mark_processed(engine: AsyncEngine, message_id: int) -> None:
    """Record that the bot has answered an inbound message."""
    async with AsyncSession(engine) as session:
        await session.exec(_PROCESSED, params={"processed_id": message_id})
        await session.commit()


async def unanswered(engine: AsyncEngine, limit: int = 100) -> Sequence[Message]:
    """Inbound messages the bot has not answered yet (e.g. while Rasa was down), oldest first."""
    async with AsyncSession(engine, expire_on_commit=False) as session:
        query = (
            select(Message)
            .join(Conversation, col(Conversation.id) == col(Message.conversation_id))
            .where(
                Message.direction == "in",
                Message.state == "received",
                Conversation.state == ConversationState.BOT,
            )
            .order_by(col(Message.id))
            .limit(limit)
        )
        return (await session.exec(query)).all()


async def standing(engine: AsyncEngine, message_id: int) -> tuple[str, bool]:
    """Who answers an inbound message's conversation now, and whether it still waits.

    One query for what the router must re-check once it holds the conversation's lock:
    an agent may have taken the conversation, or another worker answered the message,
    while the lock was awaited. ``("", False)`` for a message that does not exist.
    """
    async with AsyncSession(engine) as session:
        row = (await session.exec(_STANDING, params={"message_id": message_id})).first()
    if row is None:
        return "", False
    conversation_state, message_state = row
    return conversation_state, message_state == "received"


async def get(engine: AsyncEngine, conversation_id: int) -> Conversation | None:
    """Return one conversation by id."""
    async with AsyncSession(engine, expire_on_commit=False) as session:
        return await session.get(Conversation, conversation_id)


async def by_channel_user(
    engine: AsyncEngine, channel: Channel, external_user_id: str
) -> Conversation | None:
    """Return a customer's conversation on a channel, if they have written before."""
    async with AsyncSession(engine, expire_on_commit=False) as session:
        query = select(Conversation).where(
            Conversation.channel == channel.value,
            Conversation.external_user_id == external_user_id,
        )
        return (await session.exec(query)).first()


async def by_key(engine: AsyncEngine, key: str) -> Conversation | None:
    """Return the conversation Rasa knows as ``key`` (its sender id)."""
    async with AsyncSession(engine, expire_on_commit=False) as session:
        query = select(Conversation).where(Conversation.key == key)
        return (await session.exec(query)).first()


async def set_state(
    engine: AsyncEngine, conversation_id: int, state: ConversationState
) -> Conversation | None:
    """Change who answers a conversation; returns it, or ``None`` if there is none."""
    async with AsyncSession(engine, expire_on_commit=False) as session:
        conversation = await session.get(Conversation, conversation_id)
        if conversation is None:
            return None
        conversation.state = state
        conversation.updated_at = utcnow()
        if state == ConversationState.BOT:
            conversation.failures = 0
        session.add(conversation)
        await session.commit()
        return conversation


async def queue_replies(
    engine: AsyncEngine,
    conversation: Conversation,
    texts: Sequence[str],
    variant: Variant,
    reply_to: str | None = None,
    author: str = "bot",
    delivered: bool = False,
) -> list[Outbound]:
    """Put replies in the outbox, in order, in one transaction.

    ``delivered`` is for web chat, whose replies travel in the HTTP response itself.
    """
    async with AsyncSession(engine) as session:
        replies = await _insert_replies(
            session, conversation, texts, variant, reply_to, author, delivered
        )
        await session.commit()
    return replies


async def answer(
    engine: AsyncEngine,
    conversation: Conversation,
    message_id: int,
    texts: Sequence[str],
    variant: Variant,
    *,
    processed: bool = True,
    reply_to: str | None = None,
    delivered: bool = False,
) -> tuple[str, list[Outbound]]:
    """Queue the bot's replies to an inbound message and mark it processed, atomically.

    One transaction, so a crash can neither leave an answered message unmarked (answered
    twice) nor a marked one unanswered. ``processed=False`` queues without marking (the
    holding reply while Rasa is down). Returns the conversation's state as the brain left
    it (its actions may have handed it to a person) and the queued replies.
    """
    async with AsyncSession(engine) as session:
        if processed:
            await session.exec(_PROCESSED, params={"processed_id": message_id})
        replies = await _insert_replies(
            session, conversation, texts, variant, reply_to, "bot", delivered
        )
        found = await session.exec(_STATE, params={"conversation_id": conversation.id})
        state = found.first() or conversation.state
        await session.commit()
    return state, replies


async def _insert_replies(
    session: AsyncSession,
    conversation: Conversation,
    texts: Sequence[str],
    variant: Variant,
    reply_to: str | None,
    author: str,
    delivered: bool,
) -> list[Outbound]:
    now = utcnow()
    kept = [text for text in texts if text.strip()]
    if not kept:
        return []
    rows = [
        {
            "conversation_id": conversation.id or 0,
            "channel": conversation.channel,
            "direction": "out",
            "author": author,
            "text": text,
            "external_id": None,
            "reply_to": reply_to,
            "context": variant.value,
            "state": "sent" if delivered else "pending",
            "attempts": 0,
            "next_attempt_at": None,
            "last_error": "",
            "created_at": now,
            "sent_at": now if delivered else None,
        }
        for text in kept
    ]
    ids = (await session.execute(_INSERT_MESSAGE, rows)).scalars().all()
    channel = Channel(conversation.channel)
    return [
        Outbound(
            message_id=message_id,
            conversation_id=conversation.id or 0,
            channel=channel,
            external_user_id=conversation.external_user_id,
            text=text,
            variant=variant,
            reply_to=reply_to,
        )
        for message_id, text in zip(ids, kept, strict=True)
    ]


async def transcript(engine: AsyncEngine, conversation_id: int) -> Sequence[Message]:
    """Every message of a conversation in the order it happened."""
    async with AsyncSession(engine, expire_on_commit=False) as session:
        query = (
            select(Message)
            .where(Message.conversation_id == conversation_id)
            .order_by(col(Message.id))
        )
        return (await session.exec(query)).all()
