"""``/api/rasa/reload``: admins roll a newly trained model out to every Rasa server.

``POST`` starts a rolling update (:mod:`bot.rasa.reload`) and answers at once (202, or
409 while one runs); ``GET`` tells how the latest one goes, server by server, for the
admin page and ``outage-bot rasa reload``, which poll it.
"""

from __future__ import annotations

from aiohttp import web

from bot.keys import model_updates_key
from bot.models import Role
from bot.web.auth import current_user, requires
from bot.web.errors import fail


@requires(Role.ADMIN)
async def latest_reload(request: web.Request) -> web.Response:
    """The latest model update, running or finished (``null`` before the first)."""
    progress = await request.app[model_updates_key].board.latest()
    return web.json_response({"reload": progress.as_json() if progress else None})


@requires(Role.ADMIN)
async def start_reload(request: web.Request) -> web.Response:
    """Start a rolling update of every Rasa server to the trained model."""
    progress = await request.app[model_updates_key].start(by=current_user(request).name)
    if progress is None:
        fail(web.HTTPConflict, "a model update is already running")
    return web.json_response({"reload": progress.as_json()}, status=202)
