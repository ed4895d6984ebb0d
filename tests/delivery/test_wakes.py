"""Wake-ups: a worker that does not deliver passes them on to the primary through Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bot.delivery.wakes import TOPIC, Wakes
from bot.messages import Channel

REDIS_URL = "redis://127.0.0.1:6379/14"


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


async def listening(primary: Wakes, redis: Redis) -> asyncio.Task[None]:
    """The primary's listener, once it is subscribed."""
    task = asyncio.create_task(primary.listen(redis))
    async with asyncio.timeout(5):
        while not (await redis.pubsub_numsub(TOPIC))[0][1]:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    return task


async def test_a_wake_up_in_another_worker_reaches_the_primary(redis: Redis) -> None:
    primary = Wakes()
    other = Wakes(relay_to=redis)
    listener = await listening(primary, redis)
    try:
        other(Channel.TELEGRAM)
        async with asyncio.timeout(2):
            await primary.events[Channel.TELEGRAM].wait()
    finally:
        listener.cancel()

    assert other.events[Channel.TELEGRAM].is_set()  # its own loop, if it has one
    assert not primary.events[Channel.X].is_set()


async def test_the_primary_keeps_its_wake_ups_and_ignores_what_is_not_a_channel(
    redis: Redis,
) -> None:
    primary = Wakes()
    listener = await listening(primary, redis)
    try:
        primary(Channel.X)
        await redis.publish(TOPIC, "fax")
        await redis.publish(TOPIC, Channel.WEB.value)
        async with asyncio.timeout(2):
            await primary.events[Channel.WEB].wait()
        assert not listener.done()
    finally:
        listener.cancel()

    assert primary.events[Channel.X].is_set()
    assert not primary.events[Channel.TELEGRAM].is_set()
