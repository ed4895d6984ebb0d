"""The address a request is counted against, read from aiohttp's request.

The rule (which ``X-Forwarded-For`` entry to believe, and when) is
:mod:`bot.client_address`'s; this only hands it the peer and the headers.
"""

from __future__ import annotations

from aiohttp import web

from bot import client_address
from bot.keys import settings_key


def of(request: web.Request) -> str:
    """The client's address: the TCP peer's, or our trusted proxies' word for it."""
    return client_address.client_address(
        request.remote,
        request.headers.getall("X-Forwarded-For", ()),
        request.app[settings_key].trusted_proxies,
    )
