"""Who may call the staff APIs and open the staff pages, and with what role.

Two ways in: a browser signed in at ``/login`` carries a session cookie (see
:mod:`bot.sessions`: in the database, or in Redis with ``REDIS_URL``); a script sends
``Authorization: Bearer <token>`` with an API token. A request that changes something
and is authenticated by the cookie must also carry the session's CSRF token in
``X-CSRF-Token`` (the pages get it from ``/api/me``): another site can make a browser
send the cookie, but cannot read the token. Bearer requests need no CSRF token, since
browsers never add that header on their own.

Each staff handler is wrapped in :func:`requires`, which names the roles allowed; no
credentials is a 401, the wrong role a 403 (both JSON). A test walks the route table so
that a new ``/api/`` route cannot be left open by accident. Pages use :func:`page_user`,
which sends a browser without a session to ``/login?next=...``.
"""

from __future__ import annotations

import functools
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from urllib.parse import urlencode

from aiohttp import web

from bot.keys import engine_key, sessions_key
from bot.models import Role, User
from bot.users import authenticate_token
from bot.web.errors import Handler, fail
from bot.web.plain_page import page

log = logging.getLogger(__name__)

COOKIE = "outage_bot_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

EVERYONE = (Role.AGENT, Role.COMMS, Role.ADMIN)
EDITORS = (Role.COMMS, Role.ADMIN)
"""Who may change incidents and canned responses."""
AGENTS = (Role.AGENT, Role.ADMIN)
"""Who may take over customer conversations and read their transcripts."""
ADMINS = (Role.ADMIN,)
"""Who may manage users and read the audit trail."""


@dataclass(frozen=True)
class Identity:
    """Who is calling: the user, and the session's CSRF token (``None`` for a token)."""

    user: User
    csrf_token: str | None

    @property
    def by_session(self) -> bool:
        """Whether the caller is a signed-in browser (rather than a script's token)."""
        return self.csrf_token is not None


identity_key = web.RequestKey("identity", Identity)


def bearer_token(request: web.Request) -> str | None:
    """Return the token of an ``Authorization: Bearer <token>`` header, if there is one."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def session_identity(request: web.Request) -> Identity | None:
    """The signed-in browser's identity from its session cookie, if it has a live one."""
    session_id = request.cookies.get(COOKIE, "")
    if not session_id:
        return None
    found = await request.app[sessions_key].current(session_id)
    return None if found is None else Identity(found.user, found.csrf_token)


async def authenticate(request: web.Request) -> Identity:
    """Return who the request comes from, or fail with 401."""
    token = bearer_token(request)
    if token is not None:
        user = await authenticate_token(request.app[engine_key], token)
        if user is None:
            log.info("rejected an API token for %s %r", request.method, request.path)
            fail(web.HTTPUnauthorized, "the API token is not valid")
        return Identity(user, None)
    identity = await session_identity(request)
    if identity is not None:
        return identity
    if COOKIE in request.cookies:
        fail(web.HTTPUnauthorized, "your session has ended: sign in again at /login")
    fail(
        web.HTTPUnauthorized,
        "sign in at /login, or send an 'Authorization: Bearer <token>' header",
    )


def check_csrf(request: web.Request, identity: Identity, form_value: str = "") -> None:
    """Refuse a cookie-authenticated change without the session's CSRF token (403).

    The token comes in the ``X-CSRF-Token`` header, or for the server's own HTML forms
    in their hidden ``csrf_token`` field (``form_value``).
    """
    if request.method in SAFE_METHODS or identity.csrf_token is None:
        return
    sent = request.headers.get(CSRF_HEADER, "") or form_value
    if not hmac.compare_digest(sent.encode(), identity.csrf_token.encode()):
        fail(
            web.HTTPForbidden,
            f"a change made from a signed-in browser needs the {CSRF_HEADER} header "
            "(its value is in GET /api/me)",
        )


def _check_role(identity: Identity, allowed: frozenset[Role]) -> None:
    user = identity.user
    if identity.by_session and user.must_change_password:
        fail(web.HTTPForbidden, "choose a new password first, at /password")
    if user.role not in allowed:
        names = " or ".join(sorted(r.value for r in allowed))
        fail(web.HTTPForbidden, f"this needs the {names} role; {user.name} is {user.role}")


def requires(*roles: Role) -> Callable[[Handler], Handler]:
    """Wrap a handler so only users with one of ``roles`` reach it.

    The user is available to the handler as :func:`current_user`.
    """
    allowed = frozenset(roles)

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            identity = await authenticate(request)
            check_csrf(request, identity)
            _check_role(identity, allowed)
            request[identity_key] = identity
            return await handler(request)

        return guarded

    return decorate


def current_user(request: web.Request) -> User:
    """Return the user :func:`requires` let through."""
    return request[identity_key].user


def sign_in_url(request: web.Request) -> str:
    """``/login?next=<this page>``."""
    return "/login?" + urlencode({"next": request.path_qs})


async def page_user(request: web.Request, *roles: Role) -> User | web.Response:
    """The signed-in user of a staff page, or the response to send instead.

    No session: a redirect to ``/login?next=...``; a password to change first: a
    redirect to ``/password``; the wrong role: a 403 page that says so.
    """
    identity = await session_identity(request)
    if identity is None:
        raise web.HTTPSeeOther(sign_in_url(request))
    user = identity.user
    if user.must_change_password:
        raise web.HTTPSeeOther("/password?" + urlencode({"next": request.path_qs}))
    if user.role not in roles:
        names = " or ".join(sorted(r.value for r in roles))
        return forbidden_page(f"This page is for the {names} role; {user.name} is {user.role}.")
    return user


def forbidden_page(reason: str) -> web.Response:
    """A plain 403 page that offers to sign in as someone else."""
    body = f'<p>{escape(reason)}</p>\n<p><a href="/login">Sign in as someone else</a></p>'
    return page("Not allowed", body, 403)


def me_body(identity: Identity) -> dict[str, object]:
    """``GET /api/me``'s answer (also ``POST /login``'s).

    Name and role, and for a signed-in browser the CSRF token its changes must carry.
    """
    user = identity.user
    body: dict[str, object] = {"name": user.name, "role": user.role}
    if identity.csrf_token is not None:
        body["csrf_token"] = identity.csrf_token
        body["must_change_password"] = user.must_change_password
    return body


@requires(*EVERYONE)
async def me(request: web.Request) -> web.Response:
    """Who is signed in, so a page can greet its user and send the CSRF token back."""
    return web.json_response(me_body(request[identity_key]))
