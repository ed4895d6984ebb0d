"""The web chat channel: ``POST /api/chat`` (also the load-test entry) and the ``/chat`` page."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from bot.conversations import store as conversations
from bot.keys import engine_key, outbox_key, router_key
from bot.messages import Channel, Inbound, Outbound, Variant
from bot.models import ConversationState
from bot.web.errors import fail, read_json

MAX_TEXT = 4000
MAX_SENDER = 120
PAGE = Path(__file__).parent / "static" / "chat.html"


def _sender(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        fail(web.HTTPBadRequest, "'sender' must be a non-empty string")
    if len(value) > MAX_SENDER:
        fail(web.HTTPBadRequest, f"'sender' must be at most {MAX_SENDER} characters")
    return value.strip()


def _body(replies: list[Outbound], conversation_id: int, state: str) -> dict[str, object]:
    return {
        "replies": [{"text": reply.text} for reply in replies],
        "conversation": {"id": conversation_id, "state": state},
    }


async def post_chat(request: web.Request) -> web.Response:
    """Answer one web-chat message, with anything else queued for this customer.

    The router collects what else was queued (an agent's answer, a fix notice) in the
    same transaction as the answer, so a message costs no extra round trip for them.
    """
    body = await read_json(request)
    sender = _sender(body.get("sender"))
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        fail(web.HTTPBadRequest, "'text' must be a non-empty string")
    if len(text) > MAX_TEXT:
        fail(web.HTTPRequestEntityTooLarge, f"'text' must be at most {MAX_TEXT} characters")
    handled = await request.app[router_key].handle(
        Inbound(Channel.WEB, sender, text.strip(), variant=Variant.WEB)
    )
    return web.json_response(_body(handled.replies, handled.conversation_id, handled.state))


async def get_updates(request: web.Request) -> web.Response:
    """Replies queued since the customer's last message (agents, fix notices)."""
    sender = _sender(request.query.get("sender"))
    engine = request.app[engine_key]
    conversation = await conversations.by_channel_user(engine, Channel.WEB, sender)
    if conversation is None or conversation.id is None:
        return web.json_response(_body([], 0, ConversationState.BOT))
    later = await request.app[outbox_key].take(conversation)
    return web.json_response(_body(later, conversation.id, conversation.state))


async def page(request: web.Request) -> web.FileResponse:
    """The web chat page."""
    return web.FileResponse(PAGE)
