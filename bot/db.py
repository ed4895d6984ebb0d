"""Database engines and migrations: one async code path for SQLite and PostgreSQL.

``DATABASE_URL`` is written the ordinary way (``sqlite:///file``, ``postgresql://...``);
the async driver is chosen here so operators never need to know about aiosqlite or
asyncpg.
"""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import PoolResetState, StaticPool

from bot.inbox import sqlite_connection

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def async_url(url: str) -> str:
    """Return ``url`` with the async driver this service uses for its dialect.

    Raises:
        ValueError: the dialect is neither SQLite nor PostgreSQL.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if backend in ("postgresql", "postgres"):
        query = dict(parsed.query)
        if "sslmode" in query:
            # libpq's spelling, as hosted PostgreSQL services hand it out; asyncpg says ssl.
            query.setdefault("ssl", query.pop("sslmode"))
        return parsed.set(drivername="postgresql+asyncpg", query=query).render_as_string(
            hide_password=False
        )
    raise ValueError(f"unsupported database: {backend} (use sqlite:/// or postgresql://)")


def safe_url(url: str) -> str:
    """Return ``url`` with its password masked, for logs and error messages."""
    return make_url(url).render_as_string(hide_password=True)


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create the async engine for ``url``, making the SQLite file's folder if needed.

    SQLite gets WAL mode and enforced foreign keys, so its behaviour under several
    readers and one writer matches what PostgreSQL gives for free; PostgreSQL gets JIT
    compilation off. Statement parameters stay out of SQL logs and database errors
    (``hide_parameters``): they hold customers' messages and the digests of secrets.
    """
    kwargs.setdefault("hide_parameters", True)
    parsed = make_url(async_url(url))
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:"):
            kwargs.setdefault("poolclass", StaticPool)
        else:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault(
            "async_creator",
            partial(
                sqlite_connection.connect,
                database or ":memory:",
                timeout=30,
                check_same_thread=False,
            ),
        )
        kwargs.setdefault("pool_reset_on_return", None)  # _sqlite_reset does it
    else:
        # Our statements are all short: PostgreSQL's JIT compilation (on by default, for
        # plans it guesses are costly) took 20-250 ms on queries that run in 1-10 ms
        # whenever the planner overestimated rows (bench/dashboard.py).
        settings = kwargs.setdefault("connect_args", {}).setdefault("server_settings", {})
        settings.setdefault("jit", "off")
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
        kwargs.setdefault("pool_pre_ping", True)
    engine = create_async_engine(parsed, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "reset", _sqlite_reset)
    return engine


# What every SQLite connection is set to, the engine's and bot.inbox.sqlite's alike.
SQLITE_PRAGMAS = ("PRAGMA foreign_keys=ON", "PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def _sqlite_reset(dbapi_connection: Any, _record: Any, state: PoolResetState) -> None:
    """Roll back a connection coming back to the pool only if a transaction is open.

    The pool's own reset rolls back every time, even after a commit, and each call costs
    a round trip to aiosqlite's thread; SQLite says for free whether one is needed.
    """
    if state.asyncio_safe and dbapi_connection.driver_connection.in_transaction:
        dbapi_connection.rollback()


def alembic_config(url: str) -> Config:
    """Return an Alembic configuration that migrates the database at ``url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = url
    return config


def migrate_sync(url: str, revision: str = "head") -> None:
    """Bring the schema at ``url`` up to ``revision`` (blocking; not inside a loop)."""
    command.upgrade(alembic_config(url), revision)


async def migrate(url: str, revision: str = "head") -> None:
    """Bring the schema at ``url`` up to ``revision`` without blocking the event loop."""
    await asyncio.to_thread(migrate_sync, url, revision)
