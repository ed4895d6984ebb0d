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

Web conversations from before identities existed got an identity with no secret at all
in their migration (0006), so their senders are refused; the page then starts a new chat.
Every web conversation therefore has an identity, and a sender without one is new.

Every web-chat message is checked, so the check is cheap: one statement for a new
sender's first message (the insert) and one for its second (the confirmation), and none
after that, because a confirmed secret never changes and each worker remembers its digest.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import ChatIdentity, utcnow

MAX_SECRET = 128
"""Longer presented secrets are not hashed at all (ours are 43 characters)."""

REMEMBERED = 10_000
"""How many confirmed senders' digests each worker keeps (about 1.5 MB)."""


@dataclass(frozen=True)
class Verdict:
    """Whether a message may go on, and the secret to hand out with its answer, if new."""

    allowed: bool
    issued: str | None = None


REFUSED = Verdict(allowed=False)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _matches(secret_hash: str, presented: str | None) -> bool:
    if not presented or len(presented) > MAX_SECRET:
        # Still compare, so refusing takes as long whatever was presented.
        hmac.compare_digest(secret_hash, _digest(""))
        return False
    return hmac.compare_digest(secret_hash, _digest(presented))


async def _issue(session: AsyncSession, sender: str, first_message: str | None) -> Verdict | None:
    """A new identity for ``sender``; ``None`` if it has one already."""
    secret = secrets.token_urlsafe(32)
    session.add(
        ChatIdentity(sender=sender, secret_hash=_digest(secret), first_message=first_message)
    )
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return None
    return Verdict(allowed=True, issued=secret)


async def _confirm(session: AsyncSession, sender: str, secret_hash: str) -> bool:
    """Note that the secret arrived, if it is the sender's and was not used before.

    From then on only the secret lets anyone in (no first message sent again).
    """
    result = await session.exec(
        update(ChatIdentity)
        .where(
            col(ChatIdentity.sender) == sender,
            col(ChatIdentity.secret_hash) == secret_hash,
            col(ChatIdentity.confirmed_at).is_(None),
        )
        .values(confirmed_at=utcnow())
    )
    await session.commit()
    return bool(result.rowcount == 1)


async def _reissue(session: AsyncSession, identity: ChatIdentity) -> Verdict:
    """A new secret for the first message sent again, if no secret was ever used."""
    secret = secrets.token_urlsafe(32)
    result = await session.exec(
        update(ChatIdentity)
        .where(
            col(ChatIdentity.sender) == identity.sender,
            col(ChatIdentity.first_message) == identity.first_message,
            col(ChatIdentity.confirmed_at).is_(None),
        )
        .values(secret_hash=_digest(secret))
    )
    await session.commit()
    return Verdict(allowed=True, issued=secret) if result.rowcount == 1 else REFUSED


class ChatIdentities:
    """The web-chat identities in the database, with confirmed ones remembered."""

    def __init__(self, engine: AsyncEngine, remembered: int = REMEMBERED) -> None:
        self._engine = engine
        self._remembered = remembered
        self._confirmed: OrderedDict[str, str] = OrderedDict()

    def _remember(self, sender: str, secret_hash: str) -> None:
        self._confirmed[sender] = secret_hash
        self._confirmed.move_to_end(sender)
        while len(self._confirmed) > self._remembered:
            self._confirmed.popitem(last=False)

    async def admit(
        self, sender: str, presented: str | None, first_message: str | None = None
    ) -> Verdict:
        """May ``sender``'s message go on? Issues the secret for a new sender.

        Args:
            sender: the web-chat sender name.
            presented: the secret the request carried, if any (for a new sender it is
                ignored: a browser's cookie may still hold an earlier sender's).
            first_message: the message's id in the inbox, when the page gave it one.
        """
        known = self._confirmed.get(sender)
        if known is not None:
            return Verdict(allowed=True) if _matches(known, presented) else REFUSED
        async with AsyncSession(self._engine, expire_on_commit=False) as session:
            if presented is None:  # most likely a new sender's first message
                issued = await _issue(session, sender, first_message)
                if issued is not None:
                    return issued
            elif len(presented) <= MAX_SECRET:  # most likely the second message
                digest = _digest(presented)
                if await _confirm(session, sender, digest):
                    self._remember(sender, digest)
                    return Verdict(allowed=True)
            identity = await session.get(ChatIdentity, sender)
            if identity is None:  # new, with an earlier sender's cookie
                return await _issue(session, sender, first_message) or REFUSED
            if _matches(identity.secret_hash, presented):
                if identity.confirmed_at is not None:
                    self._remember(sender, identity.secret_hash)
                return Verdict(allowed=True)
            if first_message is not None and first_message == identity.first_message:
                # The first answer never arrived: this one carries a new secret.
                return await _reissue(session, identity)
        return REFUSED

    async def may_read(self, sender: str, presented: str | None) -> bool:
        """May this request pick up ``sender``'s replies?

        A sender nobody has written as yet has nothing to read, so that is allowed (the
        page asks before its first message); one with an identity needs the secret.
        """
        known = self._confirmed.get(sender)
        if known is not None:
            return _matches(known, presented)
        async with AsyncSession(self._engine) as session:
            identity = await session.get(ChatIdentity, sender)
        return identity is None or _matches(identity.secret_hash, presented)
