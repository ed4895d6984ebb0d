"""The Telegram channel: python-telegram-bot in, the persisted outbox out.

Inbound, exactly once. Every update is handed to the router (which stores it first,
unique per ``chat_id:message_id``) *before* Telegram is told we have it:

- Long polling (the default) is our own loop around ``Bot.get_updates`` rather than
  PTB's ``Updater``, because the Updater confirms a batch (by asking for the next offset)
  as soon as it has queued it in memory, so a crash before the router stored it would
  lose the customer's message. Here the offset moves past a batch only once every update
  in it was stored; after a crash Telegram sends the batch again and the router drops
  what it already has. Different chats in a batch are processed concurrently, one chat's
  messages in order.
- In webhook mode (``TELEGRAM_WEBHOOK_URL``) Telegram posts to our aiohttp app, which
  answers 200 only once the router has stored the update
  (:mod:`bot.channels.telegram.webhook`).

What each kind of message becomes (text, commands, locations, media, group mentions)
is in :mod:`bot.channels.telegram.updates`.

Outbound, from the outbox (as :func:`bot.delivery.outbox.deliver_forever` does): one
reply at a time through :mod:`bot.channels.telegram.sending`.

A crash between "Telegram accepted the reply" and "the outbox marked it sent" leaves
the row in ``sending``. Telegram has no idempotency key and a bot cannot read back its
chat history, so it cannot be checked. We **resend** such replies at start-up
(at-least-once): a customer who sees an outage answer twice is mildly annoyed, while
one whose answer (or hand-off notice) silently vanished waits for something that never
comes. The window is one HTTP response plus one database commit wide.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.error import (
    Conflict,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.ext import (
    AIORateLimiter,
    Application,
    BaseRateLimiter,
)

from bot.channels.telegram.sending import Sender, retry_after_seconds
from bot.channels.telegram.updates import CannedRouter, UpdateHandlers
from bot.channels.telegram.webhook import receive, webhook_secret
from bot.delivery.backoff import TELEGRAM, Backoff
from bot.delivery.outbox import Outbox, deliver_once
from bot.locations.nearest_town import NearestTown
from bot.messages import Channel, Outbound, Router
from bot.settings import Settings, SettingsError

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message"]
"""The only update type we ask for: edits, channel posts and callbacks are not customers."""


def file_url_for(api_url: str) -> str:
    """Return the file download base matching a Bot API base (``.../bot`` -> ``.../file/bot``)."""
    base = api_url.rstrip("/")
    if base.endswith("/bot"):
        return base[: -len("bot")] + "file/bot"
    return base + "/file/bot"


class TelegramChannel:
    """Connects one Telegram bot to the router and the outbox.

    Args:
        settings: needs ``telegram_bot_token``, ``telegram_api_url`` and, for webhook
            mode, ``telegram_webhook_url`` and ``telegram_webhook_secret``.
        router: the conversation router (stores, answers and queues replies).
        outbox: the persisted outbox this channel delivers from.
        canned: answers stickers, photos and the like with a canned response.
        wake: set by the router when it queues Telegram replies.
        towns: resolves a shared location to a town; ``None`` answers locations with
            ``utter_location_not_found``.
        rate_limiter: PTB rate limiter; default ``AIORateLimiter(max_retries=max_retries)``
            (Telegram's limits: 30 messages/s overall, 20/min per group).
        max_retries: how many 429s the rate limiter waits out before the outbox takes over.
        poll_timeout: long-polling timeout in seconds.
        concurrency: how many updates (of different chats) are processed at once.
        drain_seconds: how long :meth:`stop` lets the reply in hand finish.
        outbox_poll_seconds: how often retries that came due are looked for.
        backoff: how long to wait after Telegram failed (connecting, polling, storing).

    Raises:
        SettingsError: the token is missing, or webhook mode lacks a valid secret.
    """

    def __init__(
        self,
        settings: Settings,
        router: Router,
        outbox: Outbox,
        canned: CannedRouter,
        *,
        wake: asyncio.Event | None = None,
        towns: NearestTown | None = None,
        rate_limiter: BaseRateLimiter[Any] | None = None,
        max_retries: int = 2,
        poll_timeout: float = 30.0,
        concurrency: int = 16,
        drain_seconds: float = 10.0,
        outbox_poll_seconds: float = 1.0,
        backoff: Backoff = TELEGRAM,
    ) -> None:
        if settings.telegram_bot_token is None:
            raise SettingsError("TELEGRAM_BOT_TOKEN is not set")
        self.webhook_url = settings.telegram_webhook_url
        self._secret = webhook_secret(settings)
        self._outbox = outbox
        self._handlers = UpdateHandlers(router, canned, towns)
        self.wake = wake if wake is not None else asyncio.Event()
        self._poll_timeout = poll_timeout
        self._limit = asyncio.Semaphore(concurrency)
        self.application = (
            Application.builder()
            .token(settings.telegram_bot_token.reveal())
            .base_url(settings.telegram_api_url)
            .base_file_url(file_url_for(settings.telegram_api_url))
            .updater(None)
            .rate_limiter(rate_limiter or AIORateLimiter(max_retries=max_retries))
            .build()
        )
        self._handlers.install(self.application)
        self.ready = asyncio.Event()
        self.last_error = ""
        self._connecting: asyncio.Task[None] | None = None
        self._delivery: asyncio.Task[None] | None = None
        self._cancellable = False
        self._gave_up = False
        self._sender = Sender(self.application.bot)
        self._offset = 0
        self._stopping = asyncio.Event()
        self._poll_task: asyncio.Task[None] | None = None
        self._drain = drain_seconds
        self._outbox_poll = outbox_poll_seconds
        self._backoff = backoff

    @property
    def mode(self) -> str:
        """``webhook`` or ``polling``."""
        return "webhook" if self.webhook_url else "polling"

    def health(self) -> str:
        """Return this channel's status for ``/healthz``: ``ok`` or what is wrong."""
        if self.ready.is_set():
            return "ok"
        if self._gave_up:
            return f"down: {self.last_error}"
        return f"connecting: {self.last_error}" if self.last_error else "connecting"

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self, *, deliver: bool = True) -> None:
        """Connect in the background: start polling (or set the webhook) and delivery.

        Returns at once; :attr:`ready` is set when Telegram has answered. A Telegram
        outage at start-up is retried rather than stopping the whole service.

        ``deliver=False`` is for the other workers of ``serve --workers N`` in webhook
        mode: the workers share the port, so Telegram's posts reach any of them, and
        each stores and answers what reaches it, while the primary worker alone sets
        the webhook and delivers the replies from the outbox (woken through Redis, see
        :mod:`bot.delivery.wakes`, and looking there every ``outbox_poll_seconds`` anyway).

        Raises:
            ValueError: ``deliver=False`` in polling mode, where nothing would come in.
        """
        if not deliver and not self.webhook_url:
            raise ValueError("only a webhook channel can leave delivery to another worker")
        run = self._run() if deliver else self._receive_only()
        self._connecting = asyncio.create_task(run, name="telegram-connect")

    async def stop(self) -> None:
        """Stop polling and delivery, confirm what was processed, close the client.

        Work in hand is allowed to finish (for up to ``drain_seconds``): the update batch
        being stored and the reply being sent, so that a planned restart leaves nothing
        in doubt. Only an idle long poll is cancelled at once.
        """
        self._stopping.set()
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
        if self._poll_task is not None and self._cancellable:
            self._poll_task.cancel()
        tasks = [t for t in (self._connecting, self._poll_task, self._delivery) if t is not None]
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=self._drain)
            for task in pending:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._connecting = self._poll_task = self._delivery = None
        if self.application.running:
            await self.application.stop()
        if self.ready.is_set() and not self.webhook_url and self._offset:
            # Confirm the last stored batch so a clean restart does not fetch it again.
            with contextlib.suppress(TelegramError):
                await self.application.bot.get_updates(offset=self._offset, timeout=0, limit=1)
        self.ready.clear()
        await self.application.shutdown()
        # PTB's Application shuts down only what its initialize() completed: a start that
        # failed half-way (Telegram down, the token refused) left the bot's HTTP clients
        # open. Bot.shutdown closes them, and does nothing when they are closed already.
        await self.application.bot.shutdown()

    async def _run(self) -> None:
        await self._connect()
        await self._retry(self._resend_in_doubt, "looking for replies in doubt")
        if self.webhook_url:
            await self._retry(
                lambda: self.application.bot.set_webhook(
                    url=self.webhook_url or "",
                    secret_token=self._secret,
                    allowed_updates=ALLOWED_UPDATES,
                ),
                "setting the webhook",
            )
        else:
            await self._retry(
                lambda: self.application.bot.delete_webhook(drop_pending_updates=False),
                "removing a webhook before polling",
            )
        await self.application.start()
        self._delivery = asyncio.create_task(self._deliver(), name="telegram-delivery")
        if not self.webhook_url:
            self._poll_task = asyncio.create_task(self._poll_forever(), name="telegram-poll")
        self.ready.set()
        log.info("telegram channel @%s ready (%s)", self.application.bot.username, self.mode)

    async def _deliver(self) -> None:
        """Deliver replies as they are queued until :meth:`stop` asks us to finish.

        Like :func:`bot.delivery.outbox.deliver_forever`, but a stop lets the batch in hand finish
        (reply sent *and* marked sent) instead of cancelling between the two, which would
        turn every restart into a possible duplicate.
        """
        while not self._stopping.is_set():
            # Cleared before claiming, so a reply queued during the claim wakes us again.
            self.wake.clear()
            try:
                if await deliver_once(self._outbox, Channel.TELEGRAM, self.send):
                    continue
            except Exception:
                log.exception("telegram outbox failed; retrying")
            waits = [
                asyncio.create_task(self.wake.wait()),
                asyncio.create_task(self._stopping.wait()),
            ]
            try:
                await asyncio.wait(waits, timeout=self._outbox_poll, return_when="FIRST_COMPLETED")
            finally:
                for wait in waits:
                    wait.cancel()

    async def _receive_only(self) -> None:
        await self._connect()
        self.ready.set()
        log.info("telegram channel @%s taking webhook posts", self.application.bot.username)

    async def _connect(self) -> None:
        await self._retry(self.application.initialize, "connecting")

    async def _retry(self, call: Callable[[], Awaitable[object]], what: str) -> None:
        """Await ``call`` until it succeeds: Telegram or the database may be down at start."""
        failures = 0
        while True:
            try:
                await call()
                self.last_error = ""
                return
            except InvalidToken:
                self._give_up(f"Telegram rejected the bot token while {what}")
                raise
            except Exception as exc:  # TelegramError, or the database (in-doubt replies)
                failures += 1
                delay = self._backoff.delay(failures)
                self.last_error = f"{type(exc).__name__} while {what}"
                log.warning("telegram: %r; retrying in %.0f s", self.last_error, delay)
            await asyncio.sleep(delay)

    def _give_up(self, reason: str) -> None:
        """Stop for good: only a new token (and a restart) can fix this."""
        self.last_error = reason
        self._gave_up = True
        self.ready.clear()
        log.error("telegram: %r; channel stopped", reason)

    async def _resend_in_doubt(self) -> None:
        for outbound in await self._outbox.in_doubt(Channel.TELEGRAM):
            log.warning("telegram reply %s may have been sent; resending", outbound.message_id)
            await self._outbox.resolve_in_doubt(outbound.message_id, False, None)

    # -- inbound: polling -------------------------------------------------------------------

    async def _poll_forever(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            self._cancellable = True
            try:
                updates = await self.application.bot.get_updates(
                    offset=self._offset,
                    timeout=int(self._poll_timeout),
                    allowed_updates=ALLOWED_UPDATES,
                )
            except InvalidToken:
                self._give_up("Telegram rejected the bot token while polling")
                raise
            except RetryAfter as exc:
                await asyncio.sleep(retry_after_seconds(exc))
                continue
            except TelegramError as exc:  # NetworkError, TimedOut, Conflict, 5xx
                self.last_error = f"{type(exc).__name__} while polling"
                if isinstance(exc, Conflict):
                    log.warning("telegram: another poller or a webhook is active")
                failures += 1
                delay = self._backoff.delay(failures)
                log.warning("telegram: %r; retrying in %.0f s", self.last_error, delay)
                await asyncio.sleep(delay)
                continue
            finally:
                self._cancellable = False
            if not updates:
                continue
            if await self.process_batch(updates):
                self._offset = updates[-1].update_id + 1
                self.last_error = ""
                failures = 0
            else:
                # Not confirmed: Telegram sends the batch again; stored ones are dropped.
                self.last_error = "an update could not be stored; retrying"
                self._cancellable = True
                failures += 1
                await asyncio.sleep(self._backoff.delay(failures))

    async def process_batch(self, updates: Sequence[Update]) -> bool:
        """Process updates, chats concurrently and each chat in order; ``True`` if all stored."""
        by_chat: dict[int, list[Update]] = defaultdict(list)
        for update in updates:
            chat = update.effective_chat
            by_chat[chat.id if chat else 0].append(update)

        async def in_order(chat_updates: list[Update]) -> bool:
            for update in chat_updates:
                if not await self.process(update):
                    return False  # later messages of this chat wait, to keep the order
            return True

        results = await asyncio.gather(*(in_order(group) for group in by_chat.values()))
        return all(results)

    async def process(self, update: Update) -> bool:
        """Run one update through the handlers; ``False`` if it could not be stored."""
        async with self._limit:
            return await self._handlers.process(self.application, update)

    # -- inbound: webhook -------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        """Serve ``POST /webhooks/telegram`` (:func:`bot.channels.telegram.webhook.receive`)."""
        return await receive(
            request,
            secret=self._secret,
            ready=self.ready.is_set(),
            bot=self.application.bot,
            store=self.process,
        )

    async def send(self, outbound: Outbound) -> str | None:
        """Deliver one outbox reply (see :meth:`bot.channels.telegram.sending.Sender.send`)."""
        return await self._sender.send(outbound)
