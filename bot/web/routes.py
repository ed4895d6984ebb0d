"""Every URL of the service, in one table."""

from __future__ import annotations

from aiohttp import web

from bot.web import chat, health, rasa_hooks


async def index(request: web.Request) -> web.StreamResponse:
    """Send visitors of the bare address to the web chat."""
    raise web.HTTPFound("/chat")


def setup_routes(app: web.Application) -> None:
    """Register the routes on ``app``."""
    app.add_routes(
        [
            web.get("/healthz", health.healthz, name="healthz"),
            web.post("/webhooks/actions", rasa_hooks.actions, name="rasa-actions"),
            web.post("/webhooks/nlg", rasa_hooks.generate, name="rasa-nlg"),
            web.post("/api/chat", chat.post_chat, name="chat-post"),
            web.get("/api/chat/updates", chat.get_updates, name="chat-updates"),
            web.get("/chat", chat.page, name="chat-page"),
            web.get("/", index, name="index"),
        ]
    )
