"""The PostgreSQL inbox's own promise about the disk (the rows it writes: test_inbox).

Storing a message commits without waiting for the WAL flush; storing its answer waits,
and that flush carries the message too. A flooded message, which most often gets no
answer, waits when it is stored. Both are read from PostgreSQL's own counters of
WAL flushes, on an inbox of one connection.

The counter is the server's, and other test processes commit beside us: their flushes
add to it, and one of theirs can carry our commit record to the disk first, leaving
ours nothing to do, while they report their counts up to a second later. So each test
plays rounds of forty relaxed commits then forty that must wait, until a round where
the relaxed forty flushed under a quarter of their count and the waiting forty over
three quarters: noise only delays such a round, and cannot make one when the promise
is broken (that would take thirty flushes of others reported in the few milliseconds
after a quiet window).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from bot.conversations import flood
from bot.conversations import statements as core
from bot.conversations.store import Answer, Received
from bot.db import migrate
from bot.inbox.postgres import _RECEIVE as RECEIVE
from bot.inbox.postgres import PostgresInbox, open_pool
from bot.messages import Channel, Inbound, Variant
from bot.models import MessageState, utcnow
from tests.scratch import POSTGRES_ADMIN, recreate_database

MESSAGES = 40
ROUNDS = 10

Work = Callable[[int], Awaitable[None]]


@pytest.fixture
async def pool() -> AsyncIterator[asyncpg.Pool]:
    """The inbox's pool, of one connection, on a migrated database of this test's own."""
    name = f"outage_bot_flush_{os.getpid()}"
    await recreate_database(name)
    url = f"{POSTGRES_ADMIN.rsplit('/', 1)[0]}/{name}"
    await migrate(url)
    pool = await open_pool(url, size=1)
    yield pool
    await pool.close()
    await recreate_database(name, drop_only=True)


async def flushes(pool: asyncpg.Pool) -> int:
    """WAL flushes so far, with this connection's own counted up to now.

    A backend hands its counts over when it goes idle, at most once a second unless
    asked; asked, it does so before it answers.
    """
    await pool.execute("SELECT pg_stat_force_next_flush()")
    return int(await pool.fetchval("SELECT wal_sync FROM pg_stat_wal"))


async def receive(inbox: PostgresInbox, n: int) -> Received:
    received = await inbox.receive(Inbound(Channel.WEB, f"customer-{n}", "broadband down?"))
    assert received is not None
    return received


def clear(relaxed: int, durable: int) -> bool:
    """A round that tells the two kinds of commit apart, whatever else the server did."""
    return relaxed < MESSAGES // 4 and durable >= MESSAGES - MESSAGES // 4


async def rounds(pool: asyncpg.Pool, relaxed: Work, durable: Work) -> list[tuple[int, int]]:
    """Each round's flushes during its relaxed and its waiting commits, up to a clear one."""
    counts: list[tuple[int, int]] = []
    for round_ in range(ROUNDS):
        before = await flushes(pool)
        await relaxed(round_)
        middle = await flushes(pool)
        await durable(round_)
        counts.append((middle - before, await flushes(pool) - middle))
        if clear(*counts[-1]):
            break
    return counts


async def test_storing_a_message_does_not_wait_for_the_disk_but_its_answer_does(
    pool: asyncpg.Pool,
) -> None:
    inbox = PostgresInbox(pool)
    stored: list[Received] = []

    async def store(round_: int) -> None:
        stored[:] = [await receive(inbox, round_ * MESSAGES + n) for n in range(MESSAGES)]

    async def answer(round_: int) -> None:
        for received in stored:
            message_id = received.message.id or 0
            await inbox.answer(Answer(received.conversation, message_id, ["sorry"], Variant.WEB))

    counts = await rounds(pool, store, answer)

    assert clear(*counts[-1]), counts


async def test_a_flooded_message_is_on_disk_when_stored(pool: asyncpg.Pool) -> None:
    """Most flooded messages get no answer, whose commit would take them to the disk."""
    inbox = PostgresInbox(pool, flood_limit=1)
    first = await inbox.receive(Inbound(Channel.WEB, "customer", "broadband down?"))
    assert first is not None and first.message.state == MessageState.RECEIVED
    states: set[MessageState] = set()

    async def store_first_messages(round_: int) -> None:
        for n in range(MESSAGES):
            states.add((await receive(inbox, round_ * MESSAGES + n)).message.state)

    async def flood(round_: int) -> None:
        for n in range(MESSAGES):
            received = await inbox.receive(Inbound(Channel.WEB, "customer", f"hello? {n}"))
            assert received is not None and received.message.state == MessageState.FLOODED

    counts = await rounds(pool, store_first_messages, flood)

    assert states == {MessageState.RECEIVED}
    assert clear(*counts[-1]), counts


async def test_a_redelivered_message_is_on_disk_before_it_is_called_a_duplicate(
    pool: asyncpg.Pool,
) -> None:
    inbox = PostgresInbox(pool)
    update = Inbound(Channel.TELEGRAM, "42", "broadband down?", external_id="42:1")
    assert await inbox.receive(update) is not None  # and, say, the answer failed

    before = await flushes(pool)
    assert await inbox.receive(update) is None

    assert await flushes(pool) > before


async def test_the_relaxed_commit_does_not_outlive_its_transaction(pool: asyncpg.Pool) -> None:
    await receive(PostgresInbox(pool), 0)

    assert await pool.fetchval("SHOW synchronous_commit") == "on"


async def test_the_flood_count_reads_the_conversations_own_index_entries(
    pool: asyncpg.Pool,
) -> None:
    """Not every message of the last minute: the count must be correlated to the conversation."""
    inbound = Inbound(Channel.WEB, "customer", "broadband down?")
    now = utcnow()
    params = {
        **core.touch_params(inbound, now),
        **{f"new_{k}": v for k, v in core.conversation_row(inbound, now).items()},
        **{f"in_{k}": v for k, v in core.inbound_row(inbound, 0, now).items()},
        **flood.params(20, now),
    }
    async with pool.acquire() as db, db.transaction():
        await db.execute("SET LOCAL enable_seqscan = off")
        await db.execute("SET LOCAL enable_bitmapscan = off")
        plan = [row[0] for row in await db.fetch("EXPLAIN " + RECEIVE.sql, *RECEIVE.args(params))]

    reads = [line for line in plan if " on message" in line and "Insert on" not in line]
    assert len(reads) == 2, plan  # the limit-th latest message's time, the latest's state
    assert all("ix_message_conversation_recent" in line for line in reads), plan
