from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import Role, User
from bot.users import (
    UserError,
    add_user,
    authenticate_password,
    authenticate_token,
    token_digest,
    verify_password,
)


async def test_add_user_returns_secrets_and_stores_only_hashes(engine: AsyncEngine) -> None:
    user, password, token = await add_user(engine, "alice", "comms")
    assert user.role == Role.COMMS and user.id is not None
    async with AsyncSession(engine) as session:
        stored = (await session.exec(select(User).where(User.name == "alice"))).one()
    assert password not in stored.password_hash and stored.password_hash.startswith("$argon2")
    assert stored.token_hash == token_digest(token) and token not in stored.token_hash
    assert len(token) >= 40


async def test_token_authenticates_its_user_only(engine: AsyncEngine) -> None:
    alice, _, token = await add_user(engine, "alice", "agent")
    assert alice.id is not None
    await add_user(engine, "bob", "admin")
    found = await authenticate_token(engine, token)
    assert found is not None and found.id == alice.id
    assert await authenticate_token(engine, token + "x") is None
    assert await authenticate_token(engine, "") is None


async def test_password_verification(engine: AsyncEngine) -> None:
    user, password, _ = await add_user(engine, "carol", "agent")
    assert verify_password(user, password)
    assert not verify_password(user, password + "!")
    assert (await authenticate_password(engine, "carol", password)) is not None
    assert await authenticate_password(engine, "carol", "wrong") is None
    assert await authenticate_password(engine, "nobody", password) is None


@pytest.mark.parametrize(
    ("name", "role", "message"),
    [
        ("dave", "boss", "role must be one of"),
        ("", "agent", "must be 1-80"),
        ("two words", "agent", "must be 1-80"),
    ],
)
async def test_bad_users_are_refused(
    engine: AsyncEngine, name: str, role: str, message: str
) -> None:
    with pytest.raises(UserError, match=message):
        await add_user(engine, name, role)


async def test_names_are_unique(engine: AsyncEngine) -> None:
    await add_user(engine, "erin", "agent")
    with pytest.raises(UserError, match="already exists"):
        await add_user(engine, "erin", "comms")
