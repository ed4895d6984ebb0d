"""``outage-bot serve`` and ``outage-bot train``: running the service and its model.

One process serves everything by default. With ``--workers N`` the parent runs Rasa
(unless ``RASA_URL`` points at one) and N workers share the port through
``SO_REUSEPORT``; they coordinate through PostgreSQL and Redis, which is why both are
required then. The first worker is the primary (platform polling, reply delivery,
background jobs); the parent starts any worker that dies again (``bot.supervision``,
as for the Rasa children).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import logging
import os
import signal
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from aiohttp import web
from sqlalchemy.engine import make_url

from bot import kept_secrets
from bot.cli import UsageError
from bot.db import create_engine, migrate
from bot.rasa import callback_secret
from bot.rasa.process import (
    TOKEN_VARIABLE,
    RasaError,
    RasaProcess,
    start_children,
    stop_children,
    train,
)
from bot.rasa.reload_client import ReloadRefused, follow_reload
from bot.redaction import redact_logs
from bot.settings import Settings
from bot.supervision import Supervised
from bot.users import add_user, has_users
from bot.web.app import create_app

log = logging.getLogger(__name__)


class ServeError(RuntimeError):
    """The service cannot start as configured; the message says what to change."""


def check_workers(settings: Settings, workers: int) -> None:
    """Refuse a multi-worker set-up that would lose locks or corrupt SQLite.

    Raises:
        ServeError: ``workers`` > 1 without Redis and PostgreSQL.
    """
    if workers < 1:
        raise ServeError("--workers must be at least 1")
    if workers == 1:
        return
    if not settings.redis_url:
        raise ServeError("--workers > 1 needs REDIS_URL (shared conversation locks)")
    if make_url(settings.database_url).get_backend_name() != "postgresql":
        raise ServeError("--workers > 1 needs a PostgreSQL DATABASE_URL")


@dataclass(frozen=True)
class FirstRun:
    """The admin the first start created, and the owner-only file holding its secrets."""

    name: str
    password: str
    path: Path


async def first_run_credentials(settings: Settings) -> FirstRun | None:
    """Create the first admin when there is no user yet, writing its secrets to a file.

    The file (in ``var/``, :func:`bot.kept_secrets.write_first_run`) is readable by the
    owner only; it holds the user name, the password and an API token.
    """
    await migrate(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        if await has_users(engine):
            return None
        lifetime = timedelta(days=settings.token_days)
        _user, password, token = await add_user(engine, "admin", "admin", lifetime)
    finally:
        await engine.dispose()
    path = kept_secrets.write_first_run(
        settings.var_dir, f"user admin\npassword {password}\napi-token {token}\n"
    )
    return FirstRun("admin", password, path)


def banner(settings: Settings, first_run: FirstRun | None, *, show_password: bool) -> str:
    """What an operator needs after start-up: where everything is, and how to sign in.

    The first admin's password is printed only for someone at a terminal (or the demo),
    never into a service's log: otherwise the banner names the owner-only file.
    """
    base = f"http://{settings.host}:{settings.port}"
    lines = [
        "outage-bot is running:",
        f"  web chat      {base}/chat",
        f"  staff sign-in {base}/login",
        f"  agent console {base}/console",
        f"  comms admin   {base}/admin",
        f"  users, audit  {base}/admin/users",
        f"  health        {base}/healthz",
    ]
    if first_run and show_password:
        lines += [
            "First run: an admin user was created (shown once; keep it safe):",
            f"  sign in at {base}/login as {first_run.name} with password {first_run.password}",
            f"  (also in {first_run.path}, readable only by you, with an API token)",
        ]
    elif first_run:
        lines.append(
            f"First run: an admin user was created; its password is in {first_run.path} "
            "(readable only by this account)"
        )
    return "\n".join(lines)


def serving(app: web.Application) -> web.Application:
    """``app`` as a long-running process serves it: what start-up loaded is then frozen.

    Modules, the response store, place names and the incident index (about 220,000
    objects) live as long as the process, yet every full garbage collection walked
    them all: 0.18-0.2 s on a 2-core host during which no customer was answered.
    Frozen (``gc.freeze``), they are left out of every collection after start-up.
    """
    app.on_startup.append(_freeze_start_up_heap)
    return app


async def _freeze_start_up_heap(app: web.Application) -> None:
    gc.collect()
    gc.freeze()


def serve(settings: Settings, *, demo: bool, workers: int) -> None:
    """Run the service until interrupted.

    Raises:
        ServeError: the configuration cannot work (see :func:`check_workers`).
        bot.rasa.process.RasaError: Rasa is missing or the model cannot be trained.
    """
    check_workers(settings, workers)
    if not settings.rasa_url:
        train(settings.intents_dir)
    first_run = asyncio.run(first_run_credentials(settings))
    print(banner(settings, first_run, show_password=demo or sys.stdout.isatty()), flush=True)
    if workers == 1:
        web.run_app(
            serving(create_app(settings, demo=demo)),
            host=settings.host,
            port=settings.port,
            print=None,
            access_log=None,
        )
        return
    asyncio.run(_supervise_workers(settings, demo=demo, workers=workers))


METRICS_DIR = "metrics"
"""The workers' shared prometheus-client folder, under ``var/`` unless one is configured."""


def metrics_folder(settings: Settings) -> Path:
    """A folder where each worker keeps its ``/metrics`` counts, emptied for this start.

    prometheus-client's multiprocess mode: each worker writes its counters to its own
    files there, and a scrape, whichever worker answers, sums every file. Only its
    ``*.db`` files are removed, so an operator's own folder is safe to name.
    """
    folder = settings.metrics_dir or settings.var_dir / METRICS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    return folder


async def _supervise_workers(settings: Settings, *, demo: bool, workers: int) -> None:
    rasa: list[RasaProcess] = []
    environ = dict(os.environ)
    # Read by prometheus-client when a worker imports it, so set before they start.
    environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_folder(settings))
    if not settings.rasa_url:
        rasa = await start_children(settings, f"http://{settings.host}:{settings.port}")
        environ["RASA_URL"] = ",".join(child.url for child in rasa)
        # What the children were given, so that the workers need not find it themselves.
        environ[callback_secret.VARIABLE] = kept_secrets.callback_secret(settings).reveal()
        environ[TOKEN_VARIABLE] = kept_secrets.rasa_token(settings).reveal()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    flags = [["--primary", *(["--demo"] if demo else [])], *([[]] * (workers - 1))]
    # The primary polls the platforms, sends every reply and runs the background jobs, so
    # it must never stay down; any worker is started again whenever it dies.
    supervised = [
        Supervised(
            functools.partial(_spawn_worker, worker, environ),
            "the primary worker" if "--primary" in worker else "a worker",
        )
        for worker in flags
    ]
    for worker in supervised:
        await worker.start()
    await stop.wait()
    # aiohttp gives open requests up to a minute to finish on shut-down.
    await asyncio.gather(*(worker.stop(within=65) for worker in supervised))
    await stop_children(rasa)


async def _spawn_worker(flags: list[str], environ: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "worker", *flags, env=environ
    )


def run_worker(settings: Settings, *, demo: bool, primary: bool) -> None:
    """One of several workers: the app on a shared port (``SO_REUSEPORT``)."""
    web.run_app(
        serving(create_app(settings, demo=demo, primary=primary)),
        host=settings.host,
        port=settings.port,
        reuse_port=True,
        print=None,
        access_log=None,
    )


def _settings_error(error: Exception) -> UsageError:
    return UsageError(str(error))


def _log_to_terminal(settings: Settings) -> None:
    """Log to standard error, with secrets masked (:mod:`bot.redaction`)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    redact_logs(settings)


def serve_command(args: argparse.Namespace, settings: Settings) -> int:
    """``outage-bot serve [--demo] [--workers N]``."""
    _log_to_terminal(settings)
    try:
        serve(settings, demo=args.demo, workers=args.workers)
    except (ServeError, RasaError) as error:
        raise _settings_error(error) from None
    return 0


def worker_command(args: argparse.Namespace, settings: Settings) -> int:
    """``outage-bot worker``: one worker of ``serve --workers N`` (not for direct use)."""
    _log_to_terminal(settings)
    run_worker(settings, demo=args.demo, primary=args.primary)
    return 0


def train_command(args: argparse.Namespace, settings: Settings) -> int:
    """``outage-bot train [--force] [--reload]``: train only when ``intents/`` changed."""
    try:
        trained = train(settings.intents_dir, force=args.force)
    except RasaError as error:
        raise _settings_error(error) from None
    print("model trained" if trained else "model is up to date (intents/ unchanged)")
    return rasa_command(args, settings) if args.reload else 0


def rasa_command(args: argparse.Namespace, settings: Settings) -> int:
    """``outage-bot rasa reload``: a rolling model update of the running service, followed.

    Asks the service (an admin's API token) rather than the Rasa servers, because the
    service's workers must take each server out of rotation while it loads.
    """
    # A credential for this one command, not the service's configuration.
    token = args.token or os.environ.get("OUTAGE_BOT_TOKEN")
    if not token:
        raise UsageError("an admin's API token is needed: --token or OUTAGE_BOT_TOKEN")
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    url = (args.url or f"http://{host}:{settings.port}").rstrip("/")
    try:
        progress = asyncio.run(follow_reload(url, token, print))
    except ReloadRefused as error:
        raise UsageError(str(error)) from None
    return 0 if progress.get("error") is None else 1
