"""``serve``, ``train`` and ``chat`` as an operator meets them: refusals, banner, training."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import ApiToken, utcnow
from bot.rasa.process import train
from bot.serve import FirstRun, ServeError, banner, check_workers, first_run_credentials, serving
from bot.settings import ROOT, Settings
from bot.users import authenticate_password, authenticate_token
from bot.web.app import create_app
from tests.conftest import CALLBACK_SECRET, RASA_TOKEN, app_settings
from tests.scratch import POSTGRES_ADMIN, free_port, recreate_database, redis_url

SETTINGS = Settings.from_env(environ={}, env_file=Path("/nonexistent"))


def outage_bot(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "RASA_URL")}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env={**clean, **env},
        cwd=ROOT,
        timeout=600,
        check=False,
    )


def test_one_worker_needs_nothing_more() -> None:
    check_workers(SETTINGS, 1)


@pytest.mark.parametrize(
    ("changes", "workers", "reason"),
    [
        ({}, 0, "at least 1"),
        ({}, 2, "REDIS_URL"),
        ({"redis_url": "redis://127.0.0.1:6379/0"}, 2, "PostgreSQL"),
    ],
)
def test_unsafe_worker_setups_are_refused(
    changes: dict[str, str], workers: int, reason: str
) -> None:
    with pytest.raises(ServeError, match=reason):
        check_workers(replace(SETTINGS, **changes), workers)  # type: ignore[arg-type]


def test_serve_refusal_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = outage_bot("serve", "--workers", "2", DATABASE_URL=f"sqlite:///{tmp_path}/x.db")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "REDIS_URL" in result.stderr


def test_banner_shows_every_url_and_first_run_password_to_a_person_only() -> None:
    first = FirstRun("admin", "pw-123", Path("/srv/var/first-run-credentials.txt"))
    text = banner(SETTINGS, first, show_password=True)
    for path in ("/chat", "/login", "/console", "/admin", "/healthz"):
        assert f"http://127.0.0.1:8080{path}" in text
    assert "http://127.0.0.1:8080/login as admin with password pw-123" in text
    logged = banner(SETTINGS, first, show_password=False)
    assert "pw-123" not in logged and "/srv/var/first-run-credentials.txt" in logged
    assert "pw-123" not in banner(SETTINGS, None, show_password=True)


async def test_first_run_writes_the_admin_to_an_owner_only_file_once(
    database_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    settings = app_settings(database_url, "http://127.0.0.1:9", free_port(), tmp_path)
    first = await first_run_credentials(settings)
    assert first is not None
    assert first.path.stat().st_mode & 0o777 == 0o600
    lines = first.path.read_text().splitlines()
    assert lines[:2] == ["user admin", f"password {first.password}"]
    token = lines[2].removeprefix("api-token ")
    admin = await authenticate_token(engine, token)
    assert admin is not None and admin.role == "admin"
    assert await authenticate_password(engine, "admin", first.password) is not None
    assert await first_run_credentials(settings) is None, "only the first start creates one"
    async with AsyncSession(engine) as session:
        (expires,) = (await session.exec(select(ApiToken.expires_at))).all()
    lifetime = timedelta(days=settings.token_days)  # OUTAGE_BOT_TOKEN_DAYS, 90 by default
    assert expires is not None
    assert lifetime - timedelta(minutes=1) < expires - utcnow() <= lifetime


async def test_served_app_leaves_its_start_up_heap_out_of_collections(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    """After start-up a full collection walks only what came later, not the whole app."""
    settings = app_settings(database_url, "http://127.0.0.1:9", free_port(), tmp_path)
    assert gc.get_freeze_count() == 0
    runner = web.AppRunner(serving(create_app(settings)))
    await runner.setup()
    try:
        frozen, tracked = gc.get_freeze_count(), len(gc.get_objects())
    finally:
        await runner.cleanup()
        gc.unfreeze()
    assert frozen > 100_000, frozen
    assert tracked < frozen / 20, (tracked, frozen)


@pytest.mark.e2e  # trains with the real Rasa first when the model is stale
def test_train_skips_when_intents_are_unchanged(tmp_path: Path) -> None:
    train(SETTINGS.intents_dir)
    result = outage_bot("train", DATABASE_URL=f"sqlite:///{tmp_path}/untouched.db")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "model is up to date (intents/ unchanged)"
    assert not (tmp_path / "untouched.db").exists()  # training needs no database


def workers_of(supervisor: int) -> dict[int, bool]:
    """The supervisor's worker processes: pid -> whether it is the primary."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if parent == supervisor and b"worker" in command:
            found[int(stat.parent.name)] = b"--primary" in command
    return found


def until(check: Callable[[], bool], within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except urllib.error.HTTPError as error:
        with error:  # it holds the response open
            return error.code == 503
    except OSError:
        return False


def serve_workers(
    database_url: str,
    redis_url: str,
    rasa_url: str,
    port: int,
    var: Path,
    extra: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """``outage-bot serve --workers 2`` on ``port``, no platform channel; log in ``var``.

    ``extra``: more environment variables for the service.
    """
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "X_"))}
    env = {
        **clean,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "RASA_URL": rasa_url,
        "OUTAGE_BOT_PORT": str(port),
        "OUTAGE_BOT_VAR_DIR": str(var),
        # What the session's Rasa server sends and asks for (tests/conftest.py).
        "OUTAGE_BOT_CALLBACK_SECRET": CALLBACK_SECRET.reveal(),
        "RASA_TOKEN": RASA_TOKEN.reveal(),
        **(extra or {}),
    }
    with (var / "serve.log").open("wb") as log:  # the child keeps its own copy
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--workers", "2"],
            env=env,
            cwd=var,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )


def test_workers_one_primary_a_dead_one_started_again_and_all_stopped(tmp_path: Path) -> None:
    name = f"outage_bot_workers_{os.getpid()}"
    asyncio.run(recreate_database(name))
    port = free_port()
    database_url = f"{POSTGRES_ADMIN.rsplit('/', 1)[0]}/{name}"
    supervisor = serve_workers(database_url, redis_url(15), "http://127.0.0.1:9", port, tmp_path)
    try:
        until(lambda: len(workers_of(supervisor.pid)) == 2 and healthy(port))
        first = workers_of(supervisor.pid)
        time.sleep(3)  # both workers past start-up (a new database: both load it at once)
        assert workers_of(supervisor.pid) == first, (tmp_path / "serve.log").read_text()[-3000:]
        primary = next(pid for pid, is_primary in first.items() if is_primary)
        os.kill(primary, signal.SIGKILL)
        until(lambda: sorted(workers_of(supervisor.pid).values()) == [False, True])
        again = workers_of(supervisor.pid)
        until(lambda: healthy(port))
        supervisor.send_signal(signal.SIGTERM)
        code = supervisor.wait(timeout=30)
    finally:
        if supervisor.poll() is None:  # the test failed: leave no process behind
            for pid in workers_of(supervisor.pid):
                os.kill(pid, signal.SIGKILL)
            supervisor.kill()
        asyncio.run(recreate_database(name, drop_only=True))

    assert list(first.values()).count(True) == 1
    assert primary not in again
    assert code == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in again)


@pytest.mark.parametrize(
    ("args", "env", "reason"),
    [
        ((), {}, "--token or OUTAGE_BOT_TOKEN"),
        (("--url", "http://127.0.0.1:9"), {"OUTAGE_BOT_TOKEN": "t"}, "did not answer"),
    ],
)
def test_rasa_reload_refusals_are_one_line(
    args: tuple[str, ...], env: dict[str, str], reason: str
) -> None:
    result = outage_bot("rasa", "reload", *args, **env)

    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and reason in result.stderr
