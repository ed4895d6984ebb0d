"""``outage-bot user``, run as a subprocess against SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.cli.command import run
from tests.conftest import SESSIONS_REDIS_URL

pytestmark = pytest.mark.whole_service


async def test_user_add_prints_password_then_token(database_url: str, engine: AsyncEngine) -> None:
    from bot.users import authenticate_token, verify_password

    result = run(database_url, "user", "add", "alice", "--role", "comms")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    password, token = lines[-2], lines[-1]
    user = await authenticate_token(engine, token)
    assert user is not None and user.name == "alice" and user.role == "comms"
    assert verify_password(user, password)
    again = run(database_url, "user", "add", "alice", "--role", "agent")
    assert again.returncode == 2 and "already exists" in again.stderr


@pytest.mark.long
async def test_user_list_passwd_disable_and_tokens(database_url: str, engine: AsyncEngine) -> None:
    from bot.users import authenticate_password, authenticate_token

    token = run(database_url, "user", "add", "bea", "--role", "agent").stdout.splitlines()[-1]
    listed = run(database_url, "user", "list")
    assert listed.returncode == 0
    assert "bea\tagent\tactive\t-" in listed.stdout.splitlines()

    reset = run(database_url, "user", "passwd", "bea")
    assert reset.returncode == 0, reset.stderr
    temporary = reset.stdout.splitlines()[-1]
    bea = await authenticate_password(engine, "bea", temporary)
    assert bea is not None and bea.must_change_password
    assert "bea\tagent\tmust-change-password" in run(database_url, "user", "list").stdout

    assert run(database_url, "user", "disable", "bea").returncode == 0
    assert await authenticate_password(engine, "bea", temporary) is None
    assert await authenticate_token(engine, token) is None
    assert "bea\tagent\tdisabled" in run(database_url, "user", "list").stdout
    assert run(database_url, "user", "enable", "bea").returncode == 0
    assert await authenticate_token(engine, token) is not None

    tokens = run(database_url, "user", "tokens").stdout.splitlines()
    token_id = next(line.split("\t")[0] for line in tokens if "\tbea\t" in line)
    assert tokens[-1].endswith("\tactive")
    assert run(database_url, "user", "revoke", token_id).returncode == 0
    assert await authenticate_token(engine, token) is None

    for args in (["passwd", "nobody"], ["disable", "nobody"], ["revoke", "999999"]):
        refused = run(database_url, "user", *args)
        assert refused.returncode == 2 and len(refused.stderr.splitlines()) == 1, args


async def test_user_passwd_and_disable_end_sessions_kept_in_redis(
    database_url: str, engine: AsyncEngine, sessions_redis: Redis
) -> None:
    from bot.sessions import SessionPolicy
    from bot.sessions.redis import PREFIX, RedisSessions
    from bot.sessions.store import digest
    from bot.users import find_user

    run(database_url, "user", "add", "cid", "--role", "agent")
    store = RedisSessions(
        sessions_redis, engine, SessionPolicy(timedelta(hours=1), timedelta(hours=2))
    )
    with_redis = {"REDIS_URL": SESSIONS_REDIS_URL}
    for args in (["passwd", "cid"], ["disable", "cid"]):
        opened = await store.open(await find_user(engine, "cid"))
        assert await sessions_redis.exists(PREFIX + digest(opened.session_id)) == 1

        assert run(database_url, "user", *args, env=with_redis).returncode == 0, args

        assert await sessions_redis.exists(PREFIX + digest(opened.session_id)) == 0, args


async def test_with_redis_down_passwd_and_disable_still_change_the_user(
    database_url: str, engine: AsyncEngine
) -> None:
    from bot.users import SESSIONS_LEFT, authenticate_password, find_user
    from tests.scratch import free_port

    run(database_url, "user", "add", "dot", "--role", "agent")
    redis_down = {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}

    reset = run(database_url, "user", "passwd", "dot", env=redis_down)
    assert reset.returncode == 0, reset.stderr
    assert await authenticate_password(engine, "dot", reset.stdout.splitlines()[-1]) is not None
    disabled = run(database_url, "user", "disable", "dot", env=redis_down)
    assert disabled.returncode == 0, disabled.stderr
    assert (await find_user(engine, "dot")).disabled
    for result in (reset, disabled):
        assert f"(note: {SESSIONS_LEFT})" in result.stderr
