from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bot.conversations.locks import ConversationLocks, LocalLocks, RedisLocks
from tests.scratch import redis_url

REDIS_TEST_URL = redis_url(15)


async def overlap(
    locks: ConversationLocks,
    first: str,
    second: str,
    other: ConversationLocks | None = None,
    pause: float = 0.05,
) -> list[str]:
    """Run two holders (the second on ``other`` locks if given) that each pause inside.

    Returns the order of events.
    """
    events: list[str] = []

    async def work(name: str, holder: ConversationLocks, conversation: str) -> None:
        async with holder.hold(conversation):
            events.append(f"{name} in")
            await asyncio.sleep(pause)
            events.append(f"{name} out")

    await asyncio.gather(work("a", locks, first), work("b", other or locks, second))
    return events


async def test_local_locks_serialise_one_conversation() -> None:
    assert await overlap(LocalLocks(), "web:1", "web:1") == ["a in", "a out", "b in", "b out"]


async def test_local_locks_let_different_conversations_run_together() -> None:
    assert await overlap(LocalLocks(), "web:1", "web:2") == ["a in", "b in", "a out", "b out"]


async def test_local_locks_keep_the_order_messages_arrived_in() -> None:
    locks = LocalLocks()
    order: list[int] = []

    async def work(n: int) -> None:
        async with locks.hold("web:7"):
            await asyncio.sleep(0)
            order.append(n)

    await asyncio.gather(*(work(n) for n in range(10)))

    assert order == list(range(10))


async def test_local_locks_forget_conversations_nobody_holds() -> None:
    locks = LocalLocks()
    await overlap(locks, "x:1", "x:1")
    await overlap(locks, "x:2", "web:2")

    assert locks._locks == {}
    assert locks._users == {}


async def test_local_locks_are_released_when_the_block_raises() -> None:
    locks = LocalLocks()
    with pytest.raises(RuntimeError):
        async with locks.hold("web:1"):
            raise RuntimeError("boom")

    assert locks._locks == {}
    async with asyncio.timeout(1), locks.hold("web:1"):
        pass


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_TEST_URL)
    yield client
    await client.aclose()


def unique_name() -> str:
    """A conversation no other test run uses (another run may share Redis db 15)."""
    return f"telegram:{uuid.uuid4().hex}"


async def test_redis_locks_serialise_one_conversation_across_clients(redis: Redis) -> None:
    conversation = unique_name()
    other = Redis.from_url(REDIS_TEST_URL)
    try:
        events = await overlap(
            RedisLocks(redis, timeout=5),
            conversation,
            conversation,
            other=RedisLocks(other, timeout=5),
            pause=0.1,
        )
    finally:
        await other.aclose()

    assert events in (["a in", "a out", "b in", "b out"], ["b in", "b out", "a in", "a out"])
    assert await redis.exists(f"outage-bot:conversation:{conversation}") == 0


async def test_redis_locks_let_different_conversations_run_together(redis: Redis) -> None:
    events = await overlap(RedisLocks(redis, timeout=5), unique_name(), unique_name())

    assert sorted(events[:2]) == ["a in", "b in"]  # both inside before either left
