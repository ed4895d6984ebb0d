"""``GET /metrics``: the service's figures in Prometheus text, behind a token of its own.

A scraper is configured once with a long-lived secret (``OUTAGE_BOT_METRICS_TOKEN``),
not a staff member's token, which expires and names a person. While the token is unset
the path does not exist (404), so a service nobody monitors shows nothing; with it set,
a request without that bearer token gets 401. The token is compared in constant time.
"""

from __future__ import annotations

import hmac

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.keys import engine_key, settings_key, telemetry_key
from bot.models import utcnow
from bot.telemetry import read_levels
from bot.web.errors import fail


def _bearer(request: web.Request) -> bytes:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    return credentials.strip().encode() if scheme.lower() == "bearer" else b""


async def get_metrics(request: web.Request) -> web.Response:
    """The counters, the Rasa latency histogram and the database's levels, as Prometheus reads."""
    token = request.app[settings_key].metrics_token
    if not token:
        fail(web.HTTPNotFound, "no such page")
    if not hmac.compare_digest(_bearer(request), token.reveal().encode()):
        fail(web.HTTPUnauthorized, "the metrics token is needed: Authorization: Bearer <token>")
    levels = await read_levels(request.app[engine_key], utcnow())
    body = request.app[telemetry_key].page(levels)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
