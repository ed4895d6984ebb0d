"""The real ``outage-bot`` command, run as a subprocess against SQLite and PostgreSQL."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import AreaCode, Incident, Response
from bot.settings import ROOT


def run(url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "OUTAGE_BOT_TZ": "Europe/London"}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )


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


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("incident add --areas 020 --services phone", "required: --title"),
        (
            "incident add --areas 020 --services phone --title T --status resolved",
            "invalid choice",
        ),
        ("user add bob --role boss", "invalid choice"),
        ("frobnicate", "invalid choice"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(tmp_path: Path, args: str, message: str) -> None:
    url = f"sqlite:///{tmp_path / 'untouched.db'}"
    result = run(url, *shlex.split(args))
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
    assert not (tmp_path / "untouched.db").exists()


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


def test_locate_answers_one_text_or_each_stdin_line() -> None:
    url = "sqlite:////nonexistent/never-used.db"
    assert run(url, "locate", "no dial tone on 0161 496 0000").stdout == "0161\tManchester\n"
    assert run(url, "locate", "I'm", "in", "Leeds").stdout == "0113\tLeeds\n"
    bulk = run(url, "locate", stdin="LS6\nnothing here\n020 7946 0321\n\n07700 900123\n")
    assert bulk.returncode == 0
    assert bulk.stdout.splitlines() == ["0113\tLeeds", "-", "020\tLondon", "-", "-"]


def test_serve_chat_train_are_registered_commands() -> None:
    from bot.cli import EXTENSIONS, build_parser

    assert {"serve", "chat", "train"} <= set(EXTENSIONS)
    args = build_parser().parse_args(["serve", "--demo", "--workers", "3"])
    assert args.demo and args.workers == 3


def test_database_password_is_never_printed() -> None:
    result = run("postgresql://bot:s3cret-pw@127.0.0.1:1/nowhere", "db", "upgrade")
    assert result.returncode == 2
    assert "s3cret-pw" not in result.stderr + result.stdout
    assert "***" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_help_reads_well() -> None:
    result = run("sqlite://", "--help")
    assert result.returncode == 0
    for word in ("incident", "locate", "serve", "examples:", "user add alice --role comms"):
        assert word in result.stdout


def test_db_upgrade_creates_a_fresh_database(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    result = run(f"sqlite:///{path}", "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout and path.exists()
