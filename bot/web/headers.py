"""Security headers on every response, and cache headers on static files.

One middleware for the whole app, so every page added later (HTML from a handler, a
file or an error) gets the same Content-Security-Policy without asking for it. The
policy allows scripts, styles and connections only from this origin, with nothing
inline: pages keep their JavaScript and CSS in ``bot/web/static``. The headers go on
every response, not only HTML (a file's type is only known once it is sent, and the
headers are harmless on JSON).
"""

from __future__ import annotations

from aiohttp import web

from bot.web.errors import Handler

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

STATIC_CACHE = "no-cache"
"""Static files may be kept, but are checked (ETag, Last-Modified; a 304 when unchanged)
before each use, so a new release's scripts never meet an old page or the reverse."""


def _add(request: web.Request, response: web.StreamResponse | web.HTTPException) -> None:
    target = response.headers
    for name, value in SECURITY_HEADERS.items():
        target.setdefault(name, value)
    if request.path.startswith("/static/"):
        target.setdefault("Cache-Control", STATIC_CACHE)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Add :data:`SECURITY_HEADERS` (and static cache headers) to every response."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # redirects and errors raised by handlers
        _add(request, exc)
        raise
    if not response.prepared:  # a WebSocket has sent its headers already
        _add(request, response)
    return response
