"""Waking a channel's delivery loop when replies are queued, in the worker that delivers.

Replies wait in the outbox, and a channel's delivery loop sleeps until it is woken or
until its next look (a second). With ``serve --workers N`` only the primary worker
delivers, while any worker may queue a reply (an agent's answer, a webhook's), so the
other workers pass their wake-ups on through Redis and the primary listens: the reply
leaves at once instead of at the primary's next look.

Redis's publish and subscribe ignore the database number, so the topic names it: two
services sharing one Redis server in different databases never wake each other.
"""

from __future__ import annotations

import asyncio
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.messages import Channel

log = logging.getLogger(__name__)


def topic(redis: Redis) -> str:
    """The wake-up topic of the Redis database ``redis`` is connected to."""
    return f"outage-bot:{redis.connection_pool.connection_kwargs.get('db', 0)}:wake"


class Wakes:
    """One event per channel, set when replies for it are queued."""

    def __init__(self, relay_to: Redis | None = None) -> None:
        """``relay_to``: pass wake-ups on through this Redis (a worker that does not deliver)."""
        self.events = {channel: asyncio.Event() for channel in Channel}
        self._redis = relay_to
        self._relaying: set[asyncio.Task[None]] = set()

    def __call__(self, channel: Channel) -> None:
        """Wake ``channel``'s delivery loop, here and, when relaying, in the primary worker."""
        self.events[channel].set()
        if self._redis is not None:
            task = asyncio.create_task(self._relay(self._redis, channel))
            self._relaying.add(task)
            task.add_done_callback(self._relaying.discard)

    async def _relay(self, redis: Redis, channel: Channel) -> None:
        try:
            await redis.publish(topic(redis), channel.value)
        except RedisError as exc:
            log.warning("a wake-up was not passed on (%s); the reply leaves within a second", exc)

    async def listen(self, redis: Redis) -> None:
        """Set the events for the wake-ups other workers pass on; runs until cancelled."""
        async with redis.pubsub() as pubsub:
            await pubsub.subscribe(topic(redis))
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                try:
                    channel = Channel(bytes(message["data"]).decode())
                except (ValueError, TypeError):
                    continue
                self.events[channel].set()
