"""Conversations and their messages: the inbox, the transcript and who answers.

Storing an inbound message is the first thing that happens to it, and the unique
``(channel, external_id)`` constraint makes a redelivered platform message a no-op, so
a crash or a retried webhook never makes the bot answer twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.conversations import flood
from bot.conversations.statements import (
    ANSWERED,
    INSERT_CONVERSATION,
    INSERT_INBOUND,
    INSERT_REPLIES,
    STORED,
    TOUCH,
    conversation_row,
    inbound_row,
    queued,
    reply_rows,
    stored_params,
    touch_params,
)
from bot.delivery.outbox import pick_up
from bot.messages import Channel, Inbound, Outbound, Variant
from bot.models import Conversation, ConversationState, Message, MessageState, utcnow

ABANDONED_AFTER = timedelta(minutes=1)
"""How long before a message still being answered counts as left by a crash.

Twice Rasa's 30 s timeout: no worker alive takes that long over one message. Were one
to, the catch-up would still not answer it twice: it re-checks under the lock.
"""


@dataclass(frozen=True, slots=True)
class Received:
    """An inbound message newly stored, with the conversation it belongs to.

    A message over the flood limit is stored ``flooded`` (:mod:`bot.conversations.flood`);
    ``slow_down`` marks the first of a flood, the one that gets ``utter_slow_down``.
    """

    conversation: Conversation
    message: Message
    slow_down: bool = False


async def _conversation(
    connection: AsyncConnection, inbound: Inbound, now: datetime
) -> Conversation:
    touch = touch_params(inbound, now)
    found = (await connection.execute(TOUCH, touch)).first()
    if found is None:
        try:
            await connection.execute(INSERT_CONVERSATION, conversation_row(inbound, now))
        except IntegrityError:
            # Another worker created it between our UPDATE and INSERT: use theirs.
            await connection.rollback()
        found = (await connection.execute(TOUCH, touch)).one()
    return Conversation.model_construct(**found._mapping)


async def receive(engine: AsyncEngine, inbound: Inbound, flood_limit: int = 0) -> Received | None:
    """Store ``inbound`` in its conversation; ``None`` when it was stored before.

    A closed conversation reopens with the bot, since a customer writing again after
    an agent closed it has a new question. The conversation comes back as it stands
    after this message, so the caller need not read it again. A new conversation is
    committed with its first message. Beyond ``flood_limit`` messages a minute (0: no
    limit) the message is stored ``flooded`` (:mod:`bot.conversations.flood`).
    """
    now = utcnow()
    slow_down = False
    async with engine.connect() as connection:
        conversation = await _conversation(connection, inbound, now)
        row = inbound_row(inbound, conversation.id or 0, now)
        if flood_limit:
            checked = flood.check_params(
                flood_limit, now, row["conversation_id"], conversation.state
            )
            row["state"], before = (await connection.execute(flood.CHECK, checked)).one()
            slow_down = flood.slows_down(row["state"], before)
        try:
            inserted = await connection.execute(INSERT_INBOUND, row)
            await connection.commit()
        except IntegrityError:
            await connection.rollback()
            if inbound.external_id is None or not await _stored(connection, inbound):
                raise  # not a redelivery: never drop a customer's message silently
            return None
    message = Message.model_construct(id=inserted.inserted_primary_key[0], **row)  # type: ignore[index]
    return Received(conversation, message, slow_down)


async def _stored(connection: AsyncConnection, inbound: Inbound) -> bool:
    return (await connection.execute(STORED, stored_params(inbound))).first() is not None


# The router's per-message statements are built once: building SQLAlchemy expressions
# costs about as much as running these small queries.
_STANDING = (
    select(Conversation.state, Message.state)
    .join(Conversation, col(Conversation.id) == col(Message.conversation_id))
    .where(col(Message.id) == bindparam("message_id"))
)


async def unanswered(engine: AsyncEngine, limit: int = 100) -> Sequence[Message]:
    """Inbound messages the bot owes an answer and nobody is answering, oldest first.

    Those that got the holding reply while Rasa was down, and those a crash left
    half-answered. Messages being answered right now are not among them: a catch-up
    that took them in turn would queue for every busy customer's lock.
    """
    abandoned = utcnow() - ABANDONED_AFTER
    async with AsyncSession(engine, expire_on_commit=False) as session:
        query = (
            select(Message)
            .join(Conversation, col(Conversation.id) == col(Message.conversation_id))
            .where(
                Message.direction == "in",
                (col(Message.state) == MessageState.WAITING)
                | (
                    (col(Message.state) == MessageState.RECEIVED)
                    & (col(Message.created_at) < abandoned)
                ),
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
    return conversation_state, message_state in (MessageState.RECEIVED, MessageState.WAITING)


async def first_delivery(
    engine: AsyncEngine, inbound: Inbound
) -> tuple[Conversation, Message] | None:
    """The message ``inbound`` delivers again, as stored, with its conversation."""
    async with AsyncSession(engine, expire_on_commit=False) as session:
        query = (
            select(Conversation, Message)
            .join(Message, col(Message.conversation_id) == col(Conversation.id))
            .where(
                Message.channel == inbound.channel.value,
                Message.external_id == inbound.external_id,
            )
        )
        found = (await session.exec(query)).first()
    return (found[0], found[1]) if found else None


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
    rows = reply_rows(conversation, texts, variant, reply_to, author, delivered, utcnow())
    async with engine.begin() as connection:
        return await _insert(connection, conversation, rows)


@dataclass(frozen=True, slots=True)
class Answer:
    """The bot's replies to one inbound message, to be stored as one transaction.

    ``leaves`` is the state the message is left in: ``waiting`` queues them without
    marking the message answered (the holding reply while Rasa is down), ``flooded``
    keeps a message over the flood limit so. ``delivered`` is for web chat answered while
    the customer waits: the replies travel in the HTTP response, and whatever else waits
    for pick-up (:func:`pick_up`) goes with them, after them.
    """

    conversation: Conversation
    message_id: int
    texts: Sequence[str]
    variant: Variant
    leaves: MessageState = MessageState.PROCESSED
    reply_to: str | None = None
    delivered: bool = False

    def rows(self, now: datetime) -> list[dict[str, Any]]:
        """The replies' outbox rows (:data:`INSERT_REPLIES`)."""
        return reply_rows(
            self.conversation,
            self.texts,
            self.variant,
            self.reply_to,
            "bot",
            self.delivered,
            now,
        )

    def answered_params(self) -> dict[str, Any]:
        """:data:`ANSWERED`'s parameters."""
        return {
            "answered_id": self.message_id,
            "answered_conversation": self.conversation.id,
            "answered_state": self.leaves,
        }


async def answer(engine: AsyncEngine, answer: Answer) -> tuple[str, list[Outbound]]:
    """Queue the bot's replies to an inbound message and mark it processed, atomically.

    One transaction, so a crash can neither leave an answered message unmarked (answered
    twice) nor a marked one unanswered; a message answered already gets nothing more.
    Returns the conversation's state as the brain left it (its actions may have handed it
    to a person) and the replies.
    """
    conversation = answer.conversation
    async with engine.begin() as connection:
        found = (await connection.execute(ANSWERED, answer.answered_params())).first()
        if found is None:  # answered already (or gone): nothing to add
            return conversation.state, []
        state, waiting = found
        replies = await _insert(connection, conversation, answer.rows(utcnow()))
        if answer.delivered and waiting:
            replies += await pick_up(connection, conversation)
    return state, replies


async def _insert(
    connection: AsyncConnection, conversation: Conversation, rows: Sequence[dict[str, Any]]
) -> list[Outbound]:
    if not rows:
        return []
    ids = (await connection.execute(INSERT_REPLIES, rows)).scalars().all()
    return queued(conversation, rows, ids)


async def transcript(engine: AsyncEngine, conversation_id: int) -> Sequence[Message]:
    """Every message of a conversation in the order it happened."""
    async with AsyncSession(engine, expire_on_commit=False) as session:
        query = (
            select(Message)
            .where(Message.conversation_id == conversation_id)
            .order_by(col(Message.id))
        )
        return (await session.exec(query)).all()
