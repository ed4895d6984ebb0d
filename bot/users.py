"""Console users: agents, comms staff and admins, with secrets stored only as hashes.

Passwords (for signing in at ``/login``) are hashed with Argon2, which is slow on
purpose; a name that does not exist is checked against a dummy hash all the same, so
the time an answer takes does not tell whether the name exists. API tokens (for
scripts) are long random strings checked on every request, so they are stored as a
SHA-256 digest: unguessable input makes a fast hash safe and keeps the check to one
indexed lookup. Tokens expire and can be revoked; a user may hold several.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import ApiToken, Role, User, utcnow
from bot.sessions import SessionStore

_HASHER = PasswordHasher()
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,79}$")

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256


class UserError(ValueError):
    """A user cannot be created or changed as asked; the message says why."""


class UnknownUser(UserError):
    """No user has that name (or id)."""


def token_digest(token: str) -> str:
    """Return the stored form of an API token."""
    return hashlib.sha256(token.encode()).hexdigest()


def parse_role(value: str) -> Role:
    """Return the role named ``value``.

    Raises:
        UserError: not a role.
    """
    try:
        return Role(value.strip().lower())
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise UserError(f"role must be one of {roles}, got {value!r}") from None


def check_password(password: str) -> None:
    """Refuse a password too short to resist guessing (or absurdly long to hash).

    Raises:
        UserError: what is wrong with it.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UserError(f"a password may have at most {MAX_PASSWORD_LENGTH} characters")


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the name is unknown, so that answer takes as long as any."""
    return _HASHER.hash(secrets.token_urlsafe(16))


def _verify_dummy(password: str) -> None:
    with contextlib.suppress(VerificationError):
        _HASHER.verify(_dummy_hash(), password)


async def _hash(password: str) -> str:
    """Hash in a thread: Argon2 takes tens of milliseconds of CPU, seconds on a loaded machine.

    Customers' messages are not held up meanwhile (argon2-cffi releases the GIL).
    """
    return await asyncio.to_thread(_HASHER.hash, password)


def _new_password() -> str:
    return secrets.token_urlsafe(12)  # 16 characters, 96 random bits


@dataclass(frozen=True)
class Issued:
    """A new API token: the row, and the token itself (shown this once only)."""

    row: ApiToken
    token: str


def _issue(user_id: int, lifetime: timedelta | None) -> Issued:
    token = secrets.token_urlsafe(32)
    expires = utcnow() + lifetime if lifetime is not None else None
    return Issued(
        ApiToken(user_id=user_id, token_hash=token_digest(token), expires_at=expires), token
    )


async def add_user(
    engine: AsyncEngine, name: str, role: str, token_lifetime: timedelta | None = None
) -> tuple[User, str, str]:
    """Create a user with a fresh random password and API token.

    Args:
        engine: the database.
        name: the user name.
        role: agent, comms or admin.
        token_lifetime: how long the API token lasts; ``None`` for ever.

    Returns:
        The user, the password and the API token. Both secrets are shown this once only;
        the database keeps just their hashes.

    Raises:
        UserError: the name is malformed or taken, or the role is unknown.
    """
    if not _NAME.match(name):
        raise UserError(
            f"user name {name!r} must be 1-80 letters, digits or . _ @ - and start with "
            "a letter or digit"
        )
    user_role = parse_role(role)
    password = _new_password()
    user = User(name=name, role=user_role, password_hash=await _hash(password))
    async with AsyncSession(engine, expire_on_commit=False) as session:
        session.add(user)
        try:
            await session.flush()
        except IntegrityError:
            raise UserError(f"a user called {name!r} already exists") from None
        assert user.id is not None
        issued = _issue(user.id, token_lifetime)
        session.add(issued.row)
        await session.commit()
    return user, password, issued.token


async def has_users(engine: AsyncEngine) -> bool:
    """Whether any user exists (the first start creates an admin when none does)."""
    async with AsyncSession(engine) as session:
        return (await session.exec(select(User.id).limit(1))).first() is not None


async def authenticate_token(engine: AsyncEngine, token: str) -> User | None:
    """Return the user an API token belongs to.

    ``None`` for an unknown, expired or revoked token, or a disabled user.
    """
    if not token:
        return None
    async with AsyncSession(engine, expire_on_commit=False) as session:
        row = await session.exec(
            select(ApiToken, User)
            .join(User, col(User.id) == ApiToken.user_id)
            .where(ApiToken.token_hash == token_digest(token))
        )
        found = row.first()
    if found is None:
        return None
    issued, user = found
    if user.disabled or issued.revoked_at is not None:
        return None
    if issued.expires_at is not None and issued.expires_at <= utcnow():
        return None
    return user


def verify_password(user: User, password: str) -> bool:
    """Whether ``password`` is ``user``'s password."""
    try:
        return _HASHER.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def authenticate_password(engine: AsyncEngine, name: str, password: str) -> User | None:
    """Return the enabled user called ``name`` if ``password`` is theirs, else ``None``.

    Every answer costs one Argon2 verification, whether the name exists or not.
    """
    async with AsyncSession(engine, expire_on_commit=False) as session:
        user = (await session.exec(select(User).where(User.name == name))).first()
    if user is None or user.disabled:
        await asyncio.to_thread(_verify_dummy, password)
        return None
    if not await asyncio.to_thread(verify_password, user, password):
        return None
    return user


async def signed_in(engine: AsyncEngine, user: User) -> None:
    """Remember when ``user`` last signed in (the users page shows it)."""
    async with AsyncSession(engine) as session:
        stored = await session.get(User, user.id)
        if stored is not None:
            stored.last_sign_in_at = utcnow()
            session.add(stored)
            await session.commit()


SESSIONS_LEFT = (
    "their sessions could not be ended yet (staff sessions are unavailable: Redis cannot "
    "be reached); every request checks the user's row, so the change already refuses them"
)
"""What an admin is told when :attr:`Changed.sessions_ended` is ``False``."""


@dataclass(frozen=True)
class Changed:
    """A user as changed, and whether their sessions ended with the change.

    ``sessions_ended`` is ``False`` when the change is committed but Redis could not be
    reached to end the sessions; they are refused all the same when used, since every
    use reads the user's row (:mod:`bot.sessions.redis`).
    """

    user: User
    sessions_ended: bool


async def _change(
    engine: AsyncEngine, sessions: SessionStore, name: str, **values: object
) -> Changed:
    """Set ``values`` on the user called ``name``; their sessions end with the change."""
    async with AsyncSession(engine, expire_on_commit=False) as session:
        user = (await session.exec(select(User).where(User.name == name))).first()
        if user is None:
            raise UnknownUser(f"no user called {name!r}")
        for field, value in values.items():
            setattr(user, field, value)
        session.add(user)
        assert user.id is not None
        ended = await sessions.commit_signed_out(session, user.id)
    return Changed(user, ended)


async def list_users(engine: AsyncEngine) -> list[User]:
    """Every user, by name."""
    async with AsyncSession(engine) as session:
        return list((await session.exec(select(User).order_by(col(User.name)))).all())


async def find_user(engine: AsyncEngine, name: str) -> User:
    """The user called ``name``.

    Raises:
        UnknownUser: there is none.
    """
    async with AsyncSession(engine) as session:
        user = (await session.exec(select(User).where(User.name == name))).first()
    if user is None:
        raise UnknownUser(f"no user called {name!r}")
    return user


async def set_role(engine: AsyncEngine, sessions: SessionStore, name: str, role: str) -> Changed:
    """Give ``name`` another role; they sign in again to use it."""
    return await _change(engine, sessions, name, role=parse_role(role))


async def set_disabled(
    engine: AsyncEngine, sessions: SessionStore, name: str, disabled: bool
) -> Changed:
    """Switch a user off (their sessions end and their tokens stop working) or on again."""
    return await _change(engine, sessions, name, disabled=disabled)


async def reset_password(
    engine: AsyncEngine, sessions: SessionStore, name: str
) -> tuple[Changed, str]:
    """Give ``name`` a new random password they must change when they next sign in.

    Returns:
        The change and the temporary password (shown this once).
    """
    password = _new_password()
    changed = await _change(
        engine, sessions, name, password_hash=await _hash(password), must_change_password=True
    )
    return changed, password


async def change_password(
    engine: AsyncEngine, sessions: SessionStore, user: User, current: str, new: str
) -> User:
    """The user's own change: ``current`` must be right and ``new`` long enough and new.

    Every session of the user ends, so the caller signs the browser in afresh.

    Raises:
        UserError: the current password is wrong or the new one is not acceptable.
    """
    if not await asyncio.to_thread(verify_password, user, current):
        raise UserError("the current password is not right")
    check_password(new)
    if new == current:
        raise UserError("the new password must differ from the current one")
    changed = await _change(
        engine, sessions, user.name, password_hash=await _hash(new), must_change_password=False
    )
    return changed.user


async def issue_token(engine: AsyncEngine, user: User, lifetime: timedelta | None) -> Issued:
    """A new API token for ``user``, valid for ``lifetime`` (``None``: until revoked)."""
    assert user.id is not None
    issued = _issue(user.id, lifetime)
    async with AsyncSession(engine, expire_on_commit=False) as session:
        session.add(issued.row)
        await session.commit()
    return issued


async def list_tokens(
    engine: AsyncEngine, user_id: int | None = None
) -> list[tuple[ApiToken, str]]:
    """API tokens (never their values) with their owners' names, newest first."""
    statement = (
        select(ApiToken, User.name)
        .join(User, col(User.id) == ApiToken.user_id)
        .order_by(col(ApiToken.id).desc())
    )
    if user_id is not None:
        statement = statement.where(ApiToken.user_id == user_id)
    async with AsyncSession(engine) as session:
        return [(token, name) for token, name in (await session.exec(statement)).all()]


async def revoke_token(
    engine: AsyncEngine, token_id: int, owner_id: int | None = None
) -> ApiToken:
    """Revoke a token at once; ``owner_id`` limits it to that user's own tokens.

    Raises:
        UnknownUser: no such token (of that owner).
    """
    async with AsyncSession(engine, expire_on_commit=False) as session:
        token = await session.get(ApiToken, token_id)
        if token is None or (owner_id is not None and token.user_id != owner_id):
            raise UnknownUser(f"no API token {token_id}")
        if token.revoked_at is None:
            token.revoked_at = utcnow()
            session.add(token)
            await session.commit()
    return token


def token_state(token: ApiToken, now: datetime) -> str:
    """``active``, ``expired`` or ``revoked``."""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "active"
