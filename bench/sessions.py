"""Time the session check every signed-in staff request makes, in each store.

Usage:
    .venv/bin/python bench/sessions.py [--calls 5000] [--sessions 1000]
        [--postgres URL] [--redis URL] [--skip-postgres]

Opens ``--sessions`` sessions for 50 users in each store, then times ``--calls`` calls
of :meth:`SessionStore.current` on sessions picked at random, two ways:

- ``read``: within a minute of the last write, as nearly every request is (nothing
  written);
- ``write``: the clock moved on 61 s before each call, so every call also writes the
  last use (what the once-a-minute throttle spares the others).

Stores: the database's on SQLite (a fresh file) and on PostgreSQL (database
``outage_bot_bench_sessions``, created afresh), and Redis's with the users' rows on
each (Redis still reads the user's row on every call). The bench deletes the sessions it
opened in Redis, and nothing else there.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.incident_lookup import recreate_pg
from bot.db import create_engine, migrate
from bot.models import User, utcnow
from bot.sessions import SessionPolicy, SessionStore
from bot.sessions.database import DatabaseSessions
from bot.sessions.redis import USER_PREFIX, RedisSessions

USERS = 50
POLICY = SessionPolicy(idle=timedelta(days=1), lifetime=timedelta(days=1))
"""Long enough for the ``write`` runs' clock, which moves 61 s a call."""


class Clock:
    """The bench's time: real at the start, moved on only by the ``write`` runs."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


async def add_users(engine: AsyncEngine) -> list[User]:
    from sqlmodel.ext.asyncio.session import AsyncSession

    users = [User(name=f"bench-{n}", role="agent", password_hash=f"x{n}") for n in range(USERS)]
    async with AsyncSession(engine, expire_on_commit=False) as session:
        session.add_all(users)
        await session.commit()
    return users


def percentiles(times: list[float]) -> str:
    cuts = statistics.quantiles(times, n=100)
    return f"p50 {cuts[49]:7.3f} ms  p99 {cuts[98]:7.3f} ms  mean {statistics.mean(times):.3f} ms"


async def time_calls(
    store: SessionStore, ids: list[str], calls: int, clock: Clock, step: timedelta
) -> list[float]:
    rng = random.Random(5)
    for session_id in ids[:200]:  # warm-up: connections, statement caches
        assert await store.current(session_id) is not None
    times: list[float] = []
    for _ in range(calls):
        clock.now += step
        session_id = rng.choice(ids)
        started = time.perf_counter()
        found = await store.current(session_id)
        times.append((time.perf_counter() - started) * 1000)
        assert found is not None
    return times


async def bench(
    label: str, make: Callable[[Clock], SessionStore], users: list[User], args: argparse.Namespace
) -> None:
    clock = Clock()
    store = make(clock)
    ids = [(await store.open(users[n % USERS])).session_id for n in range(args.sessions)]
    reads = await time_calls(store, ids, args.calls, clock, timedelta(0))
    writes = await time_calls(store, ids, args.calls // 5, clock, timedelta(seconds=61))
    print(f"{label:34} read   {percentiles(reads)}")
    print(f"{'':34} write  {percentiles(writes)}")
    for session_id in ids:
        await store.end(session_id)


async def on_database(url: str, redis: Redis, args: argparse.Namespace, name: str) -> None:
    await migrate(url)
    engine = create_engine(url)
    try:
        users = await add_users(engine)
        await bench(
            f"database store, {name}",
            lambda clock: DatabaseSessions(engine, POLICY, clock),
            users,
            args,
        )
        await bench(
            f"Redis store, users on {name}",
            lambda clock: RedisSessions(redis, engine, POLICY, clock),
            users,
            args,
        )
        await redis.delete(*(f"{USER_PREFIX}{user.id}" for user in users))
    finally:
        await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument(
        "--postgres", default="postgresql://postgres@127.0.0.1:5432/outage_bot_bench_sessions"
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/3")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    redis = Redis.from_url(args.redis)
    try:
        sqlite = f"sqlite:///{tempfile.mkdtemp()}/sessions.db"
        await on_database(sqlite, redis, args, "SQLite")
        if not args.skip_postgres:
            await recreate_pg(args.postgres)
            await on_database(args.postgres, redis, args, "PostgreSQL")
    finally:
        await redis.aclose()
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    asyncio.run(main())
