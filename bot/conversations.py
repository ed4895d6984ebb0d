"""Conversations and their messages: the inbox, the transcript and who answers.

Storing an inbound message is the first thing that happens to it, and the unique
``(channel, external_id)`` constraint makes a redelivered platform message a no-op, so
a crash or a retried webhook never makes the bot answer twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Table, bindparam, case, exists, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.db import writing
from bot.messages import Channel, Inbound, Outbound, Variant
from bot.models import Conversation, ConversationState, Message, utcnow
from bot.outbox import addressed, pick_up


@dataclass(frozen=True, slots=True)
class Received:
    """An inbound message newly stored, with the conversation it belongs to."""

    conversation: Conversation
    message: Message


# Core statements on the tables themselves, built once: the ORM's flush and loading
# machinery, and building the expressions, cost more than these small statements do.
_CONVERSATION_TABLE: Table = Conversation.__table__  # type: ignore[attr-defined]
_MESSAGE_TABLE: Table = Message.__table__  # type: ignore[attr-defined]
_INSERT_MESSAGE = insert(_MESSAGE_TABLE).returning(
    _MESSAGE_TABLE.c.id, sort_by_parameter_order=True
)
# One row needs no RETURNING: SQLite hands back the new id itself (lastrowid), which
# saves fetching a result from aiosqlite's thread; PostgreSQL returns it either way.
_INSERT_INBOUND = insert(_MESSAGE_TABLE)
_INSERT_CONVERSATION = insert(_CONVERSATION_TABLE).returning(_CONVERSATION_TABLE.c.id)

_CLOSED = _CONVERSATION_TABLE.c.state == ConversationState.CLOSED.value

# Touch the customer's conversation and hand it back in one statement: a closed one
# reopens with the bot (the SET expressions all see the row as it was).
_TOUCH = (
    update(_CONVERSATION_TABLE)
    .where(
        _CONVERSATION_TABLE.c.channel == bindparam("touch_channel"),
        _CONVERSATION_TABLE.c.external_user_id == bindparam("touch_user"),
    )
    .values(
        updated_at=bindparam("touch_now"),
        state=case((_CLOSED, ConversationState.BOT.value), else_=_CONVERSATION_TABLE.c.state),
        failures=case((_CLOSED, 0), else_=_CONVERSATION_TABLE.c.failures),
    )
    .returning(*_CONVERSATION_TABLE.c)
)


async def _conversation(connection: AsyncConnection, inbound: Inbound) -> Conversation:
    touch = {
        "touch_channel": inbound.channel.value,
        "touch_user": inbound.external_user_id,
        "touch_now": utcnow(),
    }
    found = (await connection.execute(_TOUCH, touch)).first()
    if found is not None:
        return Conversation(**found._mapping)
    conversation = Conversation(
        channel=inbound.channel.value,
        external_user_id=inbound.external_user_id,
        display_name=inbound.display_name[:200],
    )
    try:
        inserted = await connection.execute(
            _INSERT_CONVERSATION, conversation.model_dump(exclude={"id"})
        )
        conversation.id = inserted.scalar_one()  # committed with the first message
    except IntegrityError:
        # Another worker created it between our UPDATE and INSERT: use theirs.
        await connection.rollback()
        return Conversation(**(await connection.execute(_TOUCH, touch)).one()._mapping)
    return conversation


async def receive(engine: AsyncEngine, inbound: Inbound) -> Received | None:
    """Store ``inbound`` in its conversation; ``None`` when it was stored before.

    A closed conversation reopens with the bot, since a customer writing again after
    an agent closed it has a new question. The conversation comes back as it stands
    after this message, so the caller need not read it again.
    """
    async with writing(engine), engine.connect() as connection:
        conversation = await _conversation(connection, inbound)
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
            inserted = await connection.execute(
                _INSERT_INBOUND, message.model_dump(exclude={"id"})
            )
            message.id = inserted.inserted_primary_key[0]  # type: ignore[index]
            await connection.commit()
        except IntegrityError:
            await connection.rollback()
            if inbound.external_id is None or not await _stored(connection, inbound):
                raise  # not a redelivery: never drop a customer's message silently
            return None
    return Received(conversation, message)


async def _stored(connection: AsyncConnection, inbound: Inbound) -> bool:
    query = select(Message.id).where(
        Message.channel == inbound.channel.value, Message.external_id == inbound.external_id
    )
    return (await connection.execute(query)).first() is not None


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
_WAITING_REPLY = _MESSAGE_TABLE.alias("waiting_reply")
# Answering ends in one statement that also reads what the answer needs to know: the
# conversation's state as the brain left it, and whether any other reply waits for
# pick-up (rarely), so that the pick-up itself is skipped when there is none. The
# subqueries name the conversation by parameter: SQLite renders RETURNING columns
# unqualified, so a correlated subquery could not tell the two message tables apart.
_ANSWERED = (
    update(_MESSAGE_TABLE)
    .where(_MESSAGE_TABLE.c.id == bindparam("answered_id"))
    .values(state=bindparam("answered_state"))
    .returning(
        select(_CONVERSATION_TABLE.c.state)
        .where(_CONVERSATION_TABLE.c.id == bindparam("answered_conversation"))
        .scalar_subquery(),
        exists().where(
            _WAITING_REPLY.c.conversation_id == bindparam("answered_conversation"),
            _WAITING_REPLY.c.direction == "out",
            _WAITING_REPLY.c.state == "pending",
        ),
    )
)


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
    async with engine.begin() as connection:
        return await _insert_replies(
            connection, conversation, texts, variant, reply_to, author, delivered
        )


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
    holding reply while Rasa is down). ``delivered`` (web chat, answered while the
    customer waits) also hands over whatever else waits for pick-up (:func:`pick_up`),
    after the new replies, in the same transaction. Returns the conversation's state as
    the brain left it (its actions may have handed it to a person) and the replies.
    """
    answered = {
        "answered_id": message_id,
        "answered_conversation": conversation.id,
        "answered_state": "processed" if processed else "received",
    }
    async with writing(engine), engine.begin() as connection:
        found = (await connection.execute(_ANSWERED, answered)).first()
        state, waiting = found or (conversation.state, False)
        replies = await _insert_replies(
            connection, conversation, texts, variant, reply_to, "bot", delivered
        )
        if delivered and waiting:
            replies += await pick_up(connection, conversation)
    return state, replies


async def _insert_replies(
    connection: AsyncConnection,
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
    ids = (await connection.execute(_INSERT_MESSAGE, rows)).scalars().all()
    return [
        addressed(conversation, message_id, text, variant, reply_to)
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
