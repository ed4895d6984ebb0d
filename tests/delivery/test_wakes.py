"""Wake-ups: a worker that does not deliver passes them on to the primary through Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bot.delivery.wakes import Wakes, topic
from bot.messages import Channel
from tests.scratch import redis_url

REDIS_URL = redis_url(14)


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


async def listening(primary: Wakes, redis: Redis) -> asyncio.Task[None]:
    """The primary's listener, once it is subscribed."""
    task = asyncio.create_task(primary.listen(redis))
    async with asyncio.timeout(5):
        while not (await redis.pubsub_numsub(topic(redis)))[0][1]:  # noqa: ASYNC110
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
        await redis.publish(topic(redis), "fax")
        await redis.publish(topic(redis), Channel.WEB.value)
        async with asyncio.timeout(2):
            await primary.events[Channel.WEB].wait()
        assert not listener.done()
    finally:
        listener.cancel()

    assert primary.events[Channel.X].is_set()
    assert not primary.events[Channel.TELEGRAM].is_set()


async def test_a_service_on_another_redis_database_is_not_woken(redis: Redis) -> None:
    neighbour = Redis.from_url(redis_url(15))  # the same server, another service's database
    primary = Wakes()
    listener = await listening(primary, redis)
    try:
        Wakes(relay_to=neighbour)(Channel.TELEGRAM)
        Wakes(relay_to=redis)(Channel.X)
        async with asyncio.timeout(2):
            await primary.events[Channel.X].wait()
    finally:
        listener.cancel()
        await neighbour.aclose()

    assert not primary.events[Channel.TELEGRAM].is_set()
