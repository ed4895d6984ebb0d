"""The two endpoints Rasa calls on our app: custom actions and NLG.

Both are on the public port, so each checks the shared secret (``bot.rasa.callback_secret``)
before it reads the body: a call without it (401) or with a wrong one (403) runs no action
and renders nothing.
"""

from __future__ import annotations

import logging

from aiohttp import web
from rasa_sdk.interfaces import (
    ActionExecutionRejection,
    ActionMissingDomainException,
    ActionNotFoundException,
)

from bot.keys import callback_secret_key, executor_key, responses_key
from bot.rasa import callback_secret, nlg
from bot.web import client_address
from bot.web.errors import fail, read_json

log = logging.getLogger(__name__)


def _from_rasa(request: web.Request) -> None:
    """Refuse a call without our Rasa servers' secret, with a JSON reason."""
    try:
        callback_secret.check(
            request.headers.get(callback_secret.HEADER), request.app[callback_secret_key]
        )
    except callback_secret.Refusal as refusal:
        log.warning(
            "refused a call to %s from %r: %s",
            request.path,
            client_address.of(request),
            refusal.reason,
        )
        status = web.HTTPUnauthorized if refusal.status == 401 else web.HTTPForbidden
        fail(status, refusal.reason)


async def actions(request: web.Request) -> web.Response:
    """Run one custom action for Rasa, with rasa_sdk's own status codes for its errors."""
    _from_rasa(request)
    payload = await read_json(request)
    try:
        result = await request.app[executor_key].run(payload)
    except ActionExecutionRejection as exc:
        return web.json_response(
            {"error": exc.message, "action_name": exc.action_name}, status=400
        )
    except ActionNotFoundException as exc:
        log.error("Rasa asked for an unknown action: %r", exc.action_name)
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
    _from_rasa(request)
    payload = await read_json(request)
    try:
        return web.json_response(nlg.generate(payload, request.app[responses_key]))
    except ValueError as exc:
        fail(web.HTTPBadRequest, str(exc))
