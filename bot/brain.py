"""The conversation brain is Rasa; this is our side of the line to it.

We speak to Rasa's REST channel with the conversation id as the sender, so Rasa's tracker
(and lock store) is per conversation, and pass the reply variant as message metadata so
the NLG endpoint can choose each sentence's channel variant.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp

log = logging.getLogger(__name__)


class BrainUnavailable(Exception):
    """Rasa did not answer; the message stays unanswered and is retried later."""


class RasaBrain:
    """A client of one Rasa server's REST channel and health endpoint."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, timeout: float = 30.0):
        self._session = session
        self.base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def respond(self, sender: str, text: str, metadata: dict[str, Any]) -> list[str]:
        """Send one customer message and return the bot's texts, in order.

        Raises:
            BrainUnavailable: Rasa is down, timing out or answering with an error.
        """
        payload = {"sender": sender, "message": text, "metadata": metadata}
        try:
            async with self._session.post(
                f"{self.base_url}/webhooks/rest/webhook", json=payload, timeout=self._timeout
            ) as response:
                if response.status != 200:
                    raise BrainUnavailable(f"Rasa answered HTTP {response.status}")
                body = await response.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise BrainUnavailable(f"Rasa unreachable: {type(exc).__name__}") from exc
        if not isinstance(body, list):
            raise BrainUnavailable("Rasa answered something that is not a list")
        return [str(item["text"]) for item in body if isinstance(item, dict) and item.get("text")]

    async def healthy(self) -> bool:
        """Whether Rasa is up with a model loaded."""
        try:
            async with self._session.get(
                f"{self.base_url}/status", timeout=aiohttp.ClientTimeout(total=3)
            ) as response:
                if response.status != 200:
                    return False
                body = await response.json()
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return False
        return bool(isinstance(body, dict) and body.get("model_file"))
