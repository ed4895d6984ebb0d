"""``/api/responses``: comms staff edit what the bot says, per channel, live.

:class:`bot.responses.store.ResponseStore` validates each text (known placeholders only, public X
replies within 280 characters) and refreshes its cache on save, so the next customer gets
the new text; this module only maps its errors to 404, 409 and 422. Agents' macros
(``macro_*``) can also be added and deleted here.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from aiohttp import web

from bot.audit import Action
from bot.keys import responses_key
from bot.messages import Variant
from bot.responses.catalogue import ResponseError
from bot.responses.store import ResponseExists, UnknownResponse
from bot.responses.templates import PLACEHOLDERS
from bot.web.audit_api import note
from bot.web.auth import EDITORS, EVERYONE, current_user, requires
from bot.web.errors import fail, read_json


@requires(*EVERYONE)
async def list_responses(request: web.Request) -> web.Response:
    """Every response with its per-channel texts, plus what each placeholder stands for."""
    return web.json_response(
        {
            "responses": request.app[responses_key].list(),
            "placeholders": PLACEHOLDERS,
            "channels": [v.value for v in Variant],
        }
    )


@requires(*EVERYONE)
async def get_response(request: web.Request) -> web.Response:
    """One response with every text it has had (who saved it, when)."""
    store = request.app[responses_key]
    key = request.match_info["key"]
    try:
        body = store.describe(key)
        body["history"] = await store.history(key)
    except UnknownResponse as exc:
        fail(web.HTTPNotFound, str(exc))
    return web.json_response(body)


@requires(*EDITORS)
async def put_response(request: web.Request) -> web.Response:
    """Save a new text for one channel variant; customers get it from the next reply on."""
    body = await read_json(request)
    channel = body.get("channel", Variant.DEFAULT.value)
    text = body.get("text")
    if not isinstance(channel, str):
        fail(web.HTTPUnprocessableEntity, "'channel' must be a string")
    if not isinstance(text, str):
        fail(web.HTTPUnprocessableEntity, "'text' must be a string")
    store = request.app[responses_key]
    key, author = request.match_info["key"], current_user(request).name
    response = await _edited(store.save(key, channel, text, author))
    await note(request, Action.RESPONSE_EDITED, key, f"{channel} text saved")
    return response


@requires(*EDITORS)
async def create_macro(request: web.Request) -> web.Response:
    """Add an agents' macro (``{"key": "macro_...", "text"}``): 201, or 409 if it exists."""
    body = await read_json(request)
    key, text = body.get("key"), body.get("text")
    if not isinstance(key, str):
        fail(web.HTTPUnprocessableEntity, "'key' must be a string, e.g. macro_engineer_booked")
    if not isinstance(text, str):
        fail(web.HTTPUnprocessableEntity, "'text' must be a string")
    store = request.app[responses_key]
    response = await _edited(store.create(key, text, current_user(request).name))
    response.set_status(201)
    await note(request, Action.MACRO_CREATED, key)
    return response


@requires(*EDITORS)
async def delete_macro(request: web.Request) -> web.Response:
    """Delete an agents' macro; the bot's own responses can only be edited (422)."""
    key = request.match_info["key"]
    try:
        await request.app[responses_key].delete(key, current_user(request).name)
    except UnknownResponse as exc:
        fail(web.HTTPNotFound, str(exc))
    except ResponseError as exc:
        fail(web.HTTPUnprocessableEntity, str(exc))
    await note(request, Action.MACRO_DELETED, key)
    return web.json_response({"deleted": key})


@requires(*EDITORS)
async def delete_variant(request: web.Request) -> web.Response:
    """Remove one channel's own text, so that channel uses the default text from now on."""
    store = request.app[responses_key]
    key, channel = request.match_info["key"], request.match_info["channel"]
    response = await _edited(store.use_default(key, channel, current_user(request).name))
    await note(request, Action.RESPONSE_EDITED, key, f"{channel} uses the default text")
    return response


async def _edited(edit: Awaitable[dict[str, Any]]) -> web.Response:
    """The response as edited, or why not: 404 for an unknown key, 422 with the reason."""
    try:
        return web.json_response(await edit)
    except UnknownResponse as exc:
        fail(web.HTTPNotFound, str(exc))
    except ResponseExists as exc:
        fail(web.HTTPConflict, str(exc))
    except ResponseError as exc:
        fail(web.HTTPUnprocessableEntity, str(exc))
