"""``/login``, ``/logout`` and ``/password``: staff sign in once per browser.

``POST /login`` takes the page's form (answered with a redirect to ``next``) or a JSON
body ``{"username", "password"}`` (answered with ``/api/me``'s body, or 401). Every
answer to a wrong name or password is the same, and failures are limited per name and
per address (:mod:`bot.lockout`; the address behind our proxies,
:mod:`bot.client_address`) with a 429 and ``Retry-After``. A new session id is
issued on every sign-in, so a cookie planted before it is worth nothing after.

The form is guarded against login CSRF (another site's form signing a victim's browser
into the attacker's account) by a double-submit token: ``GET /login`` puts the same
random value in a short-lived cookie (``SameSite=Strict``, ``Path=/login``) and in the
form's hidden ``csrf_token`` field, and a form ``POST /login`` must carry both, equal.
Another site can make a browser send the cookie only with a same-site request, and can
read neither value. The JSON body needs no token: a page on another site can send
``Content-Type: application/json`` only after a CORS preflight, which this app never
allows, and a JSON body sent as anything else (``text/plain``, say) is read as a form.
"""

from __future__ import annotations

import hmac
import re
import secrets
from html import escape
from typing import Any
from urllib.parse import urlencode, urlsplit

from aiohttp import web

from bot import audit, lockout
from bot.keys import engine_key, sessions_key, settings_key
from bot.models import Role, User
from bot.users import UserError, authenticate_password, change_password, signed_in
from bot.web import client_address
from bot.web.auth import (
    COOKIE,
    Identity,
    check_csrf,
    me_body,
    session_identity,
    sign_in_url,
)
from bot.web.errors import fail, read_form, read_json
from bot.web.plain_page import page, sentence

HOME = {Role.AGENT: "/console", Role.COMMS: "/admin", Role.ADMIN: "/console"}
"""Where a sign-in without ``next`` lands."""

WRONG = "the user name or password is not right"

FORM_COOKIE = "outage_bot_login_csrf"
"""The sign-in form's own CSRF cookie, set by every sign-in page, cleared by signing in."""
FORM_SECONDS = 3600
"""How long a sign-in form stays usable."""
FORM_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
"""The shape of ``secrets.token_urlsafe(32)``: any other cookie value is never ours."""
EXPIRED = "Your sign-in form expired, please try again."


def safe_next(value: object, user: User | None = None) -> str:
    r"""``value`` if it is a path on this site, else the user's home page.

    Only a local path is followed, so a link cannot send someone who signs in to another
    site (``//evil.example``, ``https://...``, ``/\\evil.example`` are all refused).
    """
    home = HOME.get(Role(user.role), "/console") if user is not None else "/console"
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        return home
    if "\\" in value or any(ord(c) < 32 for c in value):
        return home
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return home
    return value


def _field(
    name: str, label: str, kind: str, autocomplete: str, value: str = "", focus: bool = False
) -> str:
    return (
        f'<label for="{name}">{label}</label>\n'
        f'<input id="{name}" name="{name}" type="{kind}" autocomplete="{autocomplete}" '
        f'value="{escape(value)}" required{" autofocus" if focus else ""}>\n'
    )


def _held_form_token(request: web.Request) -> str | None:
    """The sign-in form token in the browser's cookie, if it has one of our shape."""
    held = request.cookies.get(FORM_COOKIE, "")
    return held if FORM_TOKEN.fullmatch(held) else None


def _form_token_sent(request: web.Request, sent: object) -> bool:
    """Whether a form ``POST /login`` carries the token of its browser's cookie."""
    held = _held_form_token(request)
    return (
        held is not None
        and isinstance(sent, str)
        and hmac.compare_digest(held.encode(), sent.encode())
    )


def _sign_in_page(
    request: web.Request,
    next_path: str,
    error: str = "",
    username: str = "",
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """The form, with a token that matches the cookie set beside it.

    The browser's token is kept while it has one, so forms open in two tabs both work.
    """
    token = _held_form_token(request) or secrets.token_urlsafe(32)
    body = (
        f'<p class="error" role="alert">{escape(error)}</p>\n'
        '<form method="post" action="/login">\n'
        + _field("username", "User name", "text", "username", username, focus=not username)
        + _field("password", "Password", "password", "current-password", focus=bool(username))
        + f'<input type="hidden" name="next" value="{escape(next_path)}">\n'
        f'<input type="hidden" name="csrf_token" value="{token}">\n'
        '<button type="submit">Sign in</button>\n</form>\n'
        '<p class="muted">One sign-in serves the agent console, the comms console and every '
        "other staff page, in every tab.</p>"
    )
    response = page("Sign in", body, status, headers)
    response.set_cookie(
        FORM_COOKIE,
        token,
        max_age=FORM_SECONDS,
        path="/login",
        httponly=True,
        secure=request.app[settings_key].behind_https,
        samesite="Strict",
    )
    return response


def _password_page(
    identity: Identity, next_path: str, error: str = "", status: int = 200
) -> web.Response:
    user = identity.user
    why = (
        "Your password was reset: choose your own before you go on."
        if user.must_change_password
        else f"Signed in as {user.name}."
    )
    body = (
        f'<p>{escape(why)}</p>\n<p class="error" role="alert">{escape(error)}</p>\n'
        '<form method="post" action="/password">\n'
        + _field("current", "Current password", "password", "current-password", focus=True)
        + _field("new", "New password (at least 12 characters)", "password", "new-password")
        + _field("again", "New password again", "password", "new-password")
        + f'<input type="hidden" name="next" value="{escape(next_path)}">\n'
        f'<input type="hidden" name="csrf_token" value="{escape(identity.csrf_token or "")}">\n'
        '<button type="submit">Change password</button>\n</form>'
    )
    if not user.must_change_password:
        body += f'\n<p class="muted"><a href="{escape(safe_next(next_path, user))}">Back</a></p>'
    return page("Choose a new password", body, status)


def _redirect(target: str) -> web.Response:
    return web.Response(status=303, headers={"Location": target})


def _is_json(request: web.Request) -> bool:
    return request.content_type == "application/json"


async def _fields(request: web.Request, *names: str) -> dict[str, Any]:
    """The named fields of a JSON body or a form, as given (not checked)."""
    if _is_json(request):
        body = await read_json(request)
    else:
        body = await read_form(request)
    return {name: body.get(name) for name in names}


def _set_cookie(request: web.Request, response: web.StreamResponse, session_id: str) -> None:
    settings = request.app[settings_key]
    response.set_cookie(
        COOKIE,
        session_id,
        max_age=int(settings.session_max_hours * 3600),
        path="/",
        httponly=True,
        secure=settings.behind_https,
        samesite="Lax",
    )


async def _start_session(request: web.Request, user: User) -> tuple[str, Identity]:
    """A fresh session for ``user``, ending the browser's previous one if it had one."""
    sessions = request.app[sessions_key]
    old = request.cookies.get(COOKIE)
    if old:
        await sessions.end(old)
    opened = await sessions.open(user)
    return opened.session_id, Identity(user, opened.csrf_token)


async def login_page(request: web.Request) -> web.Response:
    """``GET /login``: the form (someone already signed in goes straight on)."""
    identity = await session_identity(request)
    target = safe_next(request.query.get("next"), identity.user if identity else None)
    if identity is not None and not identity.user.must_change_password:
        raise web.HTTPSeeOther(target)
    return _sign_in_page(request, request.query.get("next", ""))


async def login(request: web.Request) -> web.Response:
    """``POST /login``: check the password, start a session, set the cookie.

    A form without its browser's sign-in form token gets the form again (403) before
    anything else is looked at, so a forged form neither signs in nor counts toward the
    guessing limit. JSON is taken without a token (see the module's docstring).
    """
    json = _is_json(request)
    fields = await _fields(request, "username", "password", "next", "csrf_token")
    next_path = str(fields["next"] or "")
    if not json and not _form_token_sent(request, fields["csrf_token"]):
        return _sign_in_page(request, next_path, EXPIRED, status=403)
    name, password = fields["username"], fields["password"]
    if not isinstance(name, str) or not isinstance(password, str) or not name or not password:
        if json:
            fail(web.HTTPBadRequest, "'username' and 'password' must be non-empty strings")
        return _sign_in_page(request, next_path, "Give your user name and password.", status=400)
    engine = request.app[engine_key]
    address = client_address.of(request)
    wait = await lockout.retry_after(engine, name, address)
    if wait is not None:
        minutes = max(1, round(wait / 60))
        reason = f"too many failed sign-ins: try again in about {minutes} minute(s)"
        headers = {"Retry-After": str(wait)}
        if json:
            return web.json_response({"error": reason}, status=429, headers=headers)
        return _sign_in_page(request, next_path, reason, name, 429, headers)
    user = await authenticate_password(engine, name, password)
    if user is None:
        await lockout.failed(engine, name, address)
        if json:
            fail(web.HTTPUnauthorized, WRONG)
        return _sign_in_page(request, next_path, sentence(WRONG), name, 401)
    await lockout.succeeded(engine, name)
    await signed_in(engine, user)
    session_id, identity = await _start_session(request, user)
    await audit.record(engine, user.name, audit.Action.SIGN_IN, detail=f"from {address}")
    response: web.Response
    if json:
        response = web.json_response(me_body(identity))
    else:
        target = safe_next(fields["next"], user)
        if user.must_change_password:
            target = "/password?" + urlencode({"next": target})
        response = _redirect(target)
    if FORM_COOKIE in request.cookies:
        response.del_cookie(FORM_COOKIE, path="/login")
    _set_cookie(request, response, session_id)
    return response


async def logout(request: web.Request) -> web.Response:
    """``POST /logout``: end this browser's session (CSRF-checked like any change)."""
    identity = await session_identity(request)
    form = {} if _is_json(request) else await read_form(request)
    engine = request.app[engine_key]
    if identity is not None:
        check_csrf(request, identity, str(form.get("csrf_token", "")))
        await request.app[sessions_key].end(request.cookies[COOKIE])
        await audit.record(engine, identity.user.name, audit.Action.SIGN_OUT)
    response: web.Response
    if form or request.content_type == "application/x-www-form-urlencoded":
        response = _redirect("/login")
    else:
        response = web.json_response({"signed_out": True})
    response.del_cookie(COOKIE, path="/")
    return response


async def password_page(request: web.Request) -> web.Response:
    """``GET /password``: the form to choose a new password."""
    identity = await session_identity(request)
    if identity is None:
        raise web.HTTPSeeOther(sign_in_url(request))
    return _password_page(identity, request.query.get("next", ""))


async def change(request: web.Request) -> web.Response:
    """``POST /password``: the signed-in user's own new password.

    A form, or JSON ``{"current", "new"}``; every other session of theirs ends.
    """
    identity = await session_identity(request)
    if identity is None:
        fail(web.HTTPUnauthorized, "sign in at /login first")
    json = _is_json(request)
    fields = await _fields(request, "current", "new", "again", "next", "csrf_token")
    check_csrf(request, identity, str(fields["csrf_token"] or ""))
    current, new = fields["current"], fields["new"]
    error = ""
    if not isinstance(current, str) or not isinstance(new, str):
        error = "'current' and 'new' must be strings"
    elif not json and new != fields["again"]:
        error = "the two new passwords differ"
    else:
        try:
            user = await change_password(
                request.app[engine_key], request.app[sessions_key], identity.user, current, new
            )
        except UserError as exc:
            error = str(exc)
    if error:
        if json:
            fail(web.HTTPUnprocessableEntity, error)
        return _password_page(identity, str(fields["next"] or ""), sentence(error), 422)
    await audit.record(request.app[engine_key], user.name, audit.Action.PASSWORD_CHANGED)
    session_id, fresh = await _start_session(request, user)
    response: web.Response = (
        web.json_response(me_body(fresh)) if json else _redirect(safe_next(fields["next"], user))
    )
    _set_cookie(request, response, session_id)
    return response
