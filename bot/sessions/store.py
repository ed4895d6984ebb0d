"""What every session store promises, and the rules they share.

The cookie carries ``secrets.token_urlsafe(32)``; a store keeps only its SHA-256 digest,
so a copy of the database or of Redis signs nobody in. A session ends when it has been
idle too long, when it reaches its absolute lifetime, when its user signs out, is
disabled, gets a new password or a new role, whichever comes first. Both stores check
the user's row on every use, so a disabled user is refused even before their sessions
are gone.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import User
from bot.settings import Settings

TOUCH_EVERY = timedelta(minutes=1)
"""How stale the last use may get before a request writes it again (one write a minute
per session, not one per request)."""

Clock = Callable[[], datetime]
"""Where a store reads the time (tests move it on instead of waiting)."""


@dataclass(frozen=True)
class SessionPolicy:
    """How long a session lives: ``idle`` since its last use, ``lifetime`` in all."""

    idle: timedelta
    lifetime: timedelta

    @classmethod
    def of(cls, settings: Settings) -> SessionPolicy:
        """The idle timeout and absolute lifetime the settings give sessions."""
        return cls(
            idle=timedelta(minutes=settings.session_idle_minutes),
            lifetime=timedelta(hours=settings.session_max_hours),
        )

    def expired(self, created_at: datetime, last_seen_at: datetime, now: datetime) -> bool:
        """Whether a session started and last written at these times is over."""
        return now - last_seen_at > self.idle or now - created_at > self.lifetime


@dataclass(frozen=True)
class Opened:
    """A new session: the cookie's value and the CSRF token its pages must send back."""

    session_id: str
    csrf_token: str

    @classmethod
    def fresh(cls) -> Opened:
        """Two new random values."""
        return cls(secrets.token_urlsafe(32), secrets.token_urlsafe(32))


@dataclass(frozen=True)
class Current:
    """A live session's user and CSRF token."""

    user: User
    csrf_token: str


class SessionsUnavailable(Exception):
    """The store cannot be reached (Redis is down): no session can be checked now.

    Nor opened or ended, until it is back. Staff get a 503 that says so, not a 500.
    """


def digest(session_id: str) -> str:
    """What a store keeps of a cookie's id."""
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore(Protocol):
    """Where sessions live: the database, or Redis when ``REDIS_URL`` is set."""

    async def open(self, user: User) -> Opened:
        """Start a session for ``user`` (who has just proved their password)."""
        ...

    async def current(self, session_id: str) -> Current | None:
        """The user of a live session, or ``None``; an ended one is deleted on the way."""
        ...

    async def end(self, session_id: str) -> None:
        """Sign one browser out."""
        ...

    async def commit_signed_out(self, transaction: AsyncSession, user_id: int) -> bool:
        """Commit ``transaction`` (a change to the user) and end all of the user's sessions.

        Returns:
            Whether the sessions ended; ``False`` when the change is committed but the
            store could not be reached, leaving sessions that are refused when used.
        """
        ...
