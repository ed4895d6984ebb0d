"""Throw-away databases, loopback ports, aged messages and waiting for things, shared by the
tests and benches."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import asyncpg
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel, col, select

from bot.delivery.backoff import Backoff
from bot.locations.locator import Locator
from bot.models import Message

T = TypeVar("T")

QUICK = Backoff(first=0.01, cap=0.05)
"""Retries after hundredths of a second: the service's retry paths, without its waits."""

POSTGRES_ADMIN = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def redis_url(database: int) -> str:
    """Loopback Redis ``database`` (12-15) as this test process may use it alone.

    Under pytest-xdist, worker ``gwN`` gets ``database - 4 * N``, so two workers never
    share keys; the wake-up topic names its database (:mod:`bot.delivery.wakes`), so they
    never hear each other's wake-ups either. Up to three workers: 0-3 are left to people.
    """
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    if not 12 <= database <= 15 or worker > 2:
        raise ValueError(f"no Redis database for test database {database} on worker {worker}")
    return f"redis://127.0.0.1:6379/{database - 4 * worker}"


@functools.cache
def locator_for(data_dir: Path) -> Locator:
    """The place index of ``data_dir``, read once per test process for every app it builds.

    A Locator never changes once read, so sharing it changes nothing an app does; reading
    it took most of an app's start-up (about 0.1 s, hundreds of apps a run).
    """
    return Locator.from_data(data_dir)


def free_port() -> int:
    """A TCP port nobody listens on right now, on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive loopback ports nobody listens on right now."""
    while True:
        first = free_port()
        with contextlib.ExitStack() as stack:
            try:
                for port in range(first + 1, first + count):
                    sock = stack.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return first


async def recreate_database(name: str, *, drop_only: bool = False) -> None:
    """Drop the local PostgreSQL database ``name`` and, unless ``drop_only``, make it anew."""
    conn = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def empty_tables(engine: AsyncEngine) -> None:
    """Delete every row, children first, keeping the schema."""
    async with engine.begin() as conn:
        for table in reversed(SQLModel.metadata.sorted_tables):
            await conn.execute(text(f'DELETE FROM "{table.name}"'))


async def age_messages(engine: AsyncEngine, by: timedelta) -> None:
    """Make every stored message older by ``by`` and a second, as time passing would.

    Row by row: SQLite has no date arithmetic to do it in one UPDATE.
    """
    async with engine.begin() as connection:
        rows = (await connection.execute(select(Message.id, Message.created_at))).all()
        for message_id, created_at in rows:
            await connection.execute(
                update(Message)
                .where(col(Message.id) == message_id)
                .values(created_at=created_at - by - timedelta(seconds=1))
            )


async def eventually(what: str, check: Callable[[], Awaitable[T]], within: float = 20) -> T:
    """The first truthy result of the coroutine function ``check``, polled every 0.1 s."""
    for _ in range(int(within / 0.1)):
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"after {within} s still waiting for {what}")
