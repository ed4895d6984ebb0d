"""Signed-in browsers: server-side sessions referenced by a random id in a cookie.

Without ``REDIS_URL`` they are rows in the database (:mod:`bot.sessions.database`); with
it they live in Redis (:mod:`bot.sessions.redis`), which every worker shares and which
forgets ended sessions by itself. Both behave alike (:mod:`bot.sessions.store`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.sessions.database import DatabaseSessions
from bot.sessions.redis import RedisSessions
from bot.sessions.store import Current, Opened, SessionPolicy, SessionStore
from bot.settings import Settings

__all__ = ["Current", "Opened", "SessionPolicy", "SessionStore", "sessions_for", "store_for"]


def store_for(engine: AsyncEngine, redis: Redis | None, settings: Settings) -> SessionStore:
    """Redis's store when there is a Redis client, else the database's."""
    policy = SessionPolicy.of(settings)
    if redis is None:
        return DatabaseSessions(engine, policy)
    return RedisSessions(redis, engine, policy)


@asynccontextmanager
async def sessions_for(settings: Settings, engine: AsyncEngine) -> AsyncIterator[SessionStore]:
    """The store for a command run outside the service, with its own Redis client if any."""
    if not settings.redis_url:
        yield store_for(engine, None, settings)
        return
    redis = Redis.from_url(settings.redis_url)
    try:
        yield store_for(engine, redis, settings)
    finally:
        await redis.aclose()
