"""Migration 0002 (staff access) on a database that already has users, both ways."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel

from bot.chat_identity import REFUSED, ChatIdentities
from bot.db import alembic_config, create_engine, migrate_sync
from bot.users import authenticate_token, token_digest
from tests.scratch import POSTGRES_ADMIN, recreate_database


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind, of this test's own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    name = f"outage_bot_migration_{os.getpid()}"
    asyncio.run(recreate_database(name))
    yield f"{POSTGRES_ADMIN.rsplit('/', 1)[0]}/{name}"
    asyncio.run(recreate_database(name, drop_only=True))


def _run(url: str, *statements: str) -> list[tuple[object, ...]]:
    async def go() -> list[tuple[object, ...]]:
        engine = create_engine(url)
        rows: list[tuple[object, ...]] = []
        try:
            async with engine.begin() as connection:
                for statement in statements:
                    result = await connection.execute(text(statement))
                    if result.returns_rows:
                        rows = [tuple(row) for row in result]
        finally:
            await engine.dispose()
        return rows

    return asyncio.run(go())


def test_existing_api_tokens_survive_the_upgrade_and_the_downgrade(fresh_url: str) -> None:
    migrate_sync(fresh_url, "0001")
    _run(
        fresh_url,
        "INSERT INTO user_account (name, role, password_hash, token_hash, created_at) "
        f"VALUES ('old', 'agent', '-', '{token_digest('old-token')}', CURRENT_TIMESTAMP)",
    )

    migrate_sync(fresh_url)

    async def found() -> object:
        engine = create_engine(fresh_url)
        try:
            user = await authenticate_token(engine, "old-token")
        finally:
            await engine.dispose()
        return user

    user = asyncio.run(found())
    assert user is not None and user.name == "old" and not user.disabled  # type: ignore[attr-defined]
    command.downgrade(alembic_config(fresh_url), "0001")
    assert _run(fresh_url, "SELECT token_hash FROM user_account") == [(token_digest("old-token"),)]


def test_the_migrations_build_exactly_the_tables_of_bot_models(fresh_url: str) -> None:
    migrate_sync(fresh_url)

    async def differences() -> list[object]:
        engine = create_engine(fresh_url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(
                    lambda sync: compare_metadata(
                        MigrationContext.configure(sync), SQLModel.metadata
                    )
                )
        finally:
            await engine.dispose()

    assert asyncio.run(differences()) == []


def test_web_conversations_from_before_chat_identities_cannot_be_taken_over(
    fresh_url: str,
) -> None:
    """Migration 0006: an old web sender's name opens nothing (nobody has its secret)."""
    migrate_sync(fresh_url, "0005")
    _run(
        fresh_url,
        "INSERT INTO conversation (key, channel, external_user_id, display_name, state, "
        "failures, created_at, updated_at) VALUES ('k1', 'web', 'terminal', '', 'bot', 0, "
        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP), ('k2', 'telegram', '42', '', 'bot', 0, "
        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
    )

    migrate_sync(fresh_url)

    async def check() -> tuple[object, ...]:
        engine = create_engine(fresh_url)
        try:
            identities = ChatIdentities(engine)
            return (
                await identities.admit("terminal", None),
                await identities.admit("terminal", "", "web-1"),
                await identities.may_read("terminal", None),
                (await identities.admit("someone-new", None)).allowed,
            )
        finally:
            await engine.dispose()

    assert asyncio.run(check()) == (REFUSED, REFUSED, False, True)
    assert _run(fresh_url, "SELECT sender FROM chat_identity ORDER BY sender") == [
        ("someone-new",),
        ("terminal",),
    ]
    command.downgrade(alembic_config(fresh_url), "0005")
