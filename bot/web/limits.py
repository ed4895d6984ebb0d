"""What any request may carry: a body of at most 1 MB, and no refused characters in its URL.

aiohttp enforces the size (``client_max_size``) only when a handler reads the body, and
then raises its own plain-text 413; this middleware answers a declared oversized body
before any handler runs and gives aiohttp's 413 our JSON shape. On the JSON routes the
URL's path and query reach database queries (``?sender=``, ``?area=``,
``/api/incidents/{reference}``), so they are held to :func:`bot.untrusted.check_text`
like every JSON string. Pages answer people in HTML and deal with odd input themselves
(the status page's search says politely that it could not tell the area).
"""

from __future__ import annotations

from aiohttp import web

from bot.untrusted import Untrusted, check_text
from bot.web.errors import Handler, refuse, too_large

MAX_BODY = 1024 * 1024
"""The largest request body; ours are a few KB (a chat message is at most 4000 characters)."""

JSON_ROUTES = ("/api/", "/webhooks/", "/console/events")
"""Where a URL with refused characters gets a 422 with the reason."""

TOO_LARGE = f"the body must be at most {MAX_BODY // (1024 * 1024)} MB"


def check_url(request: web.Request) -> None:
    """Refuse a path or query (names and values) holding a NUL or control character.

    Raises:
        web.HTTPException: 422 (or 400) with the reason.
    """
    try:
        check_text(request.path, "the path")
        for name, value in request.query.items():
            check_text(name, "a query parameter's name")
            check_text(value, f"the query parameter {name!r}")
    except Untrusted as error:
        refuse(error)


@web.middleware
async def input_limits(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Enforce :data:`MAX_BODY` on every route, :func:`check_url` on :data:`JSON_ROUTES`."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        too_large(TOO_LARGE, MAX_BODY, request.content_length)
    if request.path.startswith(JSON_ROUTES):
        check_url(request)
    try:
        return await handler(request)
    except web.HTTPRequestEntityTooLarge as exc:
        if exc.content_type == "application/json":  # a handler's own reason
            raise
        too_large(TOO_LARGE, MAX_BODY, request.content_length or MAX_BODY + 1)
