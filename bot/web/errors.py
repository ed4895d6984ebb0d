"""JSON errors for every failure, so clients never see an HTML page or a stack trace."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

from aiohttp import web

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def fail(status: type[web.HTTPException], message: str) -> NoReturn:
    """Abort the request with ``{"error": message}`` and the given status."""
    raise status(text=web.json_response({"error": message}).text, content_type="application/json")


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, or a 400 that says what is wrong with it."""
    try:
        body = await request.json()
    except ValueError:
        fail(web.HTTPBadRequest, "the body must be JSON")
    if not isinstance(body, dict):
        fail(web.HTTPBadRequest, "the body must be a JSON object")
    return body


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
        log.exception("unhandled error in %s %s", request.method, request.path)
        return web.json_response({"error": "internal error"}, status=500)
