"""Where the router stores each customer message and, later, the bot's answer to it.

These are the two writes every message costs, so they get their own seam: on SQLite
each is a single call into the driver on a connection of its own
(:mod:`bot.sqlite_inbox`), elsewhere they run through the engine
(:func:`bot.conversations.receive` and :func:`bot.conversations.answer`). Both keep the
same rules: a redelivered platform message is stored once, and an answer is queued and
its message marked answered in one transaction.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from bot import conversations
from bot.conversations import Answer, Received
from bot.messages import Inbound, Outbound
from bot.sqlite_inbox import SqliteInbox


class Inbox(Protocol):
    """The router's two writes per message."""

    async def receive(self, inbound: Inbound) -> Received | None:
        """Store ``inbound`` in its conversation; ``None`` when it was stored before."""
        ...

    async def answer(self, answer: Answer) -> tuple[str, list[Outbound]]:
        """Store ``answer`` (see :func:`bot.conversations.answer`)."""
        ...


class EngineInbox:
    """The inbox through SQLAlchemy's engine (PostgreSQL, and in-memory SQLite)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def receive(self, inbound: Inbound) -> Received | None:
        """See :func:`bot.conversations.receive`."""
        return await conversations.receive(self._engine, inbound)

    async def answer(self, answer: Answer) -> tuple[str, list[Outbound]]:
        """See :func:`bot.conversations.answer`."""
        return await conversations.answer(self._engine, answer)


@contextlib.asynccontextmanager
async def open_inbox(engine: AsyncEngine) -> AsyncIterator[Inbox]:
    """The fastest inbox for ``engine``'s database, closed on exit."""
    database = engine.url.database or ""
    if engine.dialect.name != "sqlite" or database in ("", ":memory:"):
        yield EngineInbox(engine)
        return
    inbox = await SqliteInbox.open(database)
    try:
        yield inbox
    finally:
        await inbox.close()
