"""Telegram's webhook: who may post to us, and what a post must hold to be stored.

In webhook mode (``TELEGRAM_WEBHOOK_URL``) our aiohttp app serves
``POST /webhooks/telegram``. Telegram proves a post is its own with the secret token we
gave it when setting the webhook, so a request without the right
``X-Telegram-Bot-Api-Secret-Token`` is refused (403) before its body is read. The answer
is 200 only after the router has stored the update; any failure answers 500 (or 503 while
starting) so that Telegram delivers it again, and the router drops a second copy.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable

from aiohttp import web
from telegram import Bot, Update

from bot import untrusted
from bot.settings import Settings, SettingsError
from bot.untrusted import Untrusted

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
"""What Telegram accepts as a secret token (setWebhook's ``secret_token``)."""


def webhook_secret(settings: Settings) -> str | None:
    """Return the secret Telegram's posts must carry; ``None`` in polling mode.

    Raises:
        SettingsError: webhook mode without a secret Telegram would accept.
    """
    if not settings.telegram_webhook_url:
        return None
    secret = settings.telegram_webhook_secret
    if secret is None or not _SECRET_TOKEN.match(secret.reveal()):
        raise SettingsError(
            "TELEGRAM_WEBHOOK_SECRET must be set with TELEGRAM_WEBHOOK_URL "
            "(1-256 characters: letters, digits, _ and -)"
        )
    return secret.reveal()


async def receive(
    request: web.Request,
    *,
    secret: str | None,
    ready: bool,
    bot: Bot,
    store: Callable[[Update], Awaitable[bool]],
) -> web.Response:
    """Answer one post: check the secret, parse the update, ``store`` it, say how it went.

    200 means stored (Telegram will not send it again); 403 for a wrong or missing
    secret; 400 for a body that is not an update; 500/503 make Telegram retry.
    """
    given = request.headers.get(SECRET_HEADER, "")
    if secret is None or not hmac.compare_digest(given.encode(), secret.encode()):
        return web.json_response({"error": "wrong or missing secret token"}, status=403)
    if not ready:
        return web.json_response({"error": "telegram channel is starting"}, status=503)
    try:
        # Nesting and encoding are checked; the text is the customer's, mended later.
        payload = untrusted.parse_json(await request.read(), check_strings=False)
    except Untrusted as error:
        return web.json_response({"error": str(error)}, status=400)
    if not isinstance(payload, dict) or not isinstance(payload.get("update_id"), int):
        return web.json_response({"error": "body is not a Telegram update"}, status=400)
    try:
        update = Update.de_json(payload, bot)
    except (AttributeError, KeyError, TypeError, ValueError):
        return web.json_response({"error": "body is not a Telegram update"}, status=400)
    if not await store(update):
        return web.json_response({"error": "update not stored; retry"}, status=500)
    return web.json_response({"ok": True})
