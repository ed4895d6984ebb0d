"""Which Rasa servers are out of rotation (being reloaded), as every worker sees it.

One process keeps the set in memory. Several workers (``REDIS_URL``) share it in Redis:
the worker running a rolling reload takes a server out there, and every worker's brain
reads the set back on each health check, so within a check interval nobody sends it
new messages. Each entry expires on its own, so a reload that dies half-way cannot keep
a server out of rotation for ever.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from redis.asyncio import Redis

OUT_FOR_AT_MOST = 600
"""Seconds a server stays out of rotation unless it is put back before."""


class Rotation(Protocol):
    """Where the servers out of rotation are recorded."""

    async def out(self, servers: Sequence[str]) -> set[str]:
        """Those of ``servers`` that are out of rotation now."""
        ...

    async def take_out(self, server: str) -> None:
        """Take ``server`` out of rotation (for at most :data:`OUT_FOR_AT_MOST` s)."""
        ...

    async def put_back(self, server: str) -> None:
        """Put ``server`` back in rotation."""
        ...


class LocalRotation:
    """The rotation of a single process."""

    def __init__(self) -> None:
        self._out: set[str] = set()

    async def out(self, servers: Sequence[str]) -> set[str]:
        """See :meth:`Rotation.out`."""
        return self._out & set(servers)

    async def take_out(self, server: str) -> None:
        """See :meth:`Rotation.take_out`."""
        self._out.add(server)

    async def put_back(self, server: str) -> None:
        """See :meth:`Rotation.put_back`."""
        self._out.discard(server)


class RedisRotation:
    """The rotation every worker shares through Redis: one expiring key per server out."""

    PREFIX = "outage-bot:rasa:out:"

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def out(self, servers: Sequence[str]) -> set[str]:
        """See :meth:`Rotation.out`."""
        if not servers:
            return set()
        flags = await self._redis.mget([self.PREFIX + server for server in servers])
        return {server for server, flag in zip(servers, flags, strict=True) if flag}

    async def take_out(self, server: str) -> None:
        """See :meth:`Rotation.take_out`."""
        await self._redis.set(self.PREFIX + server, "1", ex=OUT_FOR_AT_MOST)

    async def put_back(self, server: str) -> None:
        """See :meth:`Rotation.put_back`."""
        await self._redis.delete(self.PREFIX + server)
