"""The agents' API: the hand-off queue and the conversations taken over from the bot.

The rules (who holds what, atomic claims) are in :mod:`bot.handoff.queue`; here they become
404 (no such thing), 409 (someone else has it) and 422 (bad text or outcome). After an
agent's reply is queued the channel's delivery loop is woken so it goes out at once;
web chat has no push, so its page collects the reply from ``/api/chat/updates``.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from bot.audit import Action
from bot.handoff import queue as handoff
from bot.handoff.about import ActiveIncidents
from bot.handoff.customer import customer
from bot.handoff.queue import HandoffConflict, HandoffError, HandoffNotFound
from bot.incidents.view import IncidentRecord
from bot.keys import console_events_key, engine_key, incidents_key, locator_key, wakes_key
from bot.models import Conversation, ConversationState
from bot.web.audit_api import note
from bot.web.auth import AGENTS, EVERYONE, current_user, requires, session_identity
from bot.web.errors import Handler, fail, read_json


def path_id(request: web.Request, name: str) -> int:
    """The numeric id in the path; anything else names nothing (404)."""
    raw = request.match_info[name]
    if not raw.isdigit():
        fail(web.HTTPNotFound, f"no {name.removesuffix('_id')} {raw!r}")
    return int(raw)


async def string_field(request: web.Request, name: str, meaning: str) -> str:
    """The body's string ``name``, or a 422 that says what it is for."""
    value = (await read_json(request)).get(name)
    if not isinstance(value, str):
        fail(web.HTTPUnprocessableEntity, f"'{name}' must be a string: {meaning}")
    return value


def handoff_errors(handler: Handler) -> Handler:
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
    """Open and claimed hand-offs, most urgent first, then the longest waiting.

    Each names the active incidents it is about; ``incidents`` groups them, with how many
    of them one answer from the caller would reach (``answerable``, for the console's
    "Answer all N waiting about INC-..." button).
    """
    entries = await handoff.queue(request.app[engine_key])
    active = ActiveIncidents(await request.app[incidents_key].index.active())
    caller = current_user(request)
    escalations = []
    groups: dict[str, dict[str, Any]] = {}
    for entry in entries:
        about = active.about(entry.area_code, entry.incident_id)
        escalations.append(
            {**entry.to_public(), "incidents": [r.incident.reference for r in about]}
        )
        for record in about:
            group = groups.setdefault(record.incident.reference, _group(record))
            group["waiting"] += 1
            group["answerable"] += entry.answerable_by(caller)
    return web.json_response({"escalations": escalations, "incidents": list(groups.values())})


def _group(record: IncidentRecord) -> dict[str, Any]:
    incident = record.incident
    return {
        "reference": incident.reference,
        "title": incident.title,
        "eta": incident.eta.isoformat() if incident.eta is not None else None,
        "waiting": 0,
        "answerable": 0,
    }


@requires(*AGENTS)
@handoff_errors
async def claim(request: web.Request) -> web.Response:
    """Take a hand-off; 409 says who holds it when another agent was quicker."""
    agent = current_user(request)
    escalation = await handoff.claim(
        request.app[engine_key], path_id(request, "escalation_id"), agent
    )
    await note(request, Action.CLAIM, f"conversation {escalation.conversation_id}")
    return web.json_response(
        {
            "id": escalation.id,
            "conversation_id": escalation.conversation_id,
            "state": escalation.state,
            "agent": agent.name,
        }
    )


@requires(*AGENTS)
@handoff_errors
async def get_conversation(request: web.Request) -> web.Response:
    """The conversation, its hand-off and the whole transcript (read for the audit trail).

    Beside it, ``customer``: their area, the active incidents there, earlier hand-offs
    and subscriptions (:mod:`bot.handoff.customer`). Agents read only conversations
    handed over to a person (:func:`handoff.may_read`).
    """
    conversation_id = path_id(request, "conversation_id")
    engine = request.app[engine_key]
    if not await handoff.may_read(engine, conversation_id, current_user(request)):
        fail(web.HTTPForbidden, f"conversation {conversation_id} was never handed to an agent")
    active = await request.app[incidents_key].index.active()
    # Side by side, each on its own connection: the console refetches this on every change.
    body, found = await asyncio.gather(
        handoff.transcript(engine, conversation_id),
        customer(engine, conversation_id, active, request.app[locator_key].place_for),
    )
    body["customer"] = found.to_public()
    await note(request, Action.TRANSCRIPT_READ, f"conversation {conversation_id}")
    return web.json_response(body)


@requires(*AGENTS)
@handoff_errors
async def reply(request: web.Request) -> web.Response:
    """Send the agent's text to the customer through their own channel."""
    text = await string_field(request, "text", "the reply")
    outbound = await handoff.reply(
        request.app[engine_key], path_id(request, "conversation_id"), current_user(request), text
    )
    request.app[wakes_key](outbound.channel)
    await note(request, Action.REPLY, f"conversation {outbound.conversation_id}")
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
@handoff_errors
async def release(request: web.Request) -> web.Response:
    """Give the conversation back to the bot."""
    conversation_id = path_id(request, "conversation_id")
    released = await handoff.release(
        request.app[engine_key], conversation_id, current_user(request)
    )
    await note(request, Action.RELEASE, f"conversation {conversation_id}")
    return _state(released)


@requires(*AGENTS)
@handoff_errors
async def close(request: web.Request) -> web.Response:
    """Close the conversation with an outcome ("fixed", "engineer booked", ...)."""
    outcome = await string_field(request, "outcome", 'how it ended, e.g. "fixed"')
    conversation_id = path_id(request, "conversation_id")
    agent = current_user(request)
    closed = await handoff.close(request.app[engine_key], conversation_id, agent, outcome)
    await note(request, Action.CLOSE, f"conversation {conversation_id}", outcome)
    return _state(closed)


async def events(request: web.Request) -> web.WebSocketResponse:
    """``GET /console/events``: the WebSocket that tells consoles when to refresh.

    A browser is known by its session cookie, but only when the socket is opened from a
    page of this site (``Origin``): another site's page could otherwise open it with the
    visitor's cookie. Scripts send an API token in the first frame instead (see
    :mod:`bot.web.console_events`).
    """
    origin = request.headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc != request.host:
        fail(web.HTTPForbidden, "the console's socket opens only from this site's pages")
    identity = await session_identity(request)
    if identity is None:
        return await request.app[console_events_key].serve(request)

    async def signed_in() -> bool:
        return await session_identity(request) is not None

    return await request.app[console_events_key].serve(request, identity.user, signed_in)
