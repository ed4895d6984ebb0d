"""Console users: agents, comms staff and admins, with secrets stored only as hashes.

Passwords (for the web console's login) are hashed with Argon2, which is slow on purpose.
API tokens are long random strings checked on every request, so they are stored as a
SHA-256 digest: unguessable input makes a fast hash safe and keeps the check to one
indexed lookup.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import Role, User

_HASHER = PasswordHasher()
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,79}$")


class UserError(ValueError):
    """A user cannot be created as asked; the message says why."""


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


async def add_user(engine: AsyncEngine, name: str, role: str) -> tuple[User, str, str]:
    """Create a user with a fresh random password and API token.

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
    password = secrets.token_urlsafe(12)
    token = secrets.token_urlsafe(32)
    user = User(
        name=name,
        role=user_role,
        password_hash=_HASHER.hash(password),
        token_hash=token_digest(token),
    )
    async with AsyncSession(engine, expire_on_commit=False) as session:
        session.add(user)
        try:
            await session.commit()
        except IntegrityError:
            raise UserError(f"a user called {name!r} already exists") from None
    return user, password, token


async def has_users(engine: AsyncEngine) -> bool:
    """Whether any user exists (the first start creates an admin when none does)."""
    async with AsyncSession(engine) as session:
        return (await session.exec(select(User.id).limit(1))).first() is not None


async def authenticate_token(engine: AsyncEngine, token: str) -> User | None:
    """Return the user an API token belongs to, or ``None`` for an unknown token."""
    if not token:
        return None
    async with AsyncSession(engine, expire_on_commit=False) as session:
        row = await session.exec(select(User).where(User.token_hash == token_digest(token)))
        return row.first()


def verify_password(user: User, password: str) -> bool:
    """Whether ``password`` is ``user``'s password."""
    try:
        return _HASHER.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def authenticate_password(engine: AsyncEngine, name: str, password: str) -> User | None:
    """Return the user called ``name`` if ``password`` is theirs, else ``None``."""
    async with AsyncSession(engine, expire_on_commit=False) as session:
        user = (await session.exec(select(User).where(User.name == name))).first()
    if user is None or not verify_password(user, password):
        return None
    return user
