"""A session store of each kind on each database, and a clock the tests move on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.models import User, utcnow
from bot.sessions import SessionPolicy, SessionStore
from bot.sessions.database import DatabaseSessions
from bot.sessions.redis import RedisSessions
from bot.users import add_user

POLICY = SessionPolicy(idle=timedelta(minutes=30), lifetime=timedelta(hours=8))


@dataclass
class Clock:
    """The time a store reads: now when the test starts, then only as the test moves it."""

    now: datetime = field(default_factory=utcnow)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move on by ``timedelta(**delta)`` (back, if negative)."""
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


StoreFactory = Callable[..., SessionStore]


@pytest.fixture(params=["database", "redis"])
def make_store(request: pytest.FixtureRequest, engine: AsyncEngine, clock: Clock) -> StoreFactory:
    """``make_store(policy=POLICY)``: the parametrized kind of store, on the test's clock."""
    if request.param == "database":
        return lambda policy=POLICY: DatabaseSessions(engine, policy, clock)
    redis = request.getfixturevalue("sessions_redis")
    return lambda policy=POLICY: RedisSessions(redis, engine, policy, clock)


@pytest.fixture
def store(make_store: StoreFactory) -> SessionStore:
    """The parametrized store with the usual policy (30 minutes idle, 8 hours in all)."""
    return make_store()


async def new_user(engine: AsyncEngine, name: str) -> User:
    """An agent called ``name``."""
    user, _, _ = await add_user(engine, name, "agent")
    return user
