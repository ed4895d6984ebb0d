"""JSON errors for every failure, so clients never see an HTML page or a stack trace.

The one exception is staff sessions being unavailable (Redis down): a browser opening a
page gets a plain HTML page that says so, everyone else JSON, both ``503`` with
``Retry-After``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from html import escape
from typing import Any, NoReturn

from aiohttp import web

from bot import untrusted
from bot.sessions.store import SessionsUnavailable
from bot.untrusted import Untrusted
from bot.web.plain_page import page, sentence

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SESSIONS_UNAVAILABLE = "staff sessions are unavailable, try again shortly"
RETRY_SESSIONS_SECONDS = 10
"""Redis restarts in seconds; a page that retries sooner only adds to the noise."""


def fail(status: type[web.HTTPException], message: str) -> NoReturn:
    """Abort the request with ``{"error": message}`` and the given status."""
    raise status(text=web.json_response({"error": message}).text, content_type="application/json")


def too_large(message: str, max_size: int, actual_size: int) -> NoReturn:
    """Abort with 413 and ``{"error": message}`` (aiohttp's 413 needs the two sizes)."""
    raise web.HTTPRequestEntityTooLarge(
        max_size,
        actual_size,
        text=web.json_response({"error": message}).text,
        content_type="application/json",
    )


def refuse(error: Untrusted) -> NoReturn:
    """Abort with the reason :mod:`bot.untrusted` gave: 422 for refused text, else 400."""
    status = web.HTTPUnprocessableEntity if error.unprocessable else web.HTTPBadRequest
    fail(status, str(error))


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, or a 400/422 that says what is wrong with it.

    Parsed and checked by :func:`bot.untrusted.parse_json`, like every JSON we take in.
    """
    try:
        body = untrusted.parse_json(await request.read())
    except Untrusted as error:
        refuse(error)
    if not isinstance(body, dict):
        fail(web.HTTPBadRequest, "the body must be a JSON object")
    return body


async def read_form(request: web.Request) -> dict[str, str]:
    """The request's form fields (text ones only), held to the same rule as JSON strings."""
    try:
        return {
            untrusted.check_text(name, "a form field's name"): untrusted.check_text(
                value, f"the form field {name!r}"
            )
            for name, value in (await request.post()).items()
            if isinstance(value, str)
        }
    except Untrusted as error:
        refuse(error)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn HTTP errors and crashes into JSON; log crashes without leaking them."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.content_type == "application/json" or exc.status < 400:
            raise
        return web.json_response({"error": exc.reason}, status=exc.status)
    except SessionsUnavailable:
        log.warning(
            "%s %r: staff sessions are unavailable (Redis cannot be reached)",
            request.method,
            request.path,
        )
        return _sessions_unavailable(request)
    except Exception:
        log.exception("unhandled error in %s %r", request.method, request.path)
        return web.json_response({"error": "internal error"}, status=500)


def _sessions_unavailable(request: web.Request) -> web.Response:
    """503: JSON, or a plain page for a browser that asked for one."""
    headers = {"Retry-After": str(RETRY_SESSIONS_SECONDS)}
    if "text/html" not in request.headers.get("Accept", ""):
        return web.json_response({"error": SESSIONS_UNAVAILABLE}, status=503, headers=headers)
    body = f"<p>{escape(sentence(SESSIONS_UNAVAILABLE))}</p>\n<p>Reload this page in a moment.</p>"
    return page("Try again shortly", body, 503, headers)
