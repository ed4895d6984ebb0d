"""Sessions in Redis: the store with ``REDIS_URL``, so the database sees no session writes.

One hash per session, keyed by the cookie id's digest: user id, CSRF token, when it
started and when it was last written (at most once a minute, like the database store),
and a stamp of the user's role and password hash. Its TTL is the shorter of the idle
timeout and what is left of the absolute lifetime, so Redis forgets ended sessions by
itself: there is nothing to sweep. A set per user holds the digests of their sessions,
so all of them can be ended at once.

Sessions survive a restart of the service, but only as long as Redis keeps its data:
a Redis restarted without persistence signs everyone out. While Redis cannot be reached,
every call raises :class:`~bot.sessions.store.SessionsUnavailable` (staff get a 503), except
the end of a changed user's sessions, which the user's row check covers (see
:meth:`RedisSessions.commit_signed_out`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import User, utcnow
from bot.sessions.store import (
    TOUCH_EVERY,
    Clock,
    Current,
    Opened,
    SessionPolicy,
    SessionsUnavailable,
    digest,
)

log = logging.getLogger(__name__)

PREFIX = "outage-bot:staff-session:"
USER_PREFIX = "outage-bot:staff-sessions-of:"

_TOUCH = """
if redis.call('EXISTS', KEYS[1]) == 1 then
    redis.call('HSET', KEYS[1], 'last_seen_at', ARGV[1])
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
"""
"""Write the last use only while the session exists: a session ended by another worker
between our read and this write must not come back as a hash without a user."""


def stamp(user: User) -> str:
    """What a session remembers of its user's role and password.

    Ending a user's sessions in Redis follows the database's commit and could be lost
    (Redis unreachable for that moment); a session whose stamp no longer matches the
    user's row is refused all the same, so a new password or role still ends it.
    """
    return hashlib.sha256(f"{user.role}\n{user.password_hash}".encode()).hexdigest()[:32]


def _text(value: bytes | str) -> str:
    """A value as Redis gave it (bytes, unless the client decodes responses)."""
    return value.decode() if isinstance(value, bytes) else value


def _ms(delta: timedelta) -> int:
    return max(1, int(delta.total_seconds() * 1000))


@contextmanager
def _reaching_redis() -> Iterator[None]:
    """Turn "Redis cannot be reached" into :class:`SessionsUnavailable`."""
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError) as error:
        raise SessionsUnavailable("staff sessions are unavailable") from error


class RedisSessions:
    """Sessions in Redis; the user's row (for ``disabled`` and the stamp) in the database."""

    def __init__(
        self, redis: Redis, engine: AsyncEngine, policy: SessionPolicy, clock: Clock = utcnow
    ) -> None:
        self._redis = redis
        self._engine = engine
        self._policy = policy
        self._clock = clock
        self._touch = redis.register_script(_TOUCH)

    def _ttl(self, created_at: datetime, now: datetime) -> int:
        """Milliseconds until the session ends unless used again."""
        return _ms(min(self._policy.idle, self._policy.lifetime - (now - created_at)))

    async def open(self, user: User) -> Opened:
        """Start a session for ``user`` (who has just proved their password)."""
        with _reaching_redis():
            assert user.id is not None
            opened = Opened.fresh()
            now = self._clock()
            hashed = digest(opened.session_id)
            mine = f"{USER_PREFIX}{user.id}"
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(
                    PREFIX + hashed,
                    mapping={
                        "user_id": user.id,
                        "csrf_token": opened.csrf_token,
                        "created_at": now.timestamp(),
                        "last_seen_at": now.timestamp(),
                        "stamp": stamp(user),
                    },
                )
                pipe.pexpire(PREFIX + hashed, self._ttl(now, now))
                pipe.sadd(mine, hashed)
                # Outlives every session in it: the newest is the last to end.
                pipe.pexpire(mine, _ms(self._policy.lifetime))
                await pipe.execute()
            return opened

    async def current(self, session_id: str) -> Current | None:
        """The user of a live session, or ``None``; an ended one is deleted on the way."""
        with _reaching_redis():
            if not session_id:
                return None
            hashed = digest(session_id)
            raw = await self._redis.hgetall(PREFIX + hashed)
            if not raw:
                return None
            fields = {_text(key): _text(value) for key, value in raw.items()}
            user_id = int(fields["user_id"])
            created_at = datetime.fromtimestamp(float(fields["created_at"]), UTC)
            last_seen_at = datetime.fromtimestamp(float(fields["last_seen_at"]), UTC)
            now = self._clock()
            async with AsyncSession(self._engine, expire_on_commit=False) as session:
                user = await session.get(User, user_id)
            if (
                user is None
                or user.disabled
                or stamp(user) != fields["stamp"]
                or self._policy.expired(created_at, last_seen_at, now)
            ):
                await self._forget(hashed, user_id)
                return None
            if now - last_seen_at > TOUCH_EVERY:
                await self._touch(
                    keys=[PREFIX + hashed], args=[now.timestamp(), self._ttl(created_at, now)]
                )
            return Current(user, fields["csrf_token"])

    async def end(self, session_id: str) -> None:
        """Sign one browser out."""
        with _reaching_redis():
            hashed = digest(session_id)
            user_id = await self._redis.hget(PREFIX + hashed, "user_id")
            if user_id is not None:
                await self._forget(hashed, int(user_id))

    async def _forget(self, hashed: str, user_id: int) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(PREFIX + hashed)
            pipe.srem(f"{USER_PREFIX}{user_id}", hashed)
            await pipe.execute()

    async def commit_signed_out(self, transaction: AsyncSession, user_id: int) -> bool:
        """Commit ``transaction``, then end the user's sessions in Redis.

        Redis cannot join the database's transaction, so the order decides what a race
        or a failure in between leaves. Ending the sessions first would let a sign-in
        with the old password, between the two steps, keep a session past the change.
        Committing first, a failure to reach Redis afterwards leaves sessions that
        :meth:`current` refuses anyway: it reads the user's row on every use (a disabled
        user is rejected) and compares the session's stamp with the row's role and
        password hash (a new password or role is too). So the change stands, and the
        caller is told the sessions are left to that check (``False``).
        """
        await transaction.commit()
        try:
            await self.end_all(user_id)
        except SessionsUnavailable:
            log.warning(
                "user %s was changed, but Redis cannot be reached to end their staff "
                "sessions; each is refused when used, by the check of the user's row",
                user_id,
            )
            return False
        return True

    async def end_all(self, user_id: int) -> None:
        """End every session of ``user_id``."""
        with _reaching_redis():
            mine = f"{USER_PREFIX}{user_id}"
            # Read and drop the set at once: a session opened after this is not ended.
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.smembers(mine)
                pipe.delete(mine)
                members, _ = await pipe.execute()
            if members:
                await self._redis.delete(*(PREFIX + _text(member) for member in members))
