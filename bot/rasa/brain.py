"""The conversation brain is Rasa; this is our side of the line to it.

We speak to Rasa's REST channel with the conversation id as the sender, so Rasa's tracker
(and lock store) is per conversation, and pass the reply variant as message metadata so
the NLG endpoint can choose each sentence's channel variant.

With several Rasa servers each conversation has its own order of them (rendezvous
hashing, the same in every worker) and goes to the first that is up and in rotation.
Adding a server moves only the conversations that now rank it first, about 1/n of
them. Where the servers share their trackers (Redis, when ``REDIS_URL`` is set) a
message for a server that is down or being reloaded goes at once to the next in its
order, context and all. Where each keeps its own in memory (the embedded default) a
conversation stays on its first server: a message waits while that server reloads its
model, and gets the holding reply while it is down (answered when it is back).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Sequence
from typing import Any

import aiohttp

from bot.rasa.rotation import LocalRotation, Rotation
from bot.settings import Secret
from bot.telemetry import Telemetry

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 2.0
CHECK_EVERY_SECONDS = 1.0


class BrainUnavailable(Exception):
    """Rasa did not answer; the message stays unanswered and is retried later."""


class ServerGone(BrainUnavailable):
    """The server refused or dropped the connection: it did not keep the message."""


def rendezvous(sender: str, servers: Sequence[str]) -> list[str]:
    """``servers`` in ``sender``'s order of preference (the same in every process).

    Each server's weight for a conversation is a hash of both; the heaviest comes first.
    A new server takes only the conversations it outweighs everyone for, and one that
    goes leaves its conversations to their second choices, spread over the rest.
    """
    return sorted(servers, key=lambda server: _weight(sender, server), reverse=True)


def _weight(sender: str, server: str) -> bytes:
    return hashlib.blake2b(f"{server}\n{sender}".encode(), digest_size=8).digest()


def server_for(sender: str, servers: Sequence[str]) -> str:
    """The Rasa server that holds ``sender``'s conversation while all are up."""
    return rendezvous(sender, servers)[0]


class RasaBrain:
    """A client of Rasa servers' REST channel, with health checks and failover."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_urls: Sequence[str],
        timeout: float = 30.0,
        retry_after: float = RETRY_AFTER_SECONDS,
        *,
        shared: bool = False,
        rotation: Rotation | None = None,
        telemetry: Telemetry | None = None,
        token: Secret | None = None,
    ):
        """A brain for ``base_urls``.

        Args:
        session: the app's HTTP client.
        base_urls: the Rasa servers.
        timeout: how long one message may take.
        retry_after: how long a server that could not be reached is not asked again
            (unless a health check finds it back first). Meanwhile its customers are
            answered elsewhere, or get the holding reply at once, rather than after a
            connection timeout each.
        shared: whether the servers share their trackers (Redis), so that any of them
            can answer any conversation.
        rotation: where servers taken out of rotation are recorded.
        telemetry: where each answer's time is recorded (``/metrics``).
        token: the token of the servers' HTTP API (``--auth-token``), for the health
            checks and model updates; the REST channel customers' messages go to needs none.
        """
        if not base_urls:
            raise ValueError("at least one Rasa server is needed")
        self._session = session
        self.base_urls = tuple(url.rstrip("/") for url in base_urls)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._retry_after = retry_after
        self._down_until: dict[str, float] = {}
        self.shared = shared
        self.api_params = {"token": token.reveal()} if token else {}
        self.rotation: Rotation = rotation or LocalRotation()
        self._out: set[str] = set()
        self._rotation_changed = asyncio.Condition()
        self._telemetry = telemetry

    async def respond(self, sender: str, text: str, metadata: dict[str, Any]) -> list[str]:
        """Send one customer message and return the bot's texts, in order.

        Raises:
            BrainUnavailable: no Rasa server that may answer this conversation did.
        """
        payload = {"sender": sender, "message": text, "metadata": metadata}
        order = rendezvous(sender, self.base_urls)
        if not self.shared:
            await self._in_rotation(order[0])
            return await self._post(order[0], payload)
        now = time.monotonic()
        up = [server for server in order if self._down_until.get(server, 0.0) <= now]
        # Out of rotation still answers (after its reload): better late than not at all.
        candidates = [s for s in up if s not in self._out] + [s for s in up if s in self._out]
        if not candidates:
            raise BrainUnavailable("every Rasa server was unreachable a moment ago")
        for server in candidates:
            try:
                return await self._post(server, payload)
            except ServerGone as gone:
                if server == candidates[-1]:
                    raise
                log.warning("%s is gone (%s); trying the next server", server, gone)
        raise AssertionError("unreachable")  # the loop returns or raises

    async def _in_rotation(self, server: str) -> None:
        """Wait while ``server`` reloads its model: its conversations are only there."""
        if server not in self._out:
            return
        async with self._rotation_changed:
            with contextlib.suppress(TimeoutError):  # then try it anyway
                await asyncio.wait_for(
                    self._rotation_changed.wait_for(lambda: server not in self._out),
                    self._timeout.total,
                )

    async def _post(self, server: str, payload: dict[str, Any]) -> list[str]:
        if self._down_until.get(server, 0.0) > time.monotonic():
            raise BrainUnavailable("Rasa unreachable a moment ago; not asked again yet")
        started = time.perf_counter()
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
            reason = f"Rasa unreachable: {type(exc).__name__}"
            if isinstance(exc, aiohttp.ClientConnectionError) and not isinstance(
                exc, aiohttp.ServerTimeoutError
            ):
                raise ServerGone(reason) from exc
            raise BrainUnavailable(reason) from exc
        self._down_until.pop(server, None)
        if self._telemetry is not None:
            self._telemetry.rasa_answered(time.perf_counter() - started)
        if not isinstance(body, list):
            raise BrainUnavailable("Rasa answered something that is not a list")
        return [str(item["text"]) for item in body if isinstance(item, dict) and item.get("text")]

    async def take_out(self, server: str) -> None:
        """Send ``server`` no new messages (every worker, within a health check)."""
        await self.rotation.take_out(server)
        await self._rotated(self._out | {server})

    async def put_back(self, server: str) -> None:
        """Send ``server`` its conversations again."""
        await self.rotation.put_back(server)
        await self._rotated(self._out - {server})

    async def _rotated(self, out: set[str]) -> None:
        async with self._rotation_changed:
            self._out = out
            self._rotation_changed.notify_all()

    async def watch(self, every: float = CHECK_EVERY_SECONDS) -> None:
        """Check every server's health and the rotation every ``every`` s, until cancelled.

        A server found down is skipped until a check finds it back, and one found back
        is asked again at once, whatever a failed message concluded meanwhile.
        """
        while True:
            try:
                await self.check()
            except Exception:
                log.exception("Rasa health check failed; will retry")
            await asyncio.sleep(every)

    async def check(self) -> None:
        """One health check of every server, and the rotation read back."""
        await self._probe()
        await self._rotated(await self.rotation.out(self.base_urls))

    async def _probe(self) -> list[bool]:
        """Ask every server whether it is up, and route by what they said.

        ``/healthz`` probes too, so what it reports is what the next message sees.
        """
        up = await asyncio.gather(*(self._healthy(url) for url in self.base_urls))
        for server, healthy in zip(self.base_urls, up, strict=True):
            if healthy:
                self._down_until.pop(server, None)
            else:
                self._down_until[server] = time.monotonic() + self._retry_after
        return up

    async def health(self) -> str:
        """``ok``, ``down``, or how many of several servers are down (for ``/healthz``).

        With several servers, one down leaves every conversation on the others answered.
        """
        up = await self._probe()
        if all(up):
            return "ok"
        if not any(up):
            return "down"
        return f"{up.count(False)} of {len(up)} down"

    async def _healthy(self, base_url: str) -> bool:
        try:
            async with self._session.get(
                f"{base_url}/status",
                params=self.api_params,
                timeout=aiohttp.ClientTimeout(total=3),
            ) as response:
                if response.status != 200:
                    return False
                body = await response.json()
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return False
        return bool(isinstance(body, dict) and body.get("model_file"))
