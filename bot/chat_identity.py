"""Who may write into, and read from, a web-chat conversation: whoever holds its secret.

The sender name is the page's own choice and is shown to agents, so it proves nothing.
With a new sender's first message the server issues ``secrets.token_urlsafe(32)``; the
table keeps only its SHA-256 digest (unguessable input makes a fast hash safe, as for
API tokens), and every later message and pick-up of replies must present it, compared
in constant time.

One exception keeps "a message that got no answer is sent again under the same id"
(the page after a worker died) working from the very first message: the same first
message, sent again before the secret was ever used, gets a new secret in place of the
one that never arrived. Its id is the page's random id, known to nobody else.

Web conversations from before identities existed have no secret to check, so their
senders are refused; the page then starts a new chat.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.messages import Channel
from bot.models import ChatIdentity, Conversation, utcnow

MAX_SECRET = 128
"""Longer presented secrets are not hashed at all (ours are 43 characters)."""


@dataclass(frozen=True)
class Verdict:
    """Whether a message may go on, and the secret to hand out with its answer, if new."""

    allowed: bool
    issued: str | None = None


REFUSED = Verdict(allowed=False)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _matches(identity: ChatIdentity, presented: str | None) -> bool:
    if not presented or len(presented) > MAX_SECRET:
        # Still compare, so refusing takes as long whatever was presented.
        hmac.compare_digest(identity.secret_hash, _digest(""))
        return False
    return hmac.compare_digest(identity.secret_hash, _digest(presented))


async def _identity(engine: AsyncEngine, sender: str) -> ChatIdentity | None:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        return await session.get(ChatIdentity, sender)


async def _has_conversation(engine: AsyncEngine, sender: str) -> bool:
    async with AsyncSession(engine) as session:
        query = select(Conversation.id).where(
            Conversation.channel == Channel.WEB.value, Conversation.external_user_id == sender
        )
        return (await session.exec(query)).first() is not None


async def _issue(engine: AsyncEngine, sender: str, first_message: str | None) -> str | None:
    """A new identity for ``sender``; ``None`` if another request made one first."""
    secret = secrets.token_urlsafe(32)
    try:
        async with AsyncSession(engine) as session:
            session.add(
                ChatIdentity(
                    sender=sender, secret_hash=_digest(secret), first_message=first_message
                )
            )
            await session.commit()
    except IntegrityError:
        return None
    return secret


async def _confirm(engine: AsyncEngine, sender: str) -> None:
    """Note that the secret arrived: from now on only the secret lets anyone in."""
    async with AsyncSession(engine) as session:
        await session.exec(
            update(ChatIdentity)
            .where(col(ChatIdentity.sender) == sender, col(ChatIdentity.confirmed_at).is_(None))
            .values(confirmed_at=utcnow())
        )
        await session.commit()


async def _reissue(engine: AsyncEngine, sender: str, first_message: str) -> str | None:
    """A new secret for the first message sent again, if its secret was never used."""
    secret = secrets.token_urlsafe(32)
    async with AsyncSession(engine) as session:
        result = await session.exec(
            update(ChatIdentity)
            .where(
                col(ChatIdentity.sender) == sender,
                col(ChatIdentity.first_message) == first_message,
                col(ChatIdentity.confirmed_at).is_(None),
            )
            .values(secret_hash=_digest(secret))
        )
        await session.commit()
    return secret if result.rowcount == 1 else None


async def admit(
    engine: AsyncEngine, sender: str, presented: str | None, first_message: str | None = None
) -> Verdict:
    """May ``sender``'s message go on? Issues the secret for a new sender.

    Args:
        engine: the database.
        sender: the web-chat sender name.
        presented: the secret the request carried, if any (for a new sender it is
            ignored: a browser's cookie may still hold an earlier sender's).
        first_message: the message's id in the inbox, when the page gave it one.
    """
    identity = await _identity(engine, sender)
    if identity is None:
        if await _has_conversation(engine, sender):
            return REFUSED
        issued = await _issue(engine, sender, first_message)
        if issued is not None:
            return Verdict(allowed=True, issued=issued)
        identity = await _identity(engine, sender)  # a concurrent first message won
        if identity is None:
            return REFUSED
    if _matches(identity, presented):
        if identity.confirmed_at is None:
            await _confirm(engine, sender)
        return Verdict(allowed=True)
    if first_message is not None and first_message == identity.first_message:
        reissued = await _reissue(engine, sender, first_message)
        if reissued is not None:
            return Verdict(allowed=True, issued=reissued)
    return REFUSED


async def may_read(engine: AsyncEngine, sender: str, presented: str | None) -> bool:
    """May this request pick up ``sender``'s replies?

    A sender nobody has written as yet has nothing to read, so that is allowed (the
    page asks before its first message); one with a conversation needs the secret.
    """
    identity = await _identity(engine, sender)
    if identity is None:
        return not await _has_conversation(engine, sender)
    return _matches(identity, presented)
