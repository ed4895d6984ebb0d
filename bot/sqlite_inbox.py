"""The inbox on SQLite: each of the router's two writes is one call into sqlite3.

Through SQLAlchemy's async engine a small transaction costs over a millisecond of CPU
on our 2-core machines (pool checkout, a greenlet switch and a trip to aiosqlite's
thread per statement, result and ORM objects), and every message costs two: more than
half of the app's own time per web-chat message. Here a transaction is one function
run on the thread of a connection kept for the purpose, statements and all.

The statements are the Core statements the engine path runs (:mod:`bot.conversations`,
:mod:`bot.outbox`), compiled once for SQLite, so the two paths cannot drift apart. The
connection's thread runs one transaction at a time, the order SQLite would impose
anyway; ``BEGIN IMMEDIATE`` takes the write lock up front, so while another connection
writes we wait in SQLite's busy handler (on that thread) rather than fail half-way.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy.dialects import sqlite
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from bot import conversations, outbox
from bot.conversations import Answer, Received
from bot.db import SQLITE_PRAGMAS
from bot.messages import Inbound, Outbound
from bot.models import Conversation, Message, utcnow
from bot.sqlite_connection import OneTripConnection, connect

T = TypeVar("T")
Row = dict[str, Any]


class _Compiled:
    """A Core statement as sqlite3 runs it: its SQL, and its parameters in order."""

    def __init__(self, statement: ClauseElement, columns: Sequence[str] | None = None) -> None:
        compiled = cast(
            SQLCompiler, statement.compile(dialect=sqlite.dialect(), column_keys=columns)
        )
        self.sql = compiled.string
        self._names = tuple(compiled.positiontup or ())
        self._fixed = compiled.params

    def run(self, db: sqlite3.Connection, params: Mapping[str, Any]) -> sqlite3.Cursor:
        """Execute with ``params`` (by name; the statement's own literals fill the rest)."""
        args = [params[name] if name in params else self._fixed[name] for name in self._names]
        return db.execute(self.sql, args)


_CONVERSATION_COLUMNS = tuple(conversations.CONVERSATION_TABLE.c.keys())
_MESSAGE_COLUMNS = [c.name for c in conversations.MESSAGE_TABLE.c if c.name != "id"]
_TOUCH = _Compiled(conversations.TOUCH)
_INSERT_CONVERSATION = _Compiled(
    conversations.INSERT_CONVERSATION,
    [name for name in _CONVERSATION_COLUMNS if name != "id"],
)
_INSERT_MESSAGE = _Compiled(conversations.INSERT_INBOUND, _MESSAGE_COLUMNS)
_STORED = _Compiled(conversations.STORED)
_ANSWERED = _Compiled(conversations.ANSWERED)
_PICK_UP = _Compiled(outbox.PICK_UP)
_CONVERSATION_TIMES = ("created_at", "updated_at")


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


def _receive(
    db: sqlite3.Connection, touch: Row, new: Row, message: Row, stored: Row
) -> tuple[tuple[Any, ...], int] | None:
    """The conversation's row and the new message's id; ``None`` for a redelivery."""

    def store(db: sqlite3.Connection) -> tuple[tuple[Any, ...], int]:
        found = _TOUCH.run(db, touch).fetchone()
        if found is None:
            _INSERT_CONVERSATION.run(db, new)
            found = _TOUCH.run(db, touch).fetchone()
        inserted = _INSERT_MESSAGE.run(db, {**message, "conversation_id": found[0]})
        return tuple(found), inserted.lastrowid or 0

    try:
        return _transaction(db, store)
    except sqlite3.IntegrityError:
        if message["external_id"] is None or _STORED.run(db, stored).fetchone() is None:
            raise  # not a redelivery: never drop a customer's message silently
        return None


def _answer(
    db: sqlite3.Connection, answered: Row, replies: Sequence[Row], pick: Row | None
) -> tuple[tuple[Any, ...] | None, list[int], list[Any]]:
    """Mark the message, store the replies, and pick up waiting ones if asked and any wait."""

    def work(db: sqlite3.Connection) -> tuple[tuple[Any, ...] | None, list[int], list[Any]]:
        found = _ANSWERED.run(db, answered).fetchone()
        ids = [_INSERT_MESSAGE.run(db, reply).lastrowid or 0 for reply in replies]
        waiting = found is not None and bool(found[1])
        picked = _PICK_UP.run(db, pick).fetchall() if pick is not None and waiting else []
        return found, ids, picked

    return _transaction(db, work)


def _configure(db: sqlite3.Connection) -> None:
    for pragma in SQLITE_PRAGMAS:
        db.execute(pragma).fetchall()


class SqliteInbox:
    """The router's two writes per message, on a SQLite connection of their own."""

    def __init__(self, connection: OneTripConnection) -> None:
        self._connection = connection

    @classmethod
    async def open(cls, database: str) -> SqliteInbox:
        """Open the inbox on the SQLite file ``database`` (already migrated)."""
        connection = await connect(
            database, timeout=30, check_same_thread=False, isolation_level=None
        )
        await connection.on_thread(_configure)
        return cls(connection)

    async def close(self) -> None:
        """Close the connection (its thread ends with it)."""
        await self._connection.close()

    async def receive(self, inbound: Inbound) -> Received | None:
        """See :func:`bot.conversations.receive`: the same rules in one call."""
        now = utcnow()
        message = conversations.inbound_row(inbound, 0, now)
        stored = await self._connection.on_thread(
            _receive,
            _stored_form(conversations.touch_params(inbound, now)),
            _stored_form(conversations.conversation_row(inbound, now)),
            _stored_form(message),
            conversations.stored_params(inbound),
        )
        if stored is None:
            return None
        row, message_id = stored
        fields = dict(zip(_CONVERSATION_COLUMNS, row, strict=True))
        for name in _CONVERSATION_TIMES:
            fields[name] = datetime.fromisoformat(fields[name]).replace(tzinfo=UTC)
        message.update(id=message_id, conversation_id=fields["id"])
        return Received(Conversation.model_construct(**fields), Message.model_construct(**message))

    async def answer(self, answer: Answer) -> tuple[str, list[Outbound]]:
        """See :func:`bot.conversations.answer`: the same transaction in one call."""
        now = utcnow()
        rows = answer.rows(now)
        pick = {"pick_conversation": answer.conversation.id, "picked_at": now}
        found, ids, waiting = await self._connection.on_thread(
            _answer,
            answer.answered_params(),
            [_stored_form(row) for row in rows],
            _stored_form(pick) if answer.delivered else None,
        )
        conversation = answer.conversation
        state = found[0] if found is not None else conversation.state
        replies = conversations.queued(conversation, rows, ids)
        return state, replies + outbox.picked(conversation, waiting)
