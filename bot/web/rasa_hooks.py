"""The two endpoints Rasa calls on our app: custom actions and NLG."""

from __future__ import annotations

import logging

from aiohttp import web
from rasa_sdk.interfaces import (
    ActionExecutionRejection,
    ActionMissingDomainException,
    ActionNotFoundException,
)

from bot.keys import executor_key, responses_key
from bot.rasa import nlg
from bot.web.errors import fail, read_json

log = logging.getLogger(__name__)


async def actions(request: web.Request) -> web.Response:
    """Run one custom action for Rasa, with rasa_sdk's own status codes for its errors."""
    payload = await read_json(request)
    try:
        result = await request.app[executor_key].run(payload)
    except ActionExecutionRejection as exc:
        return web.json_response(
            {"error": exc.message, "action_name": exc.action_name}, status=400
        )
    except ActionNotFoundException as exc:
        log.error("Rasa asked for an unknown action: %s", exc.action_name)
        return web.json_response(
            {"error": exc.message, "action_name": exc.action_name}, status=404
        )
    except ActionMissingDomainException as exc:
        return web.json_response(
            {"error": exc.message, "action_name": exc.action_name}, status=449
        )
    return web.json_response(result.model_dump() if result else None)


async def generate(request: web.Request) -> web.Response:
    """Render one response from the canned response store for Rasa."""
    payload = await read_json(request)
    try:
        return web.json_response(nlg.generate(payload, request.app[responses_key]))
    except ValueError as exc:
        fail(web.HTTPBadRequest, str(exc))
