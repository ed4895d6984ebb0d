"""``outage-bot incident``, run as a subprocess against SQLite and PostgreSQL."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import AreaCode, Incident, Response
from tests.cli.command import run

pytestmark = pytest.mark.whole_service


async def count(engine: AsyncEngine, table: type[Incident] | type[AreaCode]) -> int:
    async with AsyncSession(engine) as session:
        return (await session.exec(select(func.count()).select_from(table))).one()


def future(hours: int) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat(timespec="minutes")


async def test_incident_lifecycle(database_url: str, engine: AsyncEngine) -> None:
    added = run(
        database_url,
        "incident",
        "add",
        "--areas",
        "020,Leeds",
        "--services",
        "broadband,phone",
        "--title",
        "Outage in London",
        "--cause",
        "a power failure",
        "--eta",
        future(3),
        "--status",
        "identified",
    )
    assert added.returncode == 0, added.stderr
    reference = added.stdout.splitlines()[-1]
    assert reference.startswith("INC-") and len(reference) == len("INC-20261125-0001")
    assert await count(engine, AreaCode) > 600
    async with AsyncSession(engine) as session:
        assert (await session.exec(select(func.count()).select_from(Response))).one() > 20

    listed = run(database_url, "incident", "list", "--active")
    assert listed.returncode == 0 and reference in listed.stdout
    assert "0113,020" in listed.stdout

    updated = run(
        database_url,
        "incident",
        "update",
        reference,
        "--eta",
        "none",
        "--areas",
        "020",
        "--status",
        "monitoring",
    )
    assert updated.returncode == 0, updated.stderr
    assert updated.stdout.splitlines()[-1] == reference
    assert "monitoring\t020\t" in updated.stdout and "eta -" in updated.stdout

    resolved = run(database_url, "incident", "resolve", reference)
    assert resolved.returncode == 0 and resolved.stdout.splitlines()[-1] == reference
    assert reference not in run(database_url, "incident", "list", "--active").stdout
    shown = run(database_url, "incident", "show", reference)
    assert shown.stdout.count("\tcli\t") == 3


DOMAIN_ERRORS = [
    ("incident add --areas Atlantis --services phone --title T", "unknown area 'Atlantis'"),
    ("incident add --areas 020 --services gas --title T", "unknown service 'gas'"),
    ("incident add --areas 020 --services phone --title T --eta soon", "ISO 8601"),
    ("incident resolve INC-20000101-0001", "no incident"),
]


async def test_bad_input_gives_one_line_and_exit_2_writing_nothing(
    database_url: str, engine: AsyncEngine
) -> None:
    for args, message in DOMAIN_ERRORS:
        result = run(database_url, *shlex.split(args))
        assert result.returncode == 2, args
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], result.stderr
    assert await count(engine, Incident) == 0
