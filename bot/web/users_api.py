"""``/api/users`` (admins: accounts) and ``/api/tokens`` (everyone: API tokens).

An admin adds a colleague with a role (the password and a first API token are shown
once), changes a role, resets a password (the user must choose a new one at their next
sign-in), or disables a leaver; each of those ends the user's sessions at once. An admin
cannot disable or demote themselves, so the service never loses its last admin that way.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from bot import users
from bot.audit import Action
from bot.keys import engine_key, sessions_key, settings_key
from bot.models import ApiToken, Role, User, utcnow
from bot.users import UnknownUser, UserError
from bot.web.audit_api import note
from bot.web.auth import ADMINS, EVERYONE, current_user, requires
from bot.web.errors import fail, read_json

MAX_TOKEN_DAYS = 366


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _public(user: User) -> dict[str, Any]:
    return {
        "name": user.name,
        "role": user.role,
        "disabled": user.disabled,
        "must_change_password": user.must_change_password,
        "created_at": _iso(user.created_at),
        "last_sign_in_at": _iso(user.last_sign_in_at),
    }


def _changed(user: User, changes: list[users.Changed]) -> dict[str, Any]:
    """The answer to a change: the user, and whether their sessions ended with it."""
    ended = all(change.sessions_ended for change in changes)
    body: dict[str, Any] = {"user": _public(user), "sessions_ended": ended}
    if not ended:
        body["warning"] = users.SESSIONS_LEFT
    return body


def _token(token: ApiToken, owner: str, now: datetime) -> dict[str, Any]:
    return {
        "id": token.id,
        "user": owner,
        "created_at": _iso(token.created_at),
        "expires_at": _iso(token.expires_at),
        "revoked_at": _iso(token.revoked_at),
        "state": users.token_state(token, now),
    }


def _lifetime(request: web.Request) -> timedelta:
    return timedelta(days=request.app[settings_key].token_days)


@requires(*ADMINS)
async def list_users(request: web.Request) -> web.Response:
    """Every user with role, state and last sign-in."""
    found = await users.list_users(request.app[engine_key])
    return web.json_response(
        {"users": [_public(u) for u in found], "roles": [r.value for r in Role]}
    )


@requires(*ADMINS)
async def add_user(request: web.Request) -> web.Response:
    """``{"name", "role"}`` → 201 with the user, their password and an API token (once)."""
    body = await read_json(request)
    name, role = body.get("name"), body.get("role")
    if not isinstance(name, str) or not isinstance(role, str):
        fail(web.HTTPUnprocessableEntity, "'name' and 'role' must be strings")
    try:
        user, password, token = await users.add_user(
            request.app[engine_key], name.strip(), role, _lifetime(request)
        )
    except UserError as exc:
        fail(web.HTTPUnprocessableEntity, str(exc))
    await note(request, Action.USER_ADDED, user.name, f"role {user.role}")
    return web.json_response(
        {"user": _public(user), "password": password, "token": token}, status=201
    )


@requires(*ADMINS)
async def change_user(request: web.Request) -> web.Response:
    """``PATCH /api/users/{name}`` with ``role`` and/or ``disabled``."""
    body = await read_json(request)
    name = request.match_info["name"]
    unknown = set(body) - {"role", "disabled"}
    if unknown or not body:
        fail(web.HTTPUnprocessableEntity, "give 'role' and/or 'disabled', nothing else")
    role, disabled = body.get("role"), body.get("disabled")
    if role is not None and not isinstance(role, str):
        fail(web.HTTPUnprocessableEntity, "'role' must be a string")
    if disabled is not None and not isinstance(disabled, bool):
        fail(web.HTTPUnprocessableEntity, "'disabled' must be true or false")
    me = current_user(request)
    if name == me.name and (disabled or (role is not None and role != Role.ADMIN)):
        fail(web.HTTPUnprocessableEntity, "you cannot disable or demote yourself")
    engine, sessions = request.app[engine_key], request.app[sessions_key]
    changed: list[users.Changed] = []
    try:
        user = await users.find_user(engine, name)
        if role is not None:
            changed.append(await users.set_role(engine, sessions, name, role))
        if disabled is not None:
            changed.append(await users.set_disabled(engine, sessions, name, disabled))
        if changed:
            user = changed[-1].user
    except UnknownUser as exc:
        fail(web.HTTPNotFound, str(exc))
    except UserError as exc:
        fail(web.HTTPUnprocessableEntity, str(exc))
    changes = ", ".join(f"{k} {v}" for k, v in sorted(body.items()))
    await note(request, Action.USER_CHANGED, name, changes)
    return web.json_response(_changed(user, changed))


@requires(*ADMINS)
async def reset_password(request: web.Request) -> web.Response:
    """A new temporary password for the user (shown once); they choose their own next."""
    name = request.match_info["name"]
    try:
        changed, password = await users.reset_password(
            request.app[engine_key], request.app[sessions_key], name
        )
    except UnknownUser as exc:
        fail(web.HTTPNotFound, str(exc))
    await note(request, Action.PASSWORD_RESET, name)
    return web.json_response({**_changed(changed.user, [changed]), "password": password})


@requires(*EVERYONE)
async def list_tokens(request: web.Request) -> web.Response:
    """API tokens (never their values): an admin sees everyone's, others their own."""
    me = current_user(request)
    owner = None if me.role == Role.ADMIN else me.id
    found = await users.list_tokens(request.app[engine_key], owner)
    now = utcnow()
    return web.json_response({"tokens": [_token(t, name, now) for t, name in found]})


@requires(*EVERYONE)
async def issue_token(request: web.Request) -> web.Response:
    """A new API token for the caller (``{"days": N}``, default from the settings)."""
    body = await read_json(request)
    days = body.get("days", request.app[settings_key].token_days)
    if (
        isinstance(days, bool)
        or not isinstance(days, int | float)
        or not 0 < days <= MAX_TOKEN_DAYS
    ):
        fail(web.HTTPUnprocessableEntity, f"'days' must be a number from 1 to {MAX_TOKEN_DAYS}")
    me = current_user(request)
    issued = await users.issue_token(request.app[engine_key], me, timedelta(days=days))
    await note(request, Action.TOKEN_ISSUED, f"token {issued.row.id}", f"{days:g} days")
    return web.json_response(
        {**_token(issued.row, me.name, utcnow()), "token": issued.token}, status=201
    )


@requires(*EVERYONE)
async def revoke_token(request: web.Request) -> web.Response:
    """Revoke a token at once: an admin any, others their own."""
    raw = request.match_info["token_id"]
    me = current_user(request)
    if not raw.isdigit():
        fail(web.HTTPNotFound, f"no API token {raw!r}")
    owner = None if me.role == Role.ADMIN else me.id
    try:
        token = await users.revoke_token(request.app[engine_key], int(raw), owner)
    except UnknownUser as exc:
        fail(web.HTTPNotFound, str(exc))
    await note(request, Action.TOKEN_REVOKED, f"token {token.id}")
    return web.json_response({"id": token.id, "state": users.token_state(token, utcnow())})
