from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from bot.db import async_url, create_engine, migrate, migrate_sync, safe_url
from tests.conftest import POSTGRES_ADMIN


def test_async_url_picks_aiosqlite_for_sqlite() -> None:
    assert async_url("sqlite:///var/bot.db") == "sqlite+aiosqlite:///var/bot.db"
    assert async_url("sqlite:////tmp/bot.db") == "sqlite+aiosqlite:////tmp/bot.db"


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg2"])
def test_async_url_picks_asyncpg_for_postgresql_and_keeps_the_password(scheme: str) -> None:
    url = f"{scheme}://bot:s3cret@db.example:5433/outages"

    assert async_url(url) == "postgresql+asyncpg://bot:s3cret@db.example:5433/outages"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("sslmode=require", "ssl=require"),
        ("sslmode=verify-full&application_name=bot", "application_name=bot&ssl=verify-full"),
        ("ssl=prefer&sslmode=require", "ssl=prefer"),
    ],
)
def test_async_url_speaks_asyncpg_for_libpq_ssl_mode(query: str, expected: str) -> None:
    assert async_url(f"postgresql://bot@db/outages?{query}") == (
        f"postgresql+asyncpg://bot@db/outages?{expected}"
    )


async def test_a_postgresql_url_with_sslmode_connects() -> None:
    engine = create_engine(f"{POSTGRES_ADMIN}?sslmode=disable")
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await engine.dispose()


@pytest.mark.parametrize("url", ["mysql://u:p@h/db", "mssql+pyodbc://h/db", "oracle://h/db"])
def test_async_url_refuses_other_databases(url: str) -> None:
    with pytest.raises(ValueError, match="unsupported database"):
        async_url(url)


def test_safe_url_masks_the_password() -> None:
    shown = safe_url("postgresql://bot:s3cret@db.example:5432/outages")

    assert "s3cret" not in shown
    assert shown == "postgresql://bot:***@db.example:5432/outages"
    assert safe_url("sqlite:///var/bot.db") == "sqlite:///var/bot.db"


async def test_create_engine_makes_the_sqlite_folder_and_enforces_foreign_keys(
    tmp_path: Path,
) -> None:
    path = tmp_path / "nested" / "deeper" / "bot.db"
    engine = create_engine(f"sqlite:///{path}")
    try:
        assert path.parent.is_dir()
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE parent (id INTEGER PRIMARY KEY)"))
            await conn.execute(
                text(
                    "CREATE TABLE child (id INTEGER PRIMARY KEY, p INTEGER REFERENCES parent(id))"
                )
            )
            mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
        assert mode == "wal"
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO child (id, p) VALUES (1, 42)"))
    finally:
        await engine.dispose()


async def _tables_and_revisions(url: str) -> tuple[set[str], list[str]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
            revisions = list(
                (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars()
            )
    finally:
        await engine.dispose()
    return tables, revisions


async def test_migrations_run_twice_change_nothing(database_url: str) -> None:
    before = await _tables_and_revisions(database_url)

    await migrate(database_url)
    await migrate(database_url)

    tables, revisions = await _tables_and_revisions(database_url)
    assert (tables, revisions) == before
    assert len(revisions) == 1
    assert {t.name for t in SQLModel.metadata.sorted_tables} <= tables


def test_migrate_sync_on_a_fresh_sqlite_file_twice(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh' / 'bot.db'}"

    migrate_sync(url)
    migrate_sync(url)

    assert (tmp_path / "fresh" / "bot.db").is_file()


async def test_a_connection_left_in_a_transaction_is_rolled_back_on_return(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'reset.db'}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (a INTEGER)"))
        async with engine.connect() as connection:
            # Behind SQLAlchemy's back, so only the pool's reset can end the transaction.
            await connection.run_sync(
                lambda sync: sync.connection.cursor().execute("INSERT INTO t VALUES (1)")
            )
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver.in_transaction
        assert not driver.in_transaction
        async with engine.connect() as again:
            assert (await again.execute(text("SELECT count(*) FROM t"))).scalar() == 0
    finally:
        await engine.dispose()


async def test_statement_parameters_stay_out_of_errors_and_logs(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    """A customer's text or a secret's digest in a failed statement is not repeated."""
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    engine.echo = True
    insert = text(
        "INSERT INTO chat_identity (sender, secret_hash, created_at) "
        "VALUES (:sender, :digest, CURRENT_TIMESTAMP)"
    )
    values = {"sender": "ann", "digest": "my-secret-digest"}
    async with engine.begin() as connection:
        await connection.execute(insert, values)
    with pytest.raises(IntegrityError) as failed:
        async with engine.begin() as connection:
            await connection.execute(insert, values)
    engine.echo = False
    assert "parameters hidden" in str(failed.value)
    assert "my-secret-digest" not in str(failed.value) + caplog.text
