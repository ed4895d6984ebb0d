"""Platform webhooks: handed to the channel adapter that owns them, when it is enabled."""

from __future__ import annotations

from aiohttp import web

from bot.keys import telegram_key
from bot.web.errors import fail


async def telegram(request: web.Request) -> web.Response:
    """``POST /webhooks/telegram``: 404 unless the Telegram channel runs in webhook mode."""
    channel = request.app.get(telegram_key)
    if channel is None or not channel.webhook_url:
        fail(web.HTTPNotFound, "the Telegram webhook is not enabled")
    return await channel.webhook(request)
