"""Slowing down password guessing: failed sign-ins per user name and per address.

After ``LIMIT`` failures within ``WINDOW`` for the same user name, or from the same
client address, further attempts are refused without checking the password until the
oldest of those failures leaves the window. The count is kept in the database, so it
holds across workers and restarts. Names that do not exist are counted like any other,
so the refusal says nothing about which names exist.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import SignInFailure, utcnow

LIMIT = 5
WINDOW = timedelta(minutes=15)


def _key(username: str) -> str:
    return username.strip().lower()[:80]


async def retry_after(engine: AsyncEngine, username: str, address: str) -> int | None:
    """Seconds until another attempt for ``username`` from ``address`` may be made.

    ``None`` when one may be made now.
    """
    now = utcnow()
    since = now - WINDOW
    waits: list[datetime] = []
    async with AsyncSession(engine) as session:
        for column, value in (
            (SignInFailure.username, _key(username)),
            (SignInFailure.address, address),
        ):
            recent = (
                select(SignInFailure.at)
                .where(column == value, col(SignInFailure.at) > since)
                .order_by(col(SignInFailure.at).desc())
                .limit(LIMIT)
            )
            times = list((await session.exec(recent)).all())
            if len(times) >= LIMIT:
                waits.append(times[-1] + WINDOW)
    if not waits:
        return None
    return max(1, math.ceil((max(waits) - now).total_seconds()))


async def failed(engine: AsyncEngine, username: str, address: str) -> None:
    """Count one failed attempt (and forget those that left the window long ago)."""
    async with AsyncSession(engine) as session:
        session.add(SignInFailure(username=_key(username), address=address[:64]))
        await session.exec(
            delete(SignInFailure).where(col(SignInFailure.at) < utcnow() - 2 * WINDOW)
        )
        await session.commit()


async def succeeded(engine: AsyncEngine, username: str) -> None:
    """The right password was given: the name's earlier failures no longer count.

    The address's failures still do, so one correct password does not reopen guessing
    at other names from the same place.
    """
    async with AsyncSession(engine) as session:
        await session.exec(
            delete(SignInFailure).where(col(SignInFailure.username) == _key(username))
        )
        await session.commit()
