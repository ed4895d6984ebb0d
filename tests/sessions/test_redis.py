"""Sessions in Redis: what Redis keeps, for how long, and what a lost step leaves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from redis.asyncio import Redis
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import User
from bot.sessions import SessionPolicy
from bot.sessions.redis import PREFIX, USER_PREFIX, RedisSessions
from bot.sessions.store import SessionsUnavailable, digest
from bot.users import reset_password, set_disabled, set_role
from tests.scratch import free_port
from tests.sessions.conftest import Clock, new_user

SHORT = SessionPolicy(idle=timedelta(minutes=10), lifetime=timedelta(minutes=12))


async def test_redis_keeps_a_digest_and_a_ttl_of_idle_or_what_is_left(
    sessions_redis: Redis, engine: AsyncEngine, clock: Clock
) -> None:
    store = RedisSessions(sessions_redis, engine, SHORT, clock)
    user = await new_user(engine, "ivy")
    opened = await store.open(user)
    key = PREFIX + digest(opened.session_id)

    keys = [k.decode() async for k in sessions_redis.scan_iter(match="outage-bot:staff-*")]
    assert sorted(keys) == sorted([key, f"{USER_PREFIX}{user.id}"])
    assert opened.session_id not in str(await sessions_redis.hgetall(key))
    assert 599 <= await sessions_redis.ttl(key) <= 600, "idle: 10 minutes"

    clock.advance(seconds=30)
    await store.current(opened.session_id)
    assert 599 <= await sessions_redis.ttl(key) <= 600, "not written within a minute"

    clock.advance(minutes=5)
    await store.current(opened.session_id)
    assert 389 <= await sessions_redis.ttl(key) <= 390, "the 6.5 minutes left of 12"


async def test_redis_forgets_an_idle_session_by_itself(
    sessions_redis: Redis, engine: AsyncEngine
) -> None:
    store = RedisSessions(
        sessions_redis, engine, SessionPolicy(timedelta(seconds=0.3), timedelta(hours=1))
    )
    opened = await store.open(await new_user(engine, "jay"))
    key = PREFIX + digest(opened.session_id)
    assert await sessions_redis.exists(key) == 1

    await asyncio.sleep(0.5)

    assert await sessions_redis.exists(key) == 0
    assert await store.current(opened.session_id) is None


async def test_a_new_password_ends_sessions_the_redis_step_missed(
    sessions_redis: Redis, engine: AsyncEngine, clock: Clock
) -> None:
    store = RedisSessions(sessions_redis, engine, SHORT, clock)
    kim = await new_user(engine, "kim")
    password, role = await store.open(kim), await store.open(kim)

    # The database's commit, without the Redis step after it (as if Redis failed then).
    async with AsyncSession(engine) as session:
        await session.exec(update(User).where(col(User.id) == kim.id).values(password_hash="x"))
        await session.commit()
    assert await store.current(password.session_id) is None

    async with AsyncSession(engine) as session:
        await session.exec(
            update(User).where(col(User.id) == kim.id).values(password_hash=kim.password_hash)
        )
        await session.commit()
    assert await store.current(role.session_id) is not None
    async with AsyncSession(engine) as session:
        await session.exec(update(User).where(col(User.id) == kim.id).values(role="admin"))
        await session.commit()
    assert await store.current(role.session_id) is None


async def test_using_an_ended_session_does_not_bring_it_back(
    sessions_redis: Redis, engine: AsyncEngine, clock: Clock
) -> None:
    store = RedisSessions(sessions_redis, engine, SHORT, clock)
    opened = await store.open(await new_user(engine, "lee"))
    key = PREFIX + digest(opened.session_id)
    clock.advance(minutes=2)
    read = sessions_redis.hgetall

    async def read_then_end(name: str) -> object:
        fields = await read(name)
        await store.end(opened.session_id)  # another worker signs the browser out meanwhile
        return fields

    sessions_redis.hgetall = read_then_end  # type: ignore[method-assign]
    try:
        await store.current(opened.session_id)
    finally:
        del sessions_redis.hgetall
    assert await sessions_redis.exists(key) == 0, "the write of its last use made no hash"


@pytest.fixture
async def closed_redis() -> AsyncIterator[Redis]:
    """A client of a Redis that nobody listens for."""
    client = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    yield client
    await client.aclose()


async def test_without_redis_no_session_is_checked_opened_or_ended(
    closed_redis: Redis, engine: AsyncEngine
) -> None:
    store = RedisSessions(closed_redis, engine, SHORT)
    user = await new_user(engine, "max")
    with pytest.raises(SessionsUnavailable):
        await store.open(user)
    with pytest.raises(SessionsUnavailable):
        await store.current("a-session-id")
    with pytest.raises(SessionsUnavailable):
        await store.end("a-session-id")
    assert await store.current("") is None, "no cookie needs no Redis"


async def test_changes_made_while_redis_is_down_stand_and_refuse_the_sessions_left(
    sessions_redis: Redis, closed_redis: Redis, engine: AsyncEngine, clock: Clock
) -> None:
    store = RedisSessions(sessions_redis, engine, SHORT, clock)
    cut_off = RedisSessions(closed_redis, engine, SHORT, clock)
    ned, ola, pia = [await new_user(engine, name) for name in ("ned", "ola", "pia")]
    disabled, reset, moved = await store.open(ned), await store.open(ola), await store.open(pia)

    changes = [
        await set_disabled(engine, cut_off, "ned", True),
        (await reset_password(engine, cut_off, "ola"))[0],
        await set_role(engine, cut_off, "pia", "admin"),
    ]

    assert [c.sessions_ended for c in changes] == [False, False, False]
    assert [(c.user.disabled, c.user.must_change_password, c.user.role) for c in changes] == [
        (True, False, "agent"),
        (False, True, "agent"),
        (False, False, "admin"),
    ]
    for left in (disabled, reset, moved):
        assert await sessions_redis.exists(PREFIX + digest(left.session_id)) == 1
        assert await store.current(left.session_id) is None, "the row check refuses it"
        assert await sessions_redis.exists(PREFIX + digest(left.session_id)) == 0
