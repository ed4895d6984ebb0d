"""The conversation brain is Rasa; this is our side of the line to it.

We speak to Rasa's REST channel with the conversation id as the sender, so Rasa's tracker
(and lock store) is per conversation, and pass the reply variant as message metadata so
the NLG endpoint can choose each sentence's channel variant.

With several Rasa servers each conversation always goes to the same one, chosen from
its id by a hash every worker computes alike: each server keeps the trackers of its own
conversations in memory, so none needs a shared tracker store.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Sequence
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 2.0


class BrainUnavailable(Exception):
    """Rasa did not answer; the message stays unanswered and is retried later."""


def server_for(sender: str, servers: Sequence[str]) -> str:
    """The Rasa server that holds ``sender``'s conversation (stable across processes)."""
    return servers[zlib.crc32(sender.encode()) % len(servers)]


class RasaBrain:
    """A client of Rasa servers' REST channel and health endpoint."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_urls: Sequence[str],
        timeout: float = 30.0,
        retry_after: float = RETRY_AFTER_SECONDS,
    ):
        """``retry_after``: how long a server that could not be reached is not asked again.

        Meanwhile its customers get the holding reply at once rather than after a
        connection timeout each, and their messages wait for the replay.
        """
        if not base_urls:
            raise ValueError("at least one Rasa server is needed")
        self._session = session
        self.base_urls = tuple(url.rstrip("/") for url in base_urls)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._retry_after = retry_after
        self._down_until: dict[str, float] = {}

    async def respond(self, sender: str, text: str, metadata: dict[str, Any]) -> list[str]:
        """Send one customer message and return the bot's texts, in order.

        Raises:
            BrainUnavailable: Rasa is down, timing out or answering with an error.
        """
        server = server_for(sender, self.base_urls)
        if self._down_until.get(server, 0.0) > time.monotonic():
            raise BrainUnavailable("Rasa unreachable a moment ago; not asked again yet")
        payload = {"sender": sender, "message": text, "metadata": metadata}
        try:
            async with self._session.post(
                f"{server}/webhooks/rest/webhook", json=payload, timeout=self._timeout
            ) as response:
                if response.status != 200:
                    raise BrainUnavailable(f"Rasa answered HTTP {response.status}")
                body = await response.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            # Refused or silent, the server is down or hung; a dropped connection is not.
            if isinstance(exc, aiohttp.ClientConnectorError | TimeoutError):
                self._down_until[server] = time.monotonic() + self._retry_after
            raise BrainUnavailable(f"Rasa unreachable: {type(exc).__name__}") from exc
        self._down_until.pop(server, None)
        if not isinstance(body, list):
            raise BrainUnavailable("Rasa answered something that is not a list")
        return [str(item["text"]) for item in body if isinstance(item, dict) and item.get("text")]

    async def health(self) -> str:
        """``ok``, ``down``, or how many of several servers are down (for ``/healthz``).

        With several servers, one down leaves every conversation on the others answered.
        """
        up = await asyncio.gather(*(self._healthy(url) for url in self.base_urls))
        if all(up):
            return "ok"
        if not any(up):
            return "down"
        return f"{up.count(False)} of {len(up)} down"

    async def _healthy(self, base_url: str) -> bool:
        try:
            async with self._session.get(
                f"{base_url}/status", timeout=aiohttp.ClientTimeout(total=3)
            ) as response:
                if response.status != 200:
                    return False
                body = await response.json()
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return False
        return bool(isinstance(body, dict) and body.get("model_file"))
