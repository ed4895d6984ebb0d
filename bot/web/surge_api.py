"""Agents in a surge: macros filled in for the open customer, and one answer to many.

``GET /api/conversations/{id}/macros`` fills every macro in (:mod:`bot.handoff.macros`);
``POST /api/incidents/{reference}/answer`` sends one text to every customer waiting about
an incident (:mod:`bot.handoff.bulk_answer`), once per ``Idempotency-Key``, and wakes
their channels' delivery. Both are the agents'; the rules are in ``bot.handoff``.
"""

from __future__ import annotations

from aiohttp import web

from bot.conversations import store as conversations
from bot.handoff import queue as handoff
from bot.handoff.bulk_answer import answer_all
from bot.handoff.customer import customer
from bot.handoff.macros import fill, values_for
from bot.handoff.queue import REPLY_VARIANT
from bot.keys import engine_key, incidents_key, locator_key, responses_key, settings_key, wakes_key
from bot.messages import Channel
from bot.models import utcnow
from bot.web.auth import AGENTS, current_user, requires
from bot.web.errors import fail
from bot.web.escalations_api import handoff_errors, path_id, string_field

IDEMPOTENCY_HEADER = "Idempotency-Key"


@requires(*AGENTS)
@handoff_errors
async def macros(request: web.Request) -> web.Response:
    """Every macro, filled in for this conversation's customer in their channel's form."""
    conversation_id = path_id(request, "conversation_id")
    app = request.app
    engine = app[engine_key]
    if not await handoff.may_read(engine, conversation_id, current_user(request)):
        fail(web.HTTPForbidden, f"conversation {conversation_id} was never handed to an agent")
    conversation = await conversations.get(engine, conversation_id)
    if conversation is None:
        fail(web.HTTPNotFound, f"no conversation {conversation_id}")
    found = await customer(
        engine,
        conversation_id,
        await app[incidents_key].index.active(),
        app[locator_key].place_for,
    )
    name = conversation.display_name or conversation.external_user_id
    values = values_for(name, found, utcnow(), app[settings_key].tz)
    variant = REPLY_VARIANT[Channel(conversation.channel)]
    filled = fill(app[responses_key], variant, values)
    return web.json_response({"macros": [m.to_public() for m in filled]})


@requires(*AGENTS)
@handoff_errors
async def answer(request: web.Request) -> web.Response:
    """Send one text to every customer waiting about the incident, each on their channel.

    The ``Idempotency-Key`` header is required: the same key again sends nothing and
    answers what the first request sent (``"replayed": true``).
    """
    key = request.headers.get(IDEMPOTENCY_HEADER, "")
    if not key.strip():
        fail(
            web.HTTPUnprocessableEntity,
            f"send an {IDEMPOTENCY_HEADER} header (a new random value per answer), "
            "so that sending twice reaches nobody twice",
        )
    text = await string_field(request, "text", "the answer")
    answered = await answer_all(
        request.app[engine_key], request.match_info["reference"], current_user(request), text, key
    )
    for channel in {reply.channel for reply in answered.replies}:
        request.app[wakes_key](channel)
    return web.json_response(answered.to_public())
