"""The inbox on SQLite: each of the router's two writes is one call into sqlite3.

Through SQLAlchemy's async engine a small transaction costs over a millisecond of CPU
on our 2-core machines (pool checkout, a greenlet switch and a trip to aiosqlite's
thread per statement, result and ORM objects), and every message costs two: more than
half of the app's own time per web-chat message. Here a transaction is one function
run on the thread of a connection kept for the purpose, statements and all.

The statements are the engine path's, compiled for SQLite (:mod:`bot.inbox.statements`). The
connection's thread runs one transaction at a time, the order SQLite would impose
anyway; ``BEGIN IMMEDIATE`` takes the write lock up front, so while another connection
writes we wait in SQLite's busy handler (on that thread) rather than fail half-way.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.dialects import sqlite

from bot.conversations import flood
from bot.conversations import statements as core
from bot.conversations.store import Answer, Received
from bot.db import SQLITE_PRAGMAS
from bot.inbox.sqlite_connection import OneTripConnection, connect
from bot.inbox.statements import CONVERSATION_COLUMNS, Prepared, Statements, answered, received
from bot.messages import Inbound, Outbound
from bot.models import utcnow

T = TypeVar("T")
Row = dict[str, Any]

_SQL = Statements.compile(sqlite.dialect())
_CONVERSATION_TIMES = ("created_at", "updated_at")


def _run(db: sqlite3.Connection, statement: Prepared, params: Row) -> sqlite3.Cursor:
    return db.execute(statement.sql, statement.args(params))


def _stored_form(row: Row) -> Row:
    """``row`` with its times as SQLAlchemy stores them in SQLite: UTC, no offset, to the µs."""
    return {
        name: value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        if isinstance(value, datetime)
        else value
        for name, value in row.items()
    }


def _transaction(db: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``work`` in one write transaction on aiosqlite's thread: all of it or none."""
    db.execute("BEGIN IMMEDIATE")
    try:
        result = work(db)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return result


_CONVERSATION_STATE = CONVERSATION_COLUMNS.index("state")


def _receive(
    db: sqlite3.Connection, touch: Row, new: Row, message: Row, stored: Row, limit: Row | None
) -> tuple[tuple[Any, ...], int, str, str | None] | None:
    """The conversation's row, the new message's id, its state and the state of the one before.

    ``None`` for a redelivery. ``limit``: the flood limit's parameters (``None``: no limit).
    """

    def store(db: sqlite3.Connection) -> tuple[tuple[Any, ...], int, str, str | None]:
        found = _run(db, _SQL.touch, touch).fetchone()
        if found is None:
            _run(db, _SQL.insert_conversation, new)
            found = _run(db, _SQL.touch, touch).fetchone()
        state, before = message["state"], None
        if limit is not None:
            checked = {**limit, **flood.conversation_params(found[0], found[_CONVERSATION_STATE])}
            state, before = _run(db, _SQL.flood, checked).fetchone()
        row = {**message, "conversation_id": found[0], "state": state}
        inserted = _run(db, _SQL.insert_message, row)
        return tuple(found), inserted.lastrowid or 0, state, before

    try:
        return _transaction(db, store)
    except sqlite3.IntegrityError:
        if message["external_id"] is None or _run(db, _SQL.stored, stored).fetchone() is None:
            raise  # not a redelivery: never drop a customer's message silently
        return None


def _answer(
    db: sqlite3.Connection, params: Row, replies: Sequence[Row], pick: Row | None
) -> tuple[tuple[Any, ...] | None, list[int], list[Any]]:
    """Mark the message, store the replies, and pick up waiting ones if asked and any wait."""

    def work(db: sqlite3.Connection) -> tuple[tuple[Any, ...] | None, list[int], list[Any]]:
        found = _run(db, _SQL.answered, params).fetchone()
        if found is None:  # answered already (or gone): nothing to add
            return None, [], []
        ids = [_run(db, _SQL.insert_message, reply).lastrowid or 0 for reply in replies]
        waiting = found is not None and bool(found[1])
        picked = _run(db, _SQL.pick_up, pick).fetchall() if pick is not None and waiting else []
        return found, ids, picked

    return _transaction(db, work)


def _configure(db: sqlite3.Connection) -> None:
    for pragma in SQLITE_PRAGMAS:
        db.execute(pragma).fetchall()


class SqliteInbox:
    """The router's two writes per message, on a SQLite connection of their own."""

    def __init__(self, connection: OneTripConnection, flood_limit: int = 0) -> None:
        self._connection = connection
        self._flood_limit = flood_limit

    @classmethod
    async def open(cls, database: str, flood_limit: int = 0) -> SqliteInbox:
        """Open the inbox on the SQLite file ``database`` (already migrated).

        ``flood_limit``: messages a conversation may send a minute (0: no limit).
        """
        connection = await connect(
            database, timeout=30, check_same_thread=False, isolation_level=None
        )
        await connection.on_thread(_configure)
        return cls(connection, flood_limit)

    async def close(self) -> None:
        """Close the connection (its thread ends with it)."""
        await self._connection.close()

    async def receive(self, inbound: Inbound) -> Received | None:
        """See :func:`bot.conversations.store.receive`: the same rules in one call."""
        now = utcnow()
        message = core.inbound_row(inbound, 0, now)
        limit = self._flood_limit
        stored = await self._connection.on_thread(
            _receive,
            _stored_form(core.touch_params(inbound, now)),
            _stored_form(core.conversation_row(inbound, now)),
            _stored_form(message),
            core.stored_params(inbound),
            _stored_form(flood.params(limit, now)) if limit else None,
        )
        if stored is None:
            return None
        row, message_id, state, before = stored
        fields = dict(zip(CONVERSATION_COLUMNS, row, strict=True))
        for name in _CONVERSATION_TIMES:
            fields[name] = datetime.fromisoformat(fields[name]).replace(tzinfo=UTC)
        return received(fields, message, message_id, state, before)

    async def answer(self, answer: Answer) -> tuple[str, list[Outbound]]:
        """See :func:`bot.conversations.store.answer`: the same transaction in one call."""
        now = utcnow()
        rows = answer.rows(now)
        pick = {"pick_conversation": answer.conversation.id, "picked_at": now}
        found, ids, picked = await self._connection.on_thread(
            _answer,
            answer.answered_params(),
            [_stored_form(row) for row in rows],
            _stored_form(pick) if answer.delivered else None,
        )
        return answered(answer, rows, found, ids, picked)
