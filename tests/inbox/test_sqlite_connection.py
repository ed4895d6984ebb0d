"""The SQLite connection: same answers as aiosqlite's, one thread trip per statement."""

from __future__ import annotations

import inspect
import sqlite3
import threading
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import create_engine
from bot.inbox.sqlite_connection import OneTripConnection


async def test_the_aiosqlite_internals_we_rely_on_are_still_there(tmp_path: Path) -> None:
    """If this fails, aiosqlite changed an internal OneTripConnection uses (see its module)."""
    parameters = list(inspect.signature(aiosqlite.Connection.__init__).parameters)
    assert parameters[1:3] == ["connector", "iter_chunk_size"], parameters
    assert inspect.iscoroutinefunction(aiosqlite.Connection._execute), "no async _execute"
    connection = aiosqlite.Connection(partial(sqlite3.connect, str(tmp_path / "x.db")), 64)
    assert isinstance(connection._thread, threading.Thread), "no _thread"
    async with connection:
        assert isinstance(connection._conn, sqlite3.Connection), "no _conn"
        on_thread = await connection._execute(lambda: threading.current_thread())
        assert on_thread is connection._thread, "_execute does not run on _thread"


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'trips.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"))
    yield engine
    await engine.dispose()


async def test_the_engine_uses_one_trip_connections(sqlite: AsyncEngine) -> None:
    async with sqlite.connect() as conn:
        raw = await conn.get_raw_connection()
        assert isinstance(raw.driver_connection, OneTripConnection)


async def test_rows_rowcount_and_lastrowid_are_as_sqlite_says(sqlite: AsyncEngine) -> None:
    async with sqlite.begin() as conn:
        inserted = await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
        assert inserted.lastrowid == 1
        await conn.execute(text("INSERT INTO t (name) VALUES (:n)"), [{"n": "b"}, {"n": "c"}])
        returned = await conn.execute(
            text("UPDATE t SET name = upper(name) WHERE id > 1 RETURNING id, name")
        )
        assert sorted(returned.all()) == [(2, "B"), (3, "C")]
        updated = await conn.execute(text("UPDATE t SET name = name || '!' WHERE id < 3"))
        assert updated.rowcount == 2
    async with sqlite.connect() as conn:
        result = await conn.execute(text("SELECT id, name FROM t ORDER BY id"))
        assert list(result.keys()) == ["id", "name"]
        assert result.fetchmany(2) == [(1, "a!"), (2, "B!")]
        assert result.fetchall() == [(3, "C")]
        streamed = await conn.stream(text("SELECT name FROM t ORDER BY id"))
        assert [row.name async for row in streamed] == ["a!", "B!", "C"]


async def test_errors_reach_the_caller_and_roll_back(sqlite: AsyncEngine) -> None:
    with pytest.raises(IntegrityError):
        async with sqlite.begin() as conn:
            await conn.execute(text("INSERT INTO t (name) VALUES ('x')"))
            await conn.execute(text("INSERT INTO t (name) VALUES ('x')"))
    async with sqlite.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 0


async def test_a_statement_is_one_trip_to_the_thread(
    sqlite: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    trips: list[Any] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        trips.append(fn)
        return await original(self, fn, *args, **kwargs)

    async with sqlite.connect() as conn:
        await conn.execute(text("SELECT 1"))  # the pool's first checkout
        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
        result = await conn.execute(text("SELECT id, name FROM t"))
        assert result.all() == []
        assert len(trips) == 1
