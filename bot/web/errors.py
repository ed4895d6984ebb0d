"""JSON errors for every failure, so clients never see an HTML page or a stack trace."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

from aiohttp import web

from bot import untrusted
from bot.untrusted import Untrusted

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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
    except Exception:
        log.exception("unhandled error in %s %r", request.method, request.path)
        return web.json_response({"error": "internal error"}, status=500)
