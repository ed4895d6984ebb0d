"""The persisted outbox: every reply waits here until its channel confirms delivery.

Replies are ``Message`` rows (direction ``out``). A row moves pending -> sending -> sent,
or back to pending with a later ``next_attempt_at`` when a send fails, or to failed after
:data:`MAX_ATTEMPTS`. The ``sending`` state is what makes a crash visible: a row still in
it after a restart was possibly sent, and its channel decides (:meth:`Outbox.in_doubt`)
whether to resend or not, because only the channel knows whether it can check.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import Table, bindparam, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from bot.delivery.backoff import OUTBOX, Backoff
from bot.messages import Channel, Outbound, Variant
from bot.models import Conversation, Message, MessageState, utcnow
from bot.telemetry import Telemetry

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8


class RetryLater(Exception):
    """The platform asked us to wait (rate limit) or is briefly unavailable."""

    def __init__(self, delay_seconds: float, reason: str = "retry later") -> None:
        super().__init__(reason)
        self.delay_seconds = delay_seconds


class PermanentFailure(Exception):
    """The platform will never accept this message (blocked by the user, bad chat)."""


Send = Callable[[Outbound], Awaitable[str | None]]

# Built once: it runs for every reply delivered, and building it cost about as much as
# running it.
_MARK_SENT = (
    update(Message)
    .where(col(Message.id) == bindparam("sent_id"))
    .values(
        state=MessageState.SENT,
        sent_at=bindparam("sent_at"),
        external_id=bindparam("sent_external_id"),
        last_error="",
    )
    .execution_options(synchronize_session=False)
)


_TABLE: Table = Message.__table__  # type: ignore[attr-defined]

# Claims and reads in one statement: a reply another request picked up meanwhile is
# simply not returned, so each is handed over once.
PICK_UP = (
    update(_TABLE)
    .where(
        _TABLE.c.conversation_id == bindparam("pick_conversation"),
        _TABLE.c.direction == "out",
        _TABLE.c.state == MessageState.PENDING,
    )
    .values(state=MessageState.SENT, sent_at=bindparam("picked_at"))
    .returning(_TABLE.c.id, _TABLE.c.text, _TABLE.c.variant, _TABLE.c.reply_to)
)


async def pick_up(connection: AsyncConnection, conversation: Conversation) -> list[Outbound]:
    """Hand over a conversation's pending replies for pick-up delivery (web chat), in order.

    Web chat has no push: the page collects replies that were queued after its last
    request (an agent's answer, a fix notification, a late answer after Rasa was down).
    Runs in the caller's transaction, so answering a message can collect them in the same
    round trip to the database.
    """
    params = {"pick_conversation": conversation.id, "picked_at": utcnow()}
    return picked(conversation, (await connection.execute(PICK_UP, params)).all())


def picked(conversation: Conversation, rows: Iterable[Any]) -> list[Outbound]:
    """:data:`PICK_UP`'s rows as replies to hand over, in the order they were queued."""
    return [
        addressed(conversation, message_id, text, Variant(variant or Variant.DEFAULT), reply_to)
        for message_id, text, variant, reply_to in sorted(rows)
    ]


def addressed(
    conversation: Conversation, message_id: int, text: str, variant: Variant, reply_to: str | None
) -> Outbound:
    """Reply ``message_id`` of ``conversation``, addressed to its customer."""
    return Outbound(
        message_id=message_id,
        conversation_id=conversation.id or 0,
        channel=Channel(conversation.channel),
        external_user_id=conversation.external_user_id,
        text=text,
        variant=variant,
        reply_to=reply_to,
    )


def _outbound(message: Message, external_user_id: str) -> Outbound:
    return Outbound(
        message_id=message.id or 0,
        conversation_id=message.conversation_id,
        channel=Channel(message.channel),
        external_user_id=external_user_id,
        text=message.text,
        variant=Variant(message.variant or Variant.DEFAULT),
        reply_to=message.reply_to,
    )


class Outbox:
    """Claims due replies for one channel and records what became of them."""

    def __init__(
        self, engine: AsyncEngine, telemetry: Telemetry | None = None, backoff: Backoff = OUTBOX
    ) -> None:
        """``backoff``: how long a reply that failed waits, by its attempts (tests shorten it)."""
        self._engine = engine
        self._telemetry = telemetry
        self._backoff = backoff

    def delivered(self, channel: Channel, count: int = 1) -> None:
        """Count replies that reached their channel (``/metrics``)."""
        if self._telemetry is not None:
            self._telemetry.sent(channel, count)

    def _due(self, channel: Channel, state: MessageState, limit: int) -> Select[Message, str]:
        query = (
            select(Message, Conversation.external_user_id)
            .join(Conversation, col(Conversation.id) == col(Message.conversation_id))
            .where(
                Message.direction == "out",
                Message.channel == channel.value,
                Message.state == state,
            )
            .order_by(col(Message.id))
            .limit(limit)
        )
        if state == MessageState.PENDING:
            now = utcnow()
            query = query.where(
                (col(Message.next_attempt_at).is_(None)) | (col(Message.next_attempt_at) <= now)
            )
        return query

    async def _rows(self, channel: Channel, state: MessageState, limit: int) -> list[Outbound]:
        async with AsyncSession(self._engine, expire_on_commit=False) as session:
            rows = (await session.exec(self._due(channel, state, limit))).all()
        return [_outbound(message, user) for message, user in rows]

    async def claim(self, channel: Channel, limit: int = 20) -> list[Outbound]:
        """Move up to ``limit`` due replies to ``sending`` and return them, oldest first.

        The conditional UPDATE is the claim: when several workers race for a row, only
        the one whose UPDATE matched it (``RETURNING`` names it) sends it. One UPDATE for
        the whole batch, so a claim costs one round trip rather than one per reply.
        """
        async with AsyncSession(self._engine, expire_on_commit=False) as session:
            rows = (await session.exec(self._due(channel, MessageState.PENDING, limit))).all()
            if not rows:
                return []
            ids = [message.id for message, _user in rows]
            statement = (
                update(Message)
                .where(col(Message.id).in_(ids), col(Message.state) == MessageState.PENDING)
                .values(state=MessageState.SENDING, attempts=col(Message.attempts) + 1)
                .returning(col(Message.id))
                .execution_options(synchronize_session=False)
            )
            won = set((await session.execute(statement)).scalars().all())
            await session.commit()
        return [_outbound(message, user) for message, user in rows if message.id in won]

    async def _set(self, message_id: int, **values: object) -> None:
        async with AsyncSession(self._engine) as session:
            statement = update(Message).where(col(Message.id) == message_id).values(**values)
            await session.exec(statement)
            await session.commit()

    async def mark_sent(self, message_id: int, external_id: str | None) -> None:
        """Record delivery, with the platform's id of the sent message when there is one."""
        params = {"sent_id": message_id, "sent_at": utcnow(), "sent_external_id": external_id}
        async with AsyncSession(self._engine) as session:
            await session.exec(_MARK_SENT, params=params)
            await session.commit()

    async def mark_retry(
        self, message_id: int, error: str, delay_seconds: float | None = None
    ) -> None:
        """Put a reply back in the queue for later, or give up after too many attempts.

        Without ``delay_seconds`` the wait grows with the reply's own attempts (the
        outbox's backoff, :data:`bot.delivery.backoff.OUTBOX` unless told), so a reply that
        keeps failing is not retried every second.
        """
        async with AsyncSession(self._engine) as session:
            message = await session.get(Message, message_id)
            attempts = message.attempts if message else MAX_ATTEMPTS
        if attempts >= MAX_ATTEMPTS:
            await self.mark_failed(message_id, error)
            return
        if delay_seconds is None:
            delay_seconds = self._backoff.delay(attempts)
        await self._set(
            message_id,
            state=MessageState.PENDING,
            last_error=error[:300],
            next_attempt_at=utcnow() + timedelta(seconds=delay_seconds),
        )

    async def mark_failed(self, message_id: int, error: str) -> None:
        """Stop trying; the row stays for agents and audits."""
        log.warning("reply %s failed for good: %r", message_id, error)
        await self._set(message_id, state=MessageState.FAILED, last_error=error[:300])

    async def take(self, conversation: Conversation) -> list[Outbound]:
        """Hand over a conversation's pending replies (:func:`pick_up`) on their own."""
        async with self._engine.begin() as connection:
            replies = await pick_up(connection, conversation)
        self.delivered(Channel.WEB, len(replies))
        return replies

    async def in_doubt(self, channel: Channel) -> list[Outbound]:
        """Replies a crash left in ``sending``: the send may or may not have happened."""
        return await self._rows(channel, MessageState.SENDING, 1000)

    async def resolve_in_doubt(self, message_id: int, sent: bool, external_id: str | None) -> None:
        """Settle an in-doubt reply: mark it sent, or queue it to be sent again."""
        if sent:
            await self.mark_sent(message_id, external_id)
        else:
            await self._set(message_id, state=MessageState.PENDING, next_attempt_at=None)


async def deliver_once(outbox: Outbox, channel: Channel, send: Send, limit: int = 20) -> int:
    """Send every due reply of ``channel`` once; returns how many were attempted."""
    batch = await outbox.claim(channel, limit)
    for outbound in batch:
        try:
            external_id = await send(outbound)
        except RetryLater as exc:
            await outbox.mark_retry(outbound.message_id, str(exc), exc.delay_seconds)
        except PermanentFailure as exc:
            await outbox.mark_failed(outbound.message_id, str(exc))
        except Exception as exc:  # any other failure is retried, never lost
            log.warning("sending reply %s failed: %s", outbound.message_id, type(exc).__name__)
            await outbox.mark_retry(outbound.message_id, f"{type(exc).__name__}: {exc}"[:300])
        else:
            await outbox.mark_sent(outbound.message_id, external_id)
            outbox.delivered(channel)
    return len(batch)


async def deliver_forever(
    outbox: Outbox,
    channel: Channel,
    send: Send,
    wake: asyncio.Event,
    poll_seconds: float = 1.0,
) -> None:
    """Deliver replies as they are queued; runs until cancelled.

    ``wake`` is set by the router after it queues replies, so delivery starts at once;
    the poll interval only matters for retries that come due.
    """
    while True:
        # Cleared before claiming, so a wake-up for a reply queued while we claim stays set.
        wake.clear()
        try:
            sent = await deliver_once(outbox, channel, send)
        except Exception:
            log.exception("outbox for %s failed; retrying", channel)
            sent = 0
        if sent:
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=poll_seconds)
