"""The inbox on PostgreSQL: the router's two writes straight through asyncpg.

Through SQLAlchemy's async engine each of the two transactions a message costs spends
most of its CPU outside the database: pool checkout with a pre-ping round trip, a
greenlet switch per statement, result and ORM objects. Here they run on a small asyncpg
pool of their own, as statements asyncpg prepares once per connection, and each write
is a single statement (data-modifying CTEs) where the engine path needs a transaction
of several: every round trip is latency the customer waits for. The statements are
built from the engine path's (:mod:`bot.conversations.statements`, :mod:`bot.inbox.statements`).
"""

from __future__ import annotations

import functools
from typing import Any

import asyncpg
from sqlalchemy import Column, bindparam, case, exists, func, insert, select, union_all
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.engine import make_url
from sqlalchemy.sql.elements import BindParameter

from bot.conversations import flood
from bot.conversations import statements as core
from bot.conversations.store import Answer, Received
from bot.delivery import outbox
from bot.inbox.statements import Prepared, answered, received
from bot.messages import Inbound, Outbound
from bot.models import MessageState, utcnow

_DIALECT = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]
_MESSAGE = core.MESSAGE_TABLE
_ROW_COLUMNS = [c for c in _MESSAGE.c if c.key != "id"]


def _values(prefix: str, columns: list[Column[Any]]) -> list[BindParameter[Any]]:
    return [bindparam(f"{prefix}{c.key}", type_=c.type) for c in columns]


def _receive() -> Prepared:
    """Store a message in its customer's conversation, made if need be, in one statement.

    :data:`~bot.conversations.statements.TOUCH` finds (and touches) the conversation; only when it
    finds none does the INSERT make one, with the row the engine path's INSERT and TOUCH
    would leave; the flood limit's count (:mod:`bot.conversations.flood`) decides the
    message's state, and the message goes into whichever conversation there is. One round
    trip, committed on its own, for a first message as for any other (the engine path
    needs a transaction of four statements for a first one). Two workers making the same
    conversation at once: one of them gets a unique violation and runs it again, finding
    the other's.

    Its commit does not wait for the WAL to reach disk (``synchronous_commit`` off for
    this transaction alone): nobody is told we have the message before its answer is
    committed, and that commit, which waits, flushes the WAL up to itself and so this
    one too (nor is a redelivery called one before :func:`_stored` has made sure). A
    PostgreSQL crash in between loses a message nobody was told we had, and its sender
    sends it again. This saves a disk flush per message: about 0.2 ms of the latency a
    customer waits and a fifth of PostgreSQL's CPU per message. A flooded message is
    the exception: most get no answer, so its own commit waits for the disk.
    """
    touched = core.TOUCH.cte("touched")
    table = core.CONVERSATION_TABLE
    made = [c for c in table.c if c.key != "id"]
    created = (
        insert(table)
        .from_select(
            [c.key for c in made],
            select(*_values("new_", made)).where(~exists(select(touched.c.id))),
        )
        .returning(*table.c)
        .cte("created")
    )
    found = union_all(select(touched), select(created)).cte("found")
    checked = select(
        found.c.id,
        flood.state(found.c.id, found.c.state).label("state"),
        flood.previous(found.c.id).label("before"),
    ).cte("checked")
    given = [c for c in _ROW_COLUMNS if c.key != "conversation_id"]
    stored = (
        insert(_MESSAGE)
        .from_select(
            ["conversation_id", *(c.key for c in given)],
            select(
                checked.c.id,
                *(
                    checked.c.state if c.key == "state" else bindparam(f"in_{c.key}", type_=c.type)
                    for c in given
                ),
            ),
        )
        .returning(_MESSAGE.c.id, _MESSAGE.c.state)
        .cte("stored")
    )
    durable = case((checked.c.state == MessageState.FLOODED.value, "on"), else_="off")
    relaxed = select(
        func.set_config("synchronous_commit", durable, True).label("synchronous_commit")
    ).cte("relaxed")
    return Prepared(
        select(
            found,
            stored.c.id.label("message_id"),
            stored.c.state.label("message_state"),
            checked.c.before.label("message_before"),
        ).where(relaxed.c.synchronous_commit.is_not(None)),
        _DIALECT,
    )


@functools.cache
def _answer_with(replies: int) -> Prepared:
    """:data:`~bot.conversations.statements.ANSWERED` and INSERT of ``replies`` rows, as one.

    Always one row: the conversation's state and whether replies wait for pick-up
    (``NULL`` for a message that does not exist), and the new replies' ids in order.
    """
    answered = core.ANSWERED.cte("answered")
    columns: list[Any] = [
        select(answered.c.conversation_state).scalar_subquery(),
        select(answered.c.replies_waiting).scalar_subquery(),
    ]
    if replies:
        # Inserted only if the message was still waiting (``answered`` matched it).
        still_waiting = exists(select(answered.c.conversation_state))
        rows = [
            select(*_values(f"r{n}_", _ROW_COLUMNS)).where(still_waiting) for n in range(replies)
        ]
        inserted = (
            insert(_MESSAGE)
            .from_select(
                [c.key for c in _ROW_COLUMNS], rows[0] if replies == 1 else union_all(*rows)
            )
            .returning(_MESSAGE.c.id)
            .cte("inserted")
        )
        columns.append(
            select(
                func.array_agg(aggregate_order_by(inserted.c.id, inserted.c.id))
            ).scalar_subquery()
        )
    return Prepared(select(*columns), _DIALECT)


_RECEIVE = _receive()
_STORED_ON_DISK = Prepared(core.STORED.with_for_update(key_share=True), _DIALECT)
_PICK_UP = Prepared(outbox.PICK_UP, _DIALECT)


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


async def open_pool(url: str, size: int = 10) -> asyncpg.Pool:
    """A pool of up to ``size`` connections to the (migrated) database at ``url``."""
    return await asyncpg.create_pool(_dsn(url), min_size=1, max_size=size, reset=_nothing_to_reset)


class PostgresInbox:
    """The router's two writes per message, on an asyncpg pool of their own."""

    def __init__(self, pool: asyncpg.Pool, flood_limit: int = 0) -> None:
        """``flood_limit``: messages a conversation may send a minute (0: no limit)."""
        self._pool = pool
        self._flood_limit = flood_limit

    @classmethod
    async def open(cls, url: str, size: int = 10, flood_limit: int = 0) -> PostgresInbox:
        """An inbox on a pool of its own (:func:`open_pool`)."""
        return cls(await open_pool(url, size), flood_limit)

    async def close(self) -> None:
        """Close the pool's connections."""
        await self._pool.close()

    async def receive(self, inbound: Inbound) -> Received | None:
        """See :func:`bot.conversations.store.receive`: the same rules, through asyncpg."""
        now = utcnow()
        message = core.inbound_row(inbound, 0, now)
        params = {
            **core.touch_params(inbound, now),
            **_prefixed("new_", core.conversation_row(inbound, now)),
            **_prefixed("in_", message),
            **flood.params(self._flood_limit, now),
        }
        async with self._pool.acquire() as db:
            try:
                stored = await _row(db, _RECEIVE, params)
            except asyncpg.UniqueViolationError:
                if inbound.external_id is not None and await _stored(db, inbound):
                    return None
                # Another worker made the conversation at the same moment: this time
                # the UPDATE finds it. A second failure is a real one.
                stored = await _row(db, _RECEIVE, params)
        found = dict(stored)
        message_id, state, before = (
            found.pop(name) for name in ("message_id", "message_state", "message_before")
        )
        return received(found, message, message_id, state, before)

    async def answer(self, answer: Answer) -> tuple[str, list[Outbound]]:
        """See :func:`bot.conversations.store.answer`, in one statement (one round trip).

        Replies that waited for pick-up (rare) are collected by a second statement
        rather than in the same transaction: a crash in between leaves them waiting
        for the customer's next request, as if none had been there.
        """
        now = utcnow()
        rows = answer.rows(now)
        params = answer.answered_params()
        for n, row in enumerate(rows):
            params.update(_prefixed(f"r{n}_", row))
        statement = _answer_with(len(rows))
        async with self._pool.acquire() as db:
            state, waiting, *ids = await db.fetchrow(statement.sql, *statement.args(params))
            picked: list[Any] = []
            if answer.delivered and waiting:
                pick = {"pick_conversation": answer.conversation.id, "picked_at": now}
                picked = [tuple(r) for r in await db.fetch(_PICK_UP.sql, *_PICK_UP.args(pick))]
        found = None if state is None else (state, waiting)
        return answered(answer, rows, found, ids[0] if ids else [], picked)


def _prefixed(prefix: str, row: dict[str, Any]) -> dict[str, Any]:
    return {f"{prefix}{name}": value for name, value in row.items()}


async def _stored(db: Any, inbound: Inbound) -> bool:
    """Whether ``inbound`` was stored before, and if so, that it is on disk.

    Its first delivery may be stored but not yet answered, so not yet flushed (see
    :func:`_receive`), and its sender is about to be told we have it. Locking the row
    (a share lock that blocks nobody) writes WAL, so this transaction's commit waits
    for the disk, which takes the first delivery's commit with it.
    """
    async with db.transaction():
        return await _row(db, _STORED_ON_DISK, core.stored_params(inbound)) is not None


async def _row(db: Any, statement: Prepared, params: dict[str, Any]) -> Any:
    """The first row ``statement`` returns with ``params``, or ``None``."""
    return await db.fetchrow(statement.sql, *statement.args(params))
