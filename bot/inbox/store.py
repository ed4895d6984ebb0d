"""Where the router stores each customer message and, later, the bot's answer to it.

These are the two writes every message costs, so they get their own seam: each goes
straight to the database driver (:mod:`bot.inbox.sqlite`, :mod:`bot.inbox.postgres`),
which costs a fraction of the CPU of the engine path
(:func:`bot.conversations.store.receive` and :func:`bot.conversations.store.answer`) they stand in
for. Every inbox keeps the same rules: a redelivered platform message is stored once,
and an answer is queued and its message marked answered in one transaction.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.conversations import store as conversations
from bot.conversations.store import Answer, Received
from bot.inbox.postgres import PostgresInbox
from bot.inbox.sqlite import SqliteInbox
from bot.messages import Inbound, Outbound


class Inbox(Protocol):
    """The router's two writes per message."""

    async def receive(self, inbound: Inbound) -> Received | None:
        """Store ``inbound`` in its conversation; ``None`` when it was stored before.

        Over the flood limit the message is stored ``flooded`` (:mod:`bot.conversations.flood`).
        It is on disk when this returns; any other may reach the disk only with its
        answer's commit (PostgreSQL's inbox does not wait for it), so answer it before
        telling anyone it is stored.
        """
        ...

    async def answer(self, answer: Answer) -> tuple[str, list[Outbound]]:
        """Store ``answer`` (see :func:`bot.conversations.store.answer`)."""
        ...


class EngineInbox:
    """The inbox through SQLAlchemy's engine.

    For in-memory SQLite, which no second connection can open, and as the reference the
    direct inboxes are held to in the tests.
    """

    def __init__(self, engine: AsyncEngine, flood_limit: int = 0) -> None:
        self._engine = engine
        self._flood_limit = flood_limit

    async def receive(self, inbound: Inbound) -> Received | None:
        """See :func:`bot.conversations.store.receive`."""
        return await conversations.receive(self._engine, inbound, self._flood_limit)

    async def answer(self, answer: Answer) -> tuple[str, list[Outbound]]:
        """See :func:`bot.conversations.store.answer`."""
        return await conversations.answer(self._engine, answer)


@contextlib.asynccontextmanager
async def open_inbox(engine: AsyncEngine, flood_limit: int = 0) -> AsyncIterator[Inbox]:
    """The inbox for ``engine``'s database, straight to its driver where we can; closed on exit.

    In-memory SQLite has no file a second connection could open, so it stays on the engine.
    ``flood_limit``: messages a conversation may send a minute (0: no limit).
    """
    url = engine.url
    inbox: SqliteInbox | PostgresInbox
    if engine.dialect.name == "postgresql":
        address = url.render_as_string(hide_password=False)
        inbox = await PostgresInbox.open(address, flood_limit=flood_limit)
    elif url.database and url.database != ":memory:":
        inbox = await SqliteInbox.open(url.database, flood_limit)
    else:
        yield EngineInbox(engine, flood_limit)
        return
    try:
        yield inbox
    finally:
        await inbox.close()
