"""Per-conversation locks, so one customer's messages are answered one at a time, in order.

One process needs only asyncio locks; several workers share Redis locks (``REDIS_URL``).
A lock is named after the customer (channel and platform user id) rather than the
conversation's database id, so it can be taken before the message is stored: whatever
the store then reads is already read under the lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

from redis.asyncio import Redis


class ConversationLocks(Protocol):
    """Something that serialises work on one conversation."""

    def hold(self, name: str) -> AbstractAsyncContextManager[None]:
        """Hold the conversation's lock for the duration of the ``async with`` block."""
        ...


class LocalLocks:
    """Locks for a single process; entries vanish when nobody holds or waits for them."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[None]:
        """Hold the conversation's lock."""
        lock = self._locks.setdefault(name, asyncio.Lock())
        self._users[name] = self._users.get(name, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[name] -= 1
            if not self._users[name]:
                del self._users[name]
                del self._locks[name]


class RedisLocks:
    """Locks shared by every worker through Redis.

    The timeout frees a lock whose holder died; it is longer than any Rasa round trip.
    """

    def __init__(self, redis: Redis, timeout: float = 60.0) -> None:
        self._redis = redis
        self._timeout = timeout

    @asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[None]:
        """Hold the conversation's lock."""
        lock = self._redis.lock(
            f"outage-bot:conversation:{name}",
            timeout=self._timeout,
            blocking_timeout=self._timeout,
        )
        async with lock:
            yield
