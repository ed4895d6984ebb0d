"""Sessions in the ``staff_session`` table: the store without ``REDIS_URL``.

A session outlives restarts of the service as long as the database does. Expired rows
are refused when used, and deleted now and then by :meth:`DatabaseSessions.forget_expired`.
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import StaffSession, User, utcnow
from bot.sessions.store import TOUCH_EVERY, Clock, Current, Opened, SessionPolicy, digest


class DatabaseSessions:
    """Sessions as rows, ended for a user in the same transaction as the user's change."""

    def __init__(self, engine: AsyncEngine, policy: SessionPolicy, clock: Clock = utcnow) -> None:
        self._engine = engine
        self._policy = policy
        self._clock = clock

    async def open(self, user: User) -> Opened:
        """Start a session for ``user`` (who has just proved their password)."""
        assert user.id is not None
        opened = Opened.fresh()
        now = self._clock()
        async with AsyncSession(self._engine) as session:
            session.add(
                StaffSession(
                    id_hash=digest(opened.session_id),
                    user_id=user.id,
                    csrf_token=opened.csrf_token,
                    created_at=now,
                    last_seen_at=now,
                )
            )
            await session.commit()
        return opened

    async def current(self, session_id: str) -> Current | None:
        """The user of a live session, or ``None``; an ended one is deleted on the way."""
        if not session_id:
            return None
        now = self._clock()
        async with AsyncSession(self._engine, expire_on_commit=False) as session:
            found = (
                await session.exec(
                    select(StaffSession, User)
                    .join(User, col(User.id) == StaffSession.user_id)
                    .where(StaffSession.id_hash == digest(session_id))
                )
            ).first()
            if found is None:
                return None
            row, user = found
            if user.disabled or self._policy.expired(row.created_at, row.last_seen_at, now):
                await session.delete(row)
                await session.commit()
                return None
            if now - row.last_seen_at > TOUCH_EVERY:
                row.last_seen_at = now
                session.add(row)
                await session.commit()
            return Current(user, row.csrf_token)

    async def end(self, session_id: str) -> None:
        """Sign one browser out."""
        async with AsyncSession(self._engine) as session:
            await session.exec(
                delete(StaffSession).where(col(StaffSession.id_hash) == digest(session_id))
            )
            await session.commit()

    async def commit_signed_out(self, transaction: AsyncSession, user_id: int) -> bool:
        """Delete the user's sessions inside ``transaction``, then commit: all or nothing."""
        await transaction.exec(delete(StaffSession).where(col(StaffSession.user_id) == user_id))
        await transaction.commit()
        return True

    async def forget_expired(self) -> None:
        """Delete sessions nobody can use any more (run now and then)."""
        now = self._clock()
        async with AsyncSession(self._engine) as session:
            await session.exec(
                delete(StaffSession).where(
                    (col(StaffSession.last_seen_at) < now - self._policy.idle)
                    | (col(StaffSession.created_at) < now - self._policy.lifetime)
                )
            )
            await session.commit()
