"""``outage-bot user``: console users and their API tokens, for whoever runs the service.

The first admin can only be made here. Passwords and tokens are printed once, the secret
alone on the last line, and are never stored in the clear.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bot.cli.database import on_database
from bot.cli.times import local_time
from bot.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.users import Changed


async def _add(engine: AsyncEngine, args: argparse.Namespace, settings: Settings) -> None:
    from datetime import timedelta

    from bot.users import add_user

    lifetime = timedelta(days=settings.token_days)
    user, password, token = await add_user(engine, args.name, args.role, lifetime)
    print(f"created {user.role} user {user.name!r}; password, then API token (shown once):")
    print(password)
    print(token)


async def _list(engine: AsyncEngine, args: argparse.Namespace, settings: Settings) -> None:
    from bot.users import list_users

    print("NAME\tROLE\tSTATE\tLAST SIGN-IN")
    for user in await list_users(engine):
        state = "disabled" if user.disabled else "active"
        if user.must_change_password and not user.disabled:
            state = "must-change-password"
        print(f"{user.name}\t{user.role}\t{state}\t{local_time(user.last_sign_in_at, settings)}")


async def _passwd(engine: AsyncEngine, args: argparse.Namespace, settings: Settings) -> None:
    from bot.sessions import sessions_for
    from bot.users import reset_password

    async with sessions_for(settings, engine) as sessions:
        changed, password = await reset_password(engine, sessions, args.name)
    print(
        f"new temporary password for {changed.user.name!r} (shown once; to be changed at sign-in):"
    )
    print(password)
    _note_sessions_left(changed)


async def _switch(engine: AsyncEngine, args: argparse.Namespace, settings: Settings) -> None:
    from bot.sessions import sessions_for
    from bot.users import set_disabled

    async with sessions_for(settings, engine) as sessions:
        changed = await set_disabled(engine, sessions, args.name, args.action == "disable")
    user = changed.user
    print(f"{user.name!r} is {'disabled: signed out everywhere' if user.disabled else 'enabled'}")
    _note_sessions_left(changed)


def _note_sessions_left(changed: Changed) -> None:
    from bot.users import SESSIONS_LEFT

    if not changed.sessions_ended:
        print(f"(note: {SESSIONS_LEFT})", file=sys.stderr)


async def _tokens(engine: AsyncEngine, args: argparse.Namespace, settings: Settings) -> None:
    from bot.models import utcnow
    from bot.users import list_tokens, token_state

    print("ID\tUSER\tEXPIRES\tSTATE")
    now = utcnow()
    for token, name in await list_tokens(engine):
        expires = local_time(token.expires_at, settings) if token.expires_at else "never"
        print(f"{token.id}\t{name}\t{expires}\t{token_state(token, now)}")


async def _revoke(engine: AsyncEngine, args: argparse.Namespace, settings: Settings) -> None:
    from bot.users import revoke_token

    token = await revoke_token(engine, args.token_id)
    print(f"API token {token.id} is revoked")


ACTIONS: dict[str, Callable[[AsyncEngine, argparse.Namespace, Settings], Awaitable[None]]] = {
    "add": _add,
    "list": _list,
    "passwd": _passwd,
    "disable": _switch,
    "enable": _switch,
    "tokens": _tokens,
    "revoke": _revoke,
}


def user_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``outage-bot user ACTION`` on a prepared database; return 0."""
    action = ACTIONS[args.action]
    return on_database(settings, lambda engine, _locator: action(engine, args, settings))
