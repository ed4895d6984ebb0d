"""The web chat channel: ``POST /api/chat`` (also the load-test entry) and the ``/chat`` page.

Each sender's conversation is theirs alone: the first message issues a secret
(:class:`bot.chat_identity.ChatIdentities`), returned once as ``chat_secret`` and set as
an HttpOnly, SameSite=Strict cookie scoped to ``/api/chat``; later messages and pick-ups
present it in that cookie (the page) or in ``X-Chat-Secret`` (scripts, the terminal
client).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from aiohttp import web

from bot.conversations import store as conversations
from bot.keys import chat_identities_key, engine_key, outbox_key, router_key, settings_key
from bot.messages import Channel, Inbound, Outbound, Variant
from bot.models import ConversationState
from bot.web.errors import fail, read_json, too_large

MAX_TEXT = 4000
MAX_SENDER = 120
MAX_ID = 64
PAGE = Path(__file__).parent / "static" / "chat.html"
COOKIE = "outage_bot_chat"
HEADER = "X-Chat-Secret"
COOKIE_DAYS = 30
"""How long a browser keeps its chat secret; after that its page starts a new chat."""
NOT_YOURS = (
    "this conversation needs its chat secret (the cookie, or the X-Chat-Secret header, "
    "from its first answer); start a new chat with a new sender"
)


def _sender(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        fail(web.HTTPBadRequest, "'sender' must be a non-empty string")
    if len(value) > MAX_SENDER:
        fail(web.HTTPBadRequest, f"'sender' must be at most {MAX_SENDER} characters")
    return value.strip()


def _message_id(sender: str, value: object) -> str | None:
    """The message's id, from the page's own id for it (optional), unique per customer.

    The page sends a message again with the same id when the first attempt got no
    answer (a worker died mid-request), so the inbox takes it for the same message: it
    is answered once, whether the first attempt was stored or not.
    """
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID:
        fail(web.HTTPBadRequest, f"'id' must be a non-empty string of at most {MAX_ID} characters")
    digest = hashlib.blake2b(f"{sender}\n{value}".encode(), digest_size=16).hexdigest()
    return f"web-{digest}"


def _body(replies: list[Outbound], conversation_id: int, state: str) -> dict[str, object]:
    return {
        "replies": [{"text": reply.text} for reply in replies],
        "conversation": {"id": conversation_id, "state": state},
    }


def _presented(request: web.Request) -> str | None:
    """The chat secret the request carries: the header when given, else the cookie."""
    return request.headers.get(HEADER) or request.cookies.get(COOKIE) or None


def _keep(request: web.Request, response: web.StreamResponse, secret: str) -> None:
    response.set_cookie(
        COOKIE,
        secret,
        max_age=COOKIE_DAYS * 24 * 3600,
        path="/api/chat",
        httponly=True,
        secure=request.app[settings_key].behind_https,
        samesite="Strict",
    )


async def post_chat(request: web.Request) -> web.Response:
    """Answer one web-chat message, with anything else queued for this customer.

    Body ``{"sender", "text"}``, and optionally ``"id"``: the page's id for the message,
    the same when it sends it again, so that it is answered once (:func:`_message_id`).
    A new sender's answer carries ``chat_secret``; nothing is stored for a request
    refused for want of it.

    The router collects what else was queued (an agent's answer, a fix notice) in the
    same transaction as the answer, so a message costs no extra round trip for them.
    """
    if request.content_type != "application/json":
        fail(
            web.HTTPUnsupportedMediaType, "the body must be JSON (Content-Type: application/json)"
        )
    body = await read_json(request)
    sender = _sender(body.get("sender"))
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        fail(web.HTTPBadRequest, "'text' must be a non-empty string")
    if len(text) > MAX_TEXT:
        too_large(f"'text' must be at most {MAX_TEXT} characters", MAX_TEXT, len(text))
    external_id = _message_id(sender, body.get("id"))
    verdict = await request.app[chat_identities_key].admit(
        sender, _presented(request), external_id
    )
    if not verdict.allowed:
        fail(web.HTTPForbidden, NOT_YOURS)
    handled = await request.app[router_key].handle(
        Inbound(Channel.WEB, sender, text.strip(), external_id=external_id, variant=Variant.WEB)
    )
    answer = _body(handled.replies, handled.conversation_id, handled.state)
    if verdict.issued is None:
        return web.json_response(answer)
    response = web.json_response({**answer, "chat_secret": verdict.issued})
    _keep(request, response, verdict.issued)
    return response


async def get_updates(request: web.Request) -> web.Response:
    """Replies queued since the customer's last message (agents, fix notices)."""
    sender = _sender(request.query.get("sender"))
    engine = request.app[engine_key]
    if not await request.app[chat_identities_key].may_read(sender, _presented(request)):
        fail(web.HTTPForbidden, NOT_YOURS)
    conversation = await conversations.by_channel_user(engine, Channel.WEB, sender)
    if conversation is None or conversation.id is None:
        return web.json_response(_body([], 0, ConversationState.BOT))
    later = await request.app[outbox_key].take(conversation)
    return web.json_response(_body(later, conversation.id, conversation.state))


async def page(request: web.Request) -> web.FileResponse:
    """The web chat page."""
    return web.FileResponse(PAGE)
