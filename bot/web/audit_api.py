"""Writing to the audit trail from the staff APIs, and ``GET /api/audit`` for admins."""

from __future__ import annotations

from aiohttp import web

from bot import audit
from bot.keys import engine_key
from bot.web.auth import ADMINS, current_user, requires
from bot.web.errors import fail

MAX_ENTRIES = 500


async def note(
    request: web.Request, action: audit.Action, target: str = "", detail: str = ""
) -> None:
    """Record that the request's user did ``action`` to ``target``."""
    await audit.record(request.app[engine_key], current_user(request).name, action, target, detail)


def _number(request: web.Request, name: str, default: int | None) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        fail(web.HTTPBadRequest, f"'{name}' must be a positive whole number")
    return int(raw)


@requires(*ADMINS)
async def list_audit(request: web.Request) -> web.Response:
    """``GET /api/audit[?actor=NAME&action=claim&before=ID&limit=N]``: newest first."""
    limit = min(_number(request, "limit", 200) or 200, MAX_ENTRIES)
    entries = await audit.entries(
        request.app[engine_key],
        limit=limit,
        before=_number(request, "before", None),
        actor=request.query.get("actor") or None,
        action=request.query.get("action") or None,
    )
    return web.json_response({"entries": entries, "actions": [a.value for a in audit.Action]})
