"""Secrets out of logs, whoever writes the line.

Our own code never logs a secret (``Secret`` hides itself), but libraries do: PTB's
HTTP client, httpx, logs every request URL at INFO, and the Bot API puts the token in
the path (``/bot<TOKEN>/getUpdates``); an exception's message may carry a URL too. So
httpx and httpcore are turned down to WARNING, and a filter on every handler masks
Telegram bot tokens (by their shape), tokens in URL queries (``?token=``, as Rasa's API
takes them) and every configured secret (by value) in each record's message and
traceback.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import fields

from bot.settings import Secret, Settings

MASK = "**********"
BOT_TOKEN = re.compile(r"(?<!\d)\d{5,}:[A-Za-z0-9_-]{30,}")
"""A Telegram bot token (``123456789:AA...``), wherever it appears."""
TOKEN_PARAMETER = re.compile(r"([?&](?:token|access_token|auth_token)=)[^&\s\"'#]+")
"""A token in a URL's query: Rasa's API takes its token as ``?token=`` (and the one
``serve`` generates into ``var/`` is not in the settings to be masked by value)."""
QUIET = ("httpx", "httpcore")
"""Loggers that print request URLs at INFO."""
MIN_SECRET = 6
"""Shorter configured values are not masked: they would mask ordinary words."""


def secrets_of(settings: Settings) -> list[str]:
    """Every secret value in ``settings`` (any field that is a :class:`Secret`)."""
    values = (getattr(settings, field.name) for field in fields(settings))
    return [value.reveal() for value in values if isinstance(value, Secret) and value]


class Redactor(logging.Filter):
    """Masks bot tokens and the given secrets in a record before any handler writes it."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        known = sorted({s for s in secrets if len(s) >= MIN_SECRET}, key=len, reverse=True)
        self._known = re.compile("|".join(map(re.escape, known))) if known else None

    def redact(self, text: str) -> str:
        """``text`` with every bot token and known secret replaced by :data:`MASK`."""
        if self._known is not None:
            text = self._known.sub(MASK, text)
        return TOKEN_PARAMETER.sub(rf"\g<1>{MASK}", BOT_TOKEN.sub(MASK, text))

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message (and traceback) masked; never drops a record."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True  # a malformed call: the handler reports it, without its arguments
        masked = self.redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def redact_logs(settings: Settings, logger: logging.Logger | None = None) -> Redactor:
    """Turn the URL-logging libraries down and put a :class:`Redactor` on every handler.

    Call it after the handlers are configured (``logging.basicConfig``).

    Args:
        settings: the configuration, whose secrets are masked by value.
        logger: whose handlers get the filter; the root logger by default.
    """
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    redactor = Redactor(secrets_of(settings))
    for handler in (logger or logging.getLogger()).handlers:
        handler.addFilter(redactor)
    return redactor
