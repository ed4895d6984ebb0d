from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import ApiToken, Role, User
from bot.sessions import SessionPolicy
from bot.sessions.database import DatabaseSessions
from bot.users import (
    MIN_PASSWORD_LENGTH,
    UnknownUser,
    UserError,
    add_user,
    authenticate_password,
    authenticate_token,
    change_password,
    issue_token,
    list_tokens,
    reset_password,
    revoke_token,
    set_disabled,
    set_role,
    token_digest,
    verify_password,
)

POLICY = SessionPolicy(idle=timedelta(minutes=30), lifetime=timedelta(hours=8))


async def test_add_user_returns_secrets_and_stores_only_hashes(engine: AsyncEngine) -> None:
    user, password, token = await add_user(engine, "alice", "comms")
    assert user.role == Role.COMMS and user.id is not None
    async with AsyncSession(engine) as session:
        stored = (await session.exec(select(User).where(User.name == "alice"))).one()
    assert password not in stored.password_hash and stored.password_hash.startswith("$argon2")
    async with AsyncSession(engine) as session:
        issued = (await session.exec(select(ApiToken).where(ApiToken.user_id == user.id))).one()
    assert issued.token_hash == token_digest(token) and token not in issued.token_hash
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


async def test_a_token_expires_and_can_be_revoked(engine: AsyncEngine) -> None:
    user, _, lasting = await add_user(engine, "fay", "agent", timedelta(days=1))
    expired = await issue_token(engine, user, timedelta(seconds=-1))
    spare = await issue_token(engine, user, None)
    assert await authenticate_token(engine, lasting) is not None
    assert await authenticate_token(engine, expired.token) is None
    assert await authenticate_token(engine, spare.token) is not None

    assert spare.row.id is not None
    await revoke_token(engine, spare.row.id)
    assert await authenticate_token(engine, spare.token) is None
    states = {token.id: name for token, name in await list_tokens(engine, user.id)}
    assert states == dict.fromkeys(states, "fay") and len(states) == 3
    with pytest.raises(UnknownUser):
        await revoke_token(engine, spare.row.id, owner_id=(user.id or 0) + 1000)


async def test_disabling_a_user_ends_their_sessions_and_tokens(engine: AsyncEngine) -> None:
    sessions = DatabaseSessions(engine, POLICY)
    user, password, token = await add_user(engine, "gus", "agent")
    opened = await sessions.open(user)
    assert await sessions.current(opened.session_id) is not None

    await set_disabled(engine, sessions, "gus", True)

    assert await sessions.current(opened.session_id) is None
    assert await authenticate_token(engine, token) is None
    assert await authenticate_password(engine, "gus", password) is None
    await set_disabled(engine, sessions, "gus", False)
    assert await authenticate_token(engine, token) is not None


async def test_a_reset_forces_a_new_password_that_is_long_enough(engine: AsyncEngine) -> None:
    sessions = DatabaseSessions(engine, POLICY)
    await add_user(engine, "hal", "comms")
    reset, temporary = await reset_password(engine, sessions, "hal")
    user = reset.user
    assert user.must_change_password and reset.sessions_ended
    opened = await sessions.open(user)
    with pytest.raises(UserError, match=f"at least {MIN_PASSWORD_LENGTH}"):
        await change_password(engine, sessions, user, temporary, "short")
    with pytest.raises(UserError, match="not right"):
        await change_password(engine, sessions, user, "wrong", "a-long-enough-password")

    changed = await change_password(engine, sessions, user, temporary, "a-long-enough-password")

    assert not changed.must_change_password
    assert await authenticate_password(engine, "hal", "a-long-enough-password") is not None
    assert await sessions.current(opened.session_id) is None


async def test_role_changes_and_unknown_names(engine: AsyncEngine) -> None:
    sessions = DatabaseSessions(engine, POLICY)
    await add_user(engine, "jo", "agent")
    assert (await set_role(engine, sessions, "jo", "COMMS")).user.role == Role.COMMS
    with pytest.raises(UserError, match="role must be one of"):
        await set_role(engine, sessions, "jo", "boss")
    with pytest.raises(UnknownUser):
        await set_disabled(engine, sessions, "nobody", True)
