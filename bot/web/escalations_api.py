"""The agents' API: the hand-off queue and the conversations taken over from the bot.

The rules (who holds what, atomic claims) are in :mod:`bot.handoff`; here they become
404 (no such thing), 409 (someone else has it) and 422 (bad text or outcome). After an
agent's reply is queued the channel's delivery loop is woken so it goes out at once;
web chat has no push, so its page collects the reply from ``/api/chat/updates``.
"""

from __future__ import annotations

from aiohttp import web

from bot import handoff
from bot.handoff import HandoffConflict, HandoffError, HandoffNotFound
from bot.keys import engine_key, wakes_key
from bot.web.auth import AGENTS, EVERYONE, current_user, requires
from bot.web.errors import fail, read_json


def _id(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if not raw.isdigit():
        fail(web.HTTPNotFound, f"no {name.removesuffix('_id')} {raw!r}")
    return int(raw)


def _fail_for(exc: HandoffError) -> None:
    if isinstance(exc, HandoffNotFound):
        fail(web.HTTPNotFound, str(exc))
    if isinstance(exc, HandoffConflict):
        fail(web.HTTPConflict, str(exc))
    fail(web.HTTPUnprocessableEntity, str(exc))


@requires(*EVERYONE)
async def list_escalations(request: web.Request) -> web.Response:
    """Open and claimed hand-offs, most urgent first, then the longest waiting."""
    entries = await handoff.queue(request.app[engine_key])
    return web.json_response({"escalations": [e.to_public() for e in entries]})


@requires(*AGENTS)
async def claim(request: web.Request) -> web.Response:
    """Take a hand-off; 409 says who holds it when another agent was quicker."""
    try:
        escalation = await handoff.claim(
            request.app[engine_key], _id(request, "escalation_id"), current_user(request)
        )
    except HandoffError as exc:
        _fail_for(exc)
    return web.json_response(
        {
            "id": escalation.id,
            "conversation_id": escalation.conversation_id,
            "state": escalation.state,
            "agent": current_user(request).name,
        }
    )


@requires(*EVERYONE)
async def get_conversation(request: web.Request) -> web.Response:
    """The conversation, its hand-off and the whole transcript."""
    try:
        body = await handoff.transcript(request.app[engine_key], _id(request, "conversation_id"))
    except HandoffError as exc:
        _fail_for(exc)
    return web.json_response(body)


@requires(*AGENTS)
async def reply(request: web.Request) -> web.Response:
    """Send the agent's text to the customer through their own channel."""
    body = await read_json(request)
    text = body.get("text")
    if not isinstance(text, str):
        fail(web.HTTPUnprocessableEntity, "'text' must be a string")
    try:
        outbound = await handoff.reply(
            request.app[engine_key], _id(request, "conversation_id"), current_user(request), text
        )
    except HandoffError as exc:
        _fail_for(exc)
    request.app[wakes_key][outbound.channel].set()
    return web.json_response(
        {
            "message": {
                "id": outbound.message_id,
                "conversation_id": outbound.conversation_id,
                "channel": outbound.channel.value,
                "variant": outbound.variant.value,
                "text": outbound.text,
            },
            "conversation": {"id": outbound.conversation_id, "state": "agent"},
        }
    )


@requires(*AGENTS)
async def release(request: web.Request) -> web.Response:
    """Give the conversation back to the bot."""
    try:
        conversation = await handoff.release(
            request.app[engine_key], _id(request, "conversation_id"), current_user(request)
        )
    except HandoffError as exc:
        _fail_for(exc)
    return web.json_response(
        {"conversation": {"id": conversation.id, "state": conversation.state}}
    )


@requires(*AGENTS)
async def close(request: web.Request) -> web.Response:
    """Close the conversation with an outcome ("fixed", "engineer booked", ...)."""
    body = await read_json(request)
    outcome = body.get("outcome")
    if not isinstance(outcome, str):
        fail(web.HTTPUnprocessableEntity, "'outcome' must be a string, e.g. \"fixed\"")
    try:
        conversation = await handoff.close(
            request.app[engine_key],
            _id(request, "conversation_id"),
            current_user(request),
            outcome,
        )
    except HandoffError as exc:
        _fail_for(exc)
    return web.json_response(
        {"conversation": {"id": conversation.id, "state": conversation.state}}
    )
