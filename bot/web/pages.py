"""The staff consoles: static pages that ask for an API token and call the JSON APIs.

The pages carry no data and need no login of their own, so they are served without
authentication; every call they make is checked by :mod:`bot.web.auth`.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).parent / "static"
_HEADERS = {"Cache-Control": "no-cache", "X-Frame-Options": "DENY"}


async def console(request: web.Request) -> web.FileResponse:
    """The agents' console: the hand-off queue and the conversation being handled."""
    return web.FileResponse(STATIC / "console.html", headers=_HEADERS)


async def admin(request: web.Request) -> web.FileResponse:
    """The comms console: incidents and canned responses."""
    return web.FileResponse(STATIC / "admin.html", headers=_HEADERS)


DASHBOARD_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
"""The dashboard keeps everything in static files, so it runs under a policy with no
'unsafe-inline' at all; the chart is SVG markup parsed by the page, not a style or script."""


async def dashboard(request: web.Request) -> web.FileResponse:
    """The outage at a glance: reports per area, incidents, the queue, alerts."""
    headers = {**_HEADERS, "Content-Security-Policy": DASHBOARD_CSP}
    return web.FileResponse(STATIC / "dashboard.html", headers=headers)


async def asset(request: web.Request) -> web.FileResponse:
    """A script or style sheet of the staff pages (the route names which ones exist)."""
    return web.FileResponse(STATIC / request.match_info["name"], headers=_HEADERS)


async def index(request: web.Request) -> web.StreamResponse:
    """Send visitors of ``/`` to the web chat, the page customers come for."""
    raise web.HTTPFound("/chat")


async def script(request: web.Request) -> web.FileResponse:
    """The script both consoles share: the token, JSON calls and small DOM helpers."""
    return web.FileResponse(STATIC / "staff.js", headers=_HEADERS)
