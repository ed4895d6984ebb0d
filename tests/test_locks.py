from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bot.locks import ConversationLocks, LocalLocks, RedisLocks

REDIS_TEST_URL = "redis://127.0.0.1:6379/15"


async def overlap(
    locks: ConversationLocks,
    first: int,
    second: int,
    other: ConversationLocks | None = None,
    pause: float = 0.05,
) -> list[str]:
    """Run two holders (the second on ``other`` locks if given) that each pause inside.

    Returns the order of events.
    """
    events: list[str] = []

    async def work(name: str, holder: ConversationLocks, conversation_id: int) -> None:
        async with holder.hold(conversation_id):
            events.append(f"{name} in")
            await asyncio.sleep(pause)
            events.append(f"{name} out")

    await asyncio.gather(work("a", locks, first), work("b", other or locks, second))
    return events


async def test_local_locks_serialise_one_conversation() -> None:
    assert await overlap(LocalLocks(), 1, 1) == ["a in", "a out", "b in", "b out"]


async def test_local_locks_let_different_conversations_run_together() -> None:
    assert await overlap(LocalLocks(), 1, 2) == ["a in", "b in", "a out", "b out"]


async def test_local_locks_keep_the_order_messages_arrived_in() -> None:
    locks = LocalLocks()
    order: list[int] = []

    async def work(n: int) -> None:
        async with locks.hold(7):
            await asyncio.sleep(0)
            order.append(n)

    await asyncio.gather(*(work(n) for n in range(10)))

    assert order == list(range(10))


async def test_local_locks_forget_conversations_nobody_holds() -> None:
    locks = LocalLocks()
    await overlap(locks, 1, 1)
    await overlap(locks, 2, 3)

    assert locks._locks == {}
    assert locks._users == {}


async def test_local_locks_are_released_when_the_block_raises() -> None:
    locks = LocalLocks()
    with pytest.raises(RuntimeError):
        async with locks.hold(1):
            raise RuntimeError("boom")

    assert locks._locks == {}
    async with asyncio.timeout(1), locks.hold(1):
        pass


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_TEST_URL)
    yield client
    await client.aclose()


def unique_id() -> int:
    """A conversation id no other test run uses (another run may share Redis db 15)."""
    return uuid.uuid4().int % 10**15


async def test_redis_locks_serialise_one_conversation_across_clients(redis: Redis) -> None:
    conversation_id = unique_id()
    other = Redis.from_url(REDIS_TEST_URL)
    try:
        events = await overlap(
            RedisLocks(redis, timeout=5),
            conversation_id,
            conversation_id,
            other=RedisLocks(other, timeout=5),
            pause=0.1,
        )
    finally:
        await other.aclose()

    assert events in (["a in", "a out", "b in", "b out"], ["b in", "b out", "a in", "a out"])
    assert await redis.exists(f"outage-bot:conversation:{conversation_id}") == 0


async def test_redis_locks_let_different_conversations_run_together(redis: Redis) -> None:
    first = unique_id()

    events = await overlap(RedisLocks(redis, timeout=5), first, first + 1)

    assert sorted(events[:2]) == ["a in", "b in"]  # both inside before either left
