"""Signed-in browsers: server-side sessions referenced by a random id in a cookie.

The cookie carries ``secrets.token_urlsafe(32)``; the table keeps only its SHA-256 digest,
so a copy of the database signs nobody in. A session ends when it has been idle too
long, when it reaches its absolute lifetime, when its user signs out, is disabled or
gets a new password (those delete the rows), whichever comes first.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import StaffSession, User, utcnow

TOUCH_EVERY = timedelta(minutes=1)
"""How stale ``last_seen_at`` may get before a request writes it again (one write a
minute per session, not one per request)."""


@dataclass(frozen=True)
class SessionPolicy:
    """How long a session lives: ``idle`` since its last use, ``lifetime`` in all."""

    idle: timedelta
    lifetime: timedelta


@dataclass(frozen=True)
class Opened:
    """A new session: the cookie's value and the CSRF token its pages must send back."""

    session_id: str
    csrf_token: str


@dataclass(frozen=True)
class Current:
    """A live session's user and CSRF token."""

    user: User
    csrf_token: str


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


async def open_session(engine: AsyncEngine, user: User) -> Opened:
    """Start a session for ``user`` (who has just proved their password)."""
    assert user.id is not None
    opened = Opened(secrets.token_urlsafe(32), secrets.token_urlsafe(32))
    async with AsyncSession(engine) as session:
        session.add(
            StaffSession(
                id_hash=_digest(opened.session_id), user_id=user.id, csrf_token=opened.csrf_token
            )
        )
        await session.commit()
    return opened


def _expired(row: StaffSession, policy: SessionPolicy, now: datetime) -> bool:
    return now - row.last_seen_at > policy.idle or now - row.created_at > policy.lifetime


async def current(engine: AsyncEngine, session_id: str, policy: SessionPolicy) -> Current | None:
    """The user of a live session, or ``None``; an expired session is deleted on the way."""
    if not session_id:
        return None
    now = utcnow()
    async with AsyncSession(engine, expire_on_commit=False) as session:
        found = (
            await session.exec(
                select(StaffSession, User)
                .join(User, col(User.id) == StaffSession.user_id)
                .where(StaffSession.id_hash == _digest(session_id))
            )
        ).first()
        if found is None:
            return None
        row, user = found
        if user.disabled or _expired(row, policy, now):
            await session.delete(row)
            await session.commit()
            return None
        if now - row.last_seen_at > TOUCH_EVERY:
            row.last_seen_at = now
            session.add(row)
            await session.commit()
        return Current(user, row.csrf_token)


async def end_session(engine: AsyncEngine, session_id: str) -> None:
    """Sign one browser out."""
    async with AsyncSession(engine) as session:
        await session.exec(
            delete(StaffSession).where(col(StaffSession.id_hash) == _digest(session_id))
        )
        await session.commit()


async def end_sessions(session: AsyncSession, user_id: int) -> None:
    """Sign ``user_id`` out everywhere, inside the caller's transaction."""
    await session.exec(delete(StaffSession).where(col(StaffSession.user_id) == user_id))


async def forget_expired(engine: AsyncEngine, policy: SessionPolicy) -> None:
    """Delete sessions nobody can use any more (run now and then)."""
    now = utcnow()
    async with AsyncSession(engine) as session:
        await session.exec(
            delete(StaffSession).where(
                (col(StaffSession.last_seen_at) < now - policy.idle)
                | (col(StaffSession.created_at) < now - policy.lifetime)
            )
        )
        await session.commit()
