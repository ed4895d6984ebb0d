"""aiosqlite with one trip to its thread per statement.

aiosqlite runs every sqlite3 call on a thread of its own and wakes the event loop when
each is done. Through SQLAlchemy a statement is three or four such calls (open a cursor,
execute, fetch the rows, close), and each trip costs about 75 µs of CPU on our 2-core
machines, with the GIL changing hands twice: on the web chat's hot path that was a third
of our own cost per message. Here the whole statement is one trip, and SQLAlchemy is
handed rows already fetched; everything else is aiosqlite's own connection.

This leans on four internals of ``aiosqlite.Connection`` (0.20-0.22): the constructor
``(connector, iter_chunk_size)``, ``_execute(fn)`` running ``fn`` on its thread, ``_conn``
(the sqlite3 connection, on that thread) and ``_thread``. pyproject caps aiosqlite below
0.23, and tests/inbox/test_sqlite_connection.py checks each of them by name, so a new
aiosqlite fails there with the internal it changed rather than somewhere in SQLAlchemy.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any

import aiosqlite

_Outcome = tuple[Any, int, int | None, list[Any]]


def _run(connection: sqlite3.Connection, sql: str, parameters: Any) -> _Outcome:
    """Execute and fetch on aiosqlite's thread; what a cursor can tell afterwards."""
    cursor = connection.execute(sql, parameters)
    try:
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


def _run_many(connection: sqlite3.Connection, sql: str, parameters: Iterable[Any]) -> _Outcome:
    cursor = connection.executemany(sql, parameters)
    try:
        return cursor.description, cursor.rowcount, cursor.lastrowid, []
    finally:
        cursor.close()


class OneTripCursor:
    """The part of aiosqlite's cursor that SQLAlchemy uses, answered from one trip."""

    arraysize = 1

    def __init__(self, connection: OneTripConnection) -> None:
        self._connection = connection
        self._rows: deque[Any] = deque()
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None

    async def __aenter__(self) -> OneTripCursor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _keep(self, outcome: _Outcome) -> OneTripCursor:
        self.description, self.rowcount, self.lastrowid, rows = outcome
        self._rows = deque(rows)
        return self

    async def execute(self, sql: str, parameters: Any = ()) -> OneTripCursor:
        """Run one statement and keep its rows."""
        return self._keep(await self._connection.on_thread(_run, sql, parameters))

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> OneTripCursor:
        """Run one statement for each set of parameters."""
        return self._keep(await self._connection.on_thread(_run_many, sql, parameters))

    async def fetchone(self) -> Any:
        """The next row, or ``None``."""
        return self._rows.popleft() if self._rows else None

    async def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        """Up to ``size`` (default ``arraysize``) of the remaining rows."""
        count = min(self.arraysize if size is None else size, len(self._rows))
        return [self._rows.popleft() for _ in range(count)]

    async def fetchall(self) -> Sequence[Any]:
        """Every remaining row."""
        rows = list(self._rows)
        self._rows.clear()
        return rows

    async def close(self) -> None:
        """Nothing to release: sqlite3's cursor was closed on the thread."""
        self._rows.clear()


class OneTripConnection(aiosqlite.Connection):
    """aiosqlite's connection whose cursors make one trip per statement."""

    def cursor(self) -> OneTripCursor:  # type: ignore[override]
        """A cursor; SQLAlchemy enters it with ``async with`` (no trip needed)."""
        return OneTripCursor(self)

    async def on_thread(self, function: Any, *args: Any) -> Any:
        """Run ``function(sqlite3 connection, *args)`` on aiosqlite's thread."""
        return await self._execute(partial(function, self._conn, *args))  # type: ignore[no-untyped-call]


async def connect(database: str, **kwargs: Any) -> OneTripConnection:
    """Open ``database`` as :func:`aiosqlite.connect` would (``kwargs`` go to sqlite3)."""
    connection = OneTripConnection(partial(sqlite3.connect, database, **kwargs), 64)
    connection._thread.daemon = True  # as SQLAlchemy does: never hold up interpreter exit
    await connection
    return connection
