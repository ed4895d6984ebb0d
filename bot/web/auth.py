"""Who may call the staff APIs: ``Authorization: Bearer <token>`` and a role per handler.

Tokens are the API tokens printed by ``outage-bot user add``. Each staff handler is wrapped
in :func:`requires`, which names the roles allowed; an unknown or missing token is a 401,
a known user with the wrong role a 403 (both JSON). Customer-facing routes (``/api/chat``,
``/webhooks/*``, the pages themselves) are simply not wrapped; a test walks the route table
so that a new ``/api/`` route cannot be left open by accident.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from aiohttp import web

from bot.keys import engine_key
from bot.models import Role, User
from bot.users import authenticate_token
from bot.web.errors import Handler, fail

log = logging.getLogger(__name__)

user_key = web.RequestKey("user", User)

EVERYONE = (Role.AGENT, Role.COMMS, Role.ADMIN)
EDITORS = (Role.COMMS, Role.ADMIN)
"""Who may change incidents and canned responses."""
AGENTS = (Role.AGENT, Role.ADMIN)
"""Who may take over customer conversations."""


def bearer_token(request: web.Request) -> str | None:
    """Return the token of an ``Authorization: Bearer <token>`` header, if there is one."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def authenticate(request: web.Request) -> User:
    """Return the user whose token the request carries, or fail with 401."""
    token = bearer_token(request)
    if token is None:
        fail(web.HTTPUnauthorized, "an 'Authorization: Bearer <token>' header is required")
    user = await authenticate_token(request.app[engine_key], token)
    if user is None:
        log.info("rejected an unknown API token for %s %s", request.method, request.path)
        fail(web.HTTPUnauthorized, "the API token is not valid")
    return user


def requires(*roles: Role) -> Callable[[Handler], Handler]:
    """Wrap a handler so only users with one of ``roles`` reach it.

    The user is available to the handler as ``request[user_key]`` (see :func:`current_user`).
    """
    allowed = frozenset(roles)
    names = " or ".join(sorted(r.value for r in allowed))

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            user = await authenticate(request)
            if user.role not in allowed:
                fail(web.HTTPForbidden, f"this needs the {names} role; {user.name} is {user.role}")
            request[user_key] = user
            return await handler(request)

        return guarded

    return decorate


def current_user(request: web.Request) -> User:
    """Return the user :func:`requires` let through."""
    return request[user_key]


@requires(*EVERYONE)
async def me(request: web.Request) -> web.Response:
    """Who the token belongs to, so a console can greet its user and check the token."""
    user = current_user(request)
    return web.json_response({"name": user.name, "role": user.role})
