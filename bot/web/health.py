"""``GET /healthz``: what an operator (or a load balancer) needs to know at a glance."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bot.keys import brain_key, engine_key, telegram_key, x_key


async def healthz(request: web.Request) -> web.Response:
    """Report the database, Rasa and each channel; 200 whenever the app itself answers."""
    try:
        async with request.app[engine_key].connect() as conn:
            await conn.execute(text("SELECT 1"))
        database = "ok"
    except (SQLAlchemyError, OSError):
        database = "down"
    rasa = await request.app[brain_key].health()
    channels = {"web": "ok"}
    for name, key in (("telegram", telegram_key), ("x", x_key)):
        channel = request.app.get(key)
        if channel is not None:
            channels[name] = channel.health()
    status = "ok" if database == rasa == "ok" else "degraded"
    return web.json_response(
        {"status": status, "db": database, "rasa": rasa, "channels": channels}
    )
