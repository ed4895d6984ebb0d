"""The agents' API: the hand-off queue and the conversations taken over from the bot.

The rules (who holds what, atomic claims) are in :mod:`bot.handoff.queue`; here they become
404 (no such thing), 409 (someone else has it) and 422 (bad text or outcome). After an
agent's reply is queued the channel's delivery loop is woken so it goes out at once;
web chat has no push, so its page collects the reply from ``/api/chat/updates``.
"""

from __future__ import annotations

import functools

from aiohttp import web

from bot.handoff import queue as handoff
from bot.handoff.queue import HandoffConflict, HandoffError, HandoffNotFound
from bot.keys import console_events_key, engine_key, wakes_key
from bot.models import Conversation, ConversationState
from bot.web.auth import AGENTS, EVERYONE, current_user, requires
from bot.web.errors import Handler, fail, read_json


def _id(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if not raw.isdigit():
        fail(web.HTTPNotFound, f"no {name.removesuffix('_id')} {raw!r}")
    return int(raw)


async def _string(request: web.Request, name: str, meaning: str) -> str:
    value = (await read_json(request)).get(name)
    if not isinstance(value, str):
        fail(web.HTTPUnprocessableEntity, f"'{name}' must be a string: {meaning}")
    return value


def _handoff_errors(handler: Handler) -> Handler:
    """Answer the hand-off rules' refusals: 404 not found, 409 someone else has it, else 422."""

    @functools.wraps(handler)
    async def mapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except HandoffNotFound as exc:
            fail(web.HTTPNotFound, str(exc))
        except HandoffConflict as exc:
            fail(web.HTTPConflict, str(exc))
        except HandoffError as exc:
            fail(web.HTTPUnprocessableEntity, str(exc))

    return mapped


def _state(conversation: Conversation) -> web.Response:
    return web.json_response(
        {"conversation": {"id": conversation.id, "state": conversation.state}}
    )


@requires(*EVERYONE)
async def list_escalations(request: web.Request) -> web.Response:
    """Open and claimed hand-offs, most urgent first, then the longest waiting."""
    entries = await handoff.queue(request.app[engine_key])
    return web.json_response({"escalations": [e.to_public() for e in entries]})


@requires(*AGENTS)
@_handoff_errors
async def claim(request: web.Request) -> web.Response:
    """Take a hand-off; 409 says who holds it when another agent was quicker."""
    agent = current_user(request)
    escalation = await handoff.claim(request.app[engine_key], _id(request, "escalation_id"), agent)
    return web.json_response(
        {
            "id": escalation.id,
            "conversation_id": escalation.conversation_id,
            "state": escalation.state,
            "agent": agent.name,
        }
    )


@requires(*EVERYONE)
@_handoff_errors
async def get_conversation(request: web.Request) -> web.Response:
    """The conversation, its hand-off and the whole transcript."""
    conversation_id = _id(request, "conversation_id")
    return web.json_response(await handoff.transcript(request.app[engine_key], conversation_id))


@requires(*AGENTS)
@_handoff_errors
async def reply(request: web.Request) -> web.Response:
    """Send the agent's text to the customer through their own channel."""
    text = await _string(request, "text", "the reply")
    outbound = await handoff.reply(
        request.app[engine_key], _id(request, "conversation_id"), current_user(request), text
    )
    request.app[wakes_key](outbound.channel)
    return web.json_response(
        {
            "message": {
                "id": outbound.message_id,
                "conversation_id": outbound.conversation_id,
                "channel": outbound.channel.value,
                "variant": outbound.variant.value,
                "text": outbound.text,
            },
            "conversation": {"id": outbound.conversation_id, "state": ConversationState.AGENT},
        }
    )


@requires(*AGENTS)
@_handoff_errors
async def release(request: web.Request) -> web.Response:
    """Give the conversation back to the bot."""
    conversation_id = _id(request, "conversation_id")
    return _state(
        await handoff.release(request.app[engine_key], conversation_id, current_user(request))
    )


@requires(*AGENTS)
@_handoff_errors
async def close(request: web.Request) -> web.Response:
    """Close the conversation with an outcome ("fixed", "engineer booked", ...)."""
    outcome = await _string(request, "outcome", 'how it ended, e.g. "fixed"')
    conversation_id = _id(request, "conversation_id")
    agent = current_user(request)
    return _state(await handoff.close(request.app[engine_key], conversation_id, agent, outcome))


async def events(request: web.Request) -> web.WebSocketResponse:
    """``GET /console/events``: the WebSocket that tells consoles when to refresh.

    It checks the token itself, from its first frame (see :mod:`bot.web.console_events`).
    """
    return await request.app[console_events_key].serve(request)
