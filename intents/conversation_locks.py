"""Rasa's Redis lock store, each lock two round trips to Redis instead of seven.

Scaled out, Rasa's lock store is what keeps two Rasa processes from working on one
conversation at once (a message that failed over while the first server still had it).
Rasa's own ``RedisLockStore`` keeps a queue of tickets per conversation as JSON, read and
written back at each step: seven round trips and four JSON round trips per message, 10 ms
of each message on our 2-core machines under load, which cost the Redis set-up about a
tenth of Rasa's throughput. Here a lock is one ``SET NX`` with the same lifetime (a
process that dies holding it frees it when it expires) and one compare-and-delete. What
is given up is the queue's order among waiters, which we never have: our app sends a
conversation's messages to Rasa one at a time, in order (``bot.conversations.locks``).

Configured in the endpoints file (``type: conversation_locks.SharedLockStore``, with
the Redis connection as for Rasa's ``redis`` type); this folder is on Rasa's path.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from rasa.core.lock_store import LOCK_LIFETIME, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
"""Delete the lock only if it is still ours (it may have expired and been taken since)."""


class SharedLockStore(RedisLockStore):
    """Rasa's ``RedisLockStore`` with a lock of one ``SET NX`` and one compare-and-delete."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        """From the endpoints file, as Rasa builds a lock store of its own ``type``."""
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url, **endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = 1,
    ) -> AsyncIterator[None]:
        """Hold the conversation's lock for the ``async with`` block.

        Waits while another process holds it, looking again after 5 ms, doubling up to
        ``wait_time_in_seconds`` (Rasa's fixed wait, 1 s, would add up to a second to a
        message that merely followed another).
        """
        key = f"{self.key_prefix}{conversation_id}"
        token = uuid.uuid4().hex
        wait = 0.005
        while not self.red.set(key, token, nx=True, px=int(lock_lifetime * 1000)):
            await asyncio.sleep(wait)
            wait = min(wait * 2, wait_time_in_seconds)
        try:
            yield
        finally:
            self.red.eval(RELEASE, 1, key, token)
