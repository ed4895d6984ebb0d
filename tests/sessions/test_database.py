"""Sessions in the database: the sweep of rows nobody can use."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import StaffSession
from bot.sessions.database import DatabaseSessions
from tests.sessions.conftest import POLICY, Clock, new_user


async def test_the_sweep_deletes_only_sessions_nobody_can_use(
    engine: AsyncEngine, clock: Clock
) -> None:
    store = DatabaseSessions(engine, POLICY, clock)
    user = await new_user(engine, "kit")
    idle, busy = await store.open(user), await store.open(user)
    clock.advance(minutes=20)
    await store.current(busy.session_id)
    clock.advance(minutes=20)

    await store.forget_expired()

    async with AsyncSession(engine) as session:
        kept = (await session.exec(select(StaffSession.id_hash))).all()
    assert len(kept) == 1
    assert await store.current(busy.session_id) is not None
    assert await store.current(idle.session_id) is None
    clock.advance(hours=8)
    await store.forget_expired()
    async with AsyncSession(engine) as session:
        assert (await session.exec(select(StaffSession))).all() == []
