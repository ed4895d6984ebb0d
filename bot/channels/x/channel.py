"""The X (Twitter) channel: polls mentions and DMs into the router, delivers the outbox.

This module wires the parts together and owns their lifetime: the tweepy client, the
support account, and three tasks. Inbound, two polling loops (:mod:`bot.channels.x.polling`)
read mentions and DM events past their cursors (:mod:`bot.channels.x.cursor`). Outbound,
after the replies a crash left in ``sending`` are settled by looking on X
(:mod:`bot.channels.x.in_doubt`), ``deliver_forever`` claims X replies from the outbox and
posts them (:mod:`bot.channels.x.sending`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.x import api, in_doubt, polling
from bot.channels.x.api import Account, build_client, failure
from bot.channels.x.sending import Sender
from bot.delivery.backoff import X_API, Backoff
from bot.delivery.outbox import Outbox, deliver_forever
from bot.messages import Channel, Outbound, Renderer, Router
from bot.settings import Settings

log = logging.getLogger(__name__)


class XChannel:
    """The X adapter for one support account.

    Args:
        settings: ``X_*`` credentials, ``X_API_URL`` and ``X_POLL_SECONDS``.
        router: receives every new mention and DM.
        outbox: the persisted replies to deliver.
        engine: where the polling cursors are kept.
        responses: renders ``utter_dm_invite``; a built-in sentence is used without it.
        wake: set by the router when X replies are queued (the app's event for X).
        session: an aiohttp session to reuse; one is created (and closed) otherwise.
        backoff: how long to wait after X failed without saying how long (polling, sending).
        outbox_poll_seconds: how often replies whose retry came due are looked for.
    """

    def __init__(
        self,
        settings: Settings,
        router: Router,
        outbox: Outbox,
        engine: AsyncEngine,
        responses: Renderer | None = None,
        wake: asyncio.Event | None = None,
        session: aiohttp.ClientSession | None = None,
        backoff: Backoff = X_API,
        outbox_poll_seconds: float = 1.0,
    ) -> None:
        self._settings = settings
        self._router = router
        self._outbox = outbox
        self._engine = engine
        self.wake = wake or asyncio.Event()
        self._session = session
        self._own_session = session is None
        self._client: Any = None
        self._account: Account | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._problems: dict[str, str] = {}  # polling loop -> last failure, while failing
        self._backoff = backoff
        self._outbox_poll = outbox_poll_seconds
        self._sender = Sender(lambda: self.client, self.account, responses, backoff)

    @property
    def client(self) -> Any:
        """The tweepy ``AsyncClient`` (built on first use)."""
        if self._client is None:
            if self._session is None:
                self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
            self._client = build_client(self._settings, self._session)
        return self._client

    async def start(self) -> None:
        """Start polling mentions and DMs, and delivering X replies from the outbox."""
        seconds = self._settings.x_poll_seconds
        self._tasks = [
            asyncio.create_task(
                polling.poll_forever(
                    self.poll_mentions, "mentions", self._problems, seconds, self._backoff
                ),
                name="x-mentions",
            ),
            asyncio.create_task(
                polling.poll_forever(self.poll_dms, "dms", self._problems, seconds, self._backoff),
                name="x-dms",
            ),
            asyncio.create_task(self._deliver(), name="x-delivery"),
        ]

    async def stop(self) -> None:
        """Stop every loop; replies being sent stay in the outbox for the next start."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session, self._client = None, None

    async def account(self) -> Account:
        """Return the support account (``GET /2/users/me``), asked once."""
        if self._account is None:
            self._account = await api.account(self.client)
        return self._account

    def health(self) -> str:
        """``ok``, or what the polling loops are failing with (for ``GET /healthz``)."""
        if not self._problems:
            return "ok"
        return "; ".join(f"{name}: {reason}" for name, reason in sorted(self._problems.items()))

    async def poll_mentions(self) -> int:
        """Read new mentions and hand them to the router; returns how many were new."""
        return await polling.poll_mentions(
            self.client, await self.account(), self._router, self._engine
        )

    async def poll_dms(self) -> int:
        """Read new DMs sent to the account and hand them to the router."""
        return await polling.poll_dms(
            self.client, await self.account(), self._router, self._engine
        )

    def public_parts(self, outbound: Outbound) -> list[str]:
        """The tweets a public reply becomes: redacted, DM invite if needed, threaded."""
        return self._sender.public_parts(outbound)

    async def send(self, outbound: Outbound) -> str | None:
        """Deliver one outbox reply (see :meth:`bot.channels.x.sending.Sender.send`)."""
        return await self._sender.send(outbound)

    async def settle_in_doubt(self) -> tuple[int, int]:
        """Decide every reply a crash left in ``sending``: found on X -> sent, else resend."""
        return await in_doubt.settle_in_doubt(
            self._outbox,
            self.client,
            self.account,
            self._sender.parts,
            self._sender.progress,
        )

    async def _deliver(self) -> None:
        failures = 0
        while True:
            try:
                await self.settle_in_doubt()
                break
            except Exception as exc:
                failures += 1
                delay = self._backoff.delay(failures)
                found = failure(exc, delay)
                delay = found.wait_seconds if found and found.wait_seconds else delay
                log.warning("checking X replies in doubt failed; retrying in %.0f s", delay)
                await asyncio.sleep(delay)
        await deliver_forever(self._outbox, Channel.X, self.send, self.wake, self._outbox_poll)
