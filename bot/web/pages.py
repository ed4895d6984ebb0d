"""The staff pages: static HTML for signed-in staff of the right role, and their assets.

A page carries no data of its own (its script fetches it from the APIs, each checked by
:mod:`bot.web.auth`), but is served only to a signed-in browser whose role may use it:
anyone else is sent to ``/login`` or told the page is not for their role.
"""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

from bot.models import Role
from bot.web.auth import ADMINS, AGENTS, EDITORS, EVERYONE, page_user

STATIC = Path(__file__).parent / "static"
_NO_CACHE = {"Cache-Control": "no-cache"}
_ASSET = re.compile(r"^[a-z0-9][a-z0-9-]*\.(?:js|css)$")


async def _staff_page(
    request: web.Request, name: str, roles: tuple[Role, ...]
) -> web.StreamResponse:
    user = await page_user(request, *roles)
    if isinstance(user, web.Response):
        return user
    return web.FileResponse(STATIC / name, headers=_NO_CACHE)


async def console(request: web.Request) -> web.StreamResponse:
    """The agents' console: the hand-off queue and the conversation being handled."""
    return await _staff_page(request, "console.html", AGENTS)


async def admin(request: web.Request) -> web.StreamResponse:
    """The comms console: incidents and canned responses."""
    return await _staff_page(request, "admin.html", EDITORS)


async def users(request: web.Request) -> web.StreamResponse:
    """The admins' page: users, their API tokens and the audit trail."""
    return await _staff_page(request, "users.html", ADMINS)


async def dashboard(request: web.Request) -> web.StreamResponse:
    """The outage at a glance: reports per area, incidents, the queue, alerts."""
    return await _staff_page(request, "dashboard.html", EVERYONE)


async def index(request: web.Request) -> web.StreamResponse:
    """Send visitors of ``/`` to the web chat, the page customers come for."""
    raise web.HTTPFound("/chat")


async def asset(request: web.Request) -> web.FileResponse:
    """A page's script or style sheet (``/static/NAME.js`` or ``.css``).

    Open to all: they hold no data. Cache headers come from :mod:`bot.web.headers`.
    """
    name = request.match_info["name"]
    path = STATIC / name
    if not _ASSET.match(name) or not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(path)
