"""Delivering one outbox reply to Telegram.

Replies are plain text (see :mod:`bot.channels.telegram.text`) split at 4096
characters. PTB's ``AIORateLimiter`` keeps us under Telegram's flood limits and honours
``retry_after`` on a 429 up to ``max_retries`` times; past that the reply goes back to the
outbox with that delay.
Network errors and 5xx are retried with the outbox's backoff; 403 (the customer blocked
the bot) and 400 fail the reply for good.
"""

from __future__ import annotations

import warnings
from datetime import timedelta

from telegram import Bot, ReplyParameters
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError

from bot.channels.telegram.text import split_text
from bot.delivery.outbox import PermanentFailure, RetryLater
from bot.messages import Outbound


class TelegramUnavailable(Exception):
    """Telegram could not be reached or answered 5xx; the outbox retries with backoff.

    Raised instead of PTB's exception so that the stored error text is ours (no URLs).
    """


def retry_after_seconds(error: RetryAfter) -> float:
    """Return how long Telegram asked us to wait, whatever type PTB reports it as."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PTB 22 warns that the int form is deprecated
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class Sender:
    """Sends replies through one PTB ``Bot``, remembering parts already accepted."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot
        self._progress: dict[int, int] = {}

    async def send(self, outbound: Outbound) -> str | None:
        """Deliver one outbox reply, split into parts of at most 4096 characters.

        Parts already accepted by Telegram are remembered (in memory), so a retry after a
        failure in the middle continues where it stopped instead of repeating them.

        Returns:
            ``"chat_id:message_id"`` of the last part, unique like inbound ids.

        Raises:
            RetryLater: Telegram's flood control asked us to wait (beyond the limiter).
            PermanentFailure: the customer blocked the bot, or Telegram refused the message.
            TelegramUnavailable: a network error or 5xx; the outbox backs off and retries.
        """
        parts = split_text(outbound.text)
        if not parts:
            raise PermanentFailure("empty reply")
        try:
            chat_id = int(outbound.external_user_id)
        except ValueError:
            raise PermanentFailure("not a Telegram chat id") from None
        reply_to = None
        if outbound.reply_to is not None and outbound.reply_to.isdigit():
            reply_to = int(outbound.reply_to)
        last_id: int | None = None
        for index in range(self._progress.get(outbound.message_id, 0), len(parts)):
            threading = None
            if reply_to is not None and index == 0:
                threading = ReplyParameters(reply_to, allow_sending_without_reply=True)
            try:
                sent = await self._bot.send_message(
                    chat_id=chat_id, text=parts[index], reply_parameters=threading
                )
            except RetryAfter as exc:
                raise RetryLater(
                    retry_after_seconds(exc), "Telegram flood control (429)"
                ) from None
            except (Forbidden, BadRequest, ChatMigrated) as exc:
                self._progress.pop(outbound.message_id, None)
                raise PermanentFailure(f"Telegram refused: {exc.message}"[:300]) from None
            except TelegramError as exc:
                raise TelegramUnavailable(f"Telegram unavailable: {type(exc).__name__}") from None
            self._progress[outbound.message_id] = index + 1
            last_id = sent.message_id
        self._progress.pop(outbound.message_id, None)
        return f"{chat_id}:{last_id}" if last_id is not None else None
