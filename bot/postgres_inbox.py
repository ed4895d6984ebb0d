"""The inbox on PostgreSQL: the router's two writes straight through asyncpg.

Through SQLAlchemy's async engine each of the two transactions a message costs spends
most of its CPU outside the database: pool checkout with a pre-ping round trip, a
greenlet switch per statement, result and ORM objects. Here they run on a small asyncpg
pool of their own, as prepared statements asyncpg caches per connection; the
statements are the engine path's, compiled for PostgreSQL (:mod:`bot.inbox_sql`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.engine import make_url

from bot import conversations
from bot.conversations import Answer, Received
from bot.inbox_sql import Prepared, Statements, answered, received
from bot.messages import Inbound, Outbound
from bot.models import utcnow

_SQL = Statements.compile(asyncpg_dialect.dialect())  # type: ignore[no-untyped-call]


def _dsn(url: str) -> str:
    """The engine's URL as asyncpg reads a DSN: libpq's form, which spells ``ssl`` sslmode."""
    parsed = make_url(url)
    query = dict(parsed.query)
    if "ssl" in query:
        query.setdefault("sslmode", query.pop("ssl"))
    return parsed.set(drivername="postgresql", query=query).render_as_string(hide_password=False)


async def _nothing_to_reset(connection: asyncpg.Connection) -> None:
    """Our transactions leave no session state behind (no SET, LISTEN or advisory lock).

    asyncpg's default reset costs a round trip on every release to clear such state;
    with a reset of our own it still rolls back a transaction left open, for free when
    there is none.
    """


class PostgresInbox:
    """The router's two writes per message, on an asyncpg pool of their own."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, url: str, size: int = 10) -> PostgresInbox:
        """Open a pool of up to ``size`` connections to the (migrated) database at ``url``."""
        pool = await asyncpg.create_pool(
            _dsn(url), min_size=1, max_size=size, reset=_nothing_to_reset
        )
        return cls(pool)

    async def close(self) -> None:
        """Close the pool's connections."""
        await self._pool.close()

    async def receive(self, inbound: Inbound) -> Received | None:
        """See :func:`bot.conversations.receive`: the same rules, straight through asyncpg."""
        now = utcnow()
        message = conversations.inbound_row(inbound, 0, now)
        async with self._pool.acquire() as db:
            try:
                found, message_id = await _store(db, inbound, message, now)
            except asyncpg.UniqueViolationError:
                stored = conversations.stored_params(inbound)
                if inbound.external_id is not None and await _row(db, _SQL.stored, stored):
                    return None
                # Another worker created the conversation between our UPDATE and INSERT:
                # this time the UPDATE finds it. A second failure is a real one.
                found, message_id = await _store(db, inbound, message, now)
        return received(found, message, message_id)

    async def answer(self, answer: Answer) -> tuple[str, list[Outbound]]:
        """See :func:`bot.conversations.answer`: the same transaction, through asyncpg."""
        now = utcnow()
        rows = answer.rows(now)
        async with self._pool.acquire() as db, db.transaction():
            found = await _row(db, _SQL.answered, answer.answered_params())
            ids = [(await _row(db, _SQL.insert_message, row))["id"] for row in rows]
            picked: list[Any] = []
            if answer.delivered and found is not None and found[1]:
                pick = {"pick_conversation": answer.conversation.id, "picked_at": now}
                picked = [
                    tuple(r) for r in await db.fetch(_SQL.pick_up.sql, *_SQL.pick_up.args(pick))
                ]
        return answered(answer, rows, found, ids, picked)


async def _store(
    db: Any, inbound: Inbound, message: dict[str, Any], now: datetime
) -> tuple[dict[str, Any], int]:
    """Store ``message`` in its conversation (made if need be): the conversation's row, its id."""
    touch = conversations.touch_params(inbound, now)
    async with db.transaction():
        found = await _row(db, _SQL.touch, touch)
        if found is None:
            await _row(db, _SQL.insert_conversation, conversations.conversation_row(inbound, now))
            found = await _row(db, _SQL.touch, touch)
        inserted = await _row(db, _SQL.insert_message, {**message, "conversation_id": found["id"]})
    return dict(found), inserted["id"]


async def _row(db: Any, statement: Prepared, params: dict[str, Any]) -> Any:
    """The first row ``statement`` returns with ``params``, or ``None``."""
    return await db.fetchrow(statement.sql, *statement.args(params))
