"""Time the dashboard's queries with 100,000 stored messages and 1,000 active subscriptions.

Usage:
    .venv/bin/python bench/dashboard.py [--messages 100000] [--subscriptions 1000]
        [--rounds 200] [--sqlite PATH] [--postgres URL] [--skip-postgres]

Fills a SQLite file and a PostgreSQL database (created afresh; default
``outage_bot_bench_dashboard`` on the local server) with 10,000 conversations on the
three channels and their messages over the last 48 hours (customer message, bot reply
0.2-3 s later), a report for 40 % of the customers' messages over 300 area codes (a few
busy ones, a long tail), 20 active incidents, the subscriptions, 600 hand-offs (60 still
open) and a few alerts. Then times, ``--rounds`` times each:

- ``stats``: all of ``GET /api/stats`` (:func:`bot.operations.stats.dashboard`), and its
  parts ``reports``, ``incidents``, ``queue`` and ``containment``;
- ``chart``: rendering the SVG chart from the figures;
- ``alerts``: ``GET /api/alerts`` (:func:`bot.operations.alerts.open_alerts`);
- ``check``: one early-warning pass, and ``follow-ups``: one follow-up pass (both run in
  the background every few seconds, not per page view).

Target (issue 16): every dashboard query under 50 ms p99. The service also shares one
reading of the figures between all dashboards for a second (``stats.Snapshot``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.incident_lookup import recreate_pg
from bot.db import create_engine, migrate, safe_url
from bot.locations.areas import read_area_codes
from bot.models import (
    Alert,
    Conversation,
    Escalation,
    Incident,
    IncidentArea,
    Message,
    Report,
    Subscription,
    new_key,
    utcnow,
)
from bot.operations import alerts, chart, stats
from bot.operations.followups import FollowUps
from bot.operations.reports import bucket_of
from bot.settings import ROOT, Settings

CHANNELS = ("web", "telegram", "x")
CONVERSATIONS = 10_000
ACTIVE_INCIDENTS = 20


def table(model: Any) -> Any:
    return model.__table__


async def insert_rows(engine: AsyncEngine, model: Any, rows: list[dict[str, Any]]) -> None:
    async with engine.begin() as connection:
        for start in range(0, len(rows), 5000):
            await connection.execute(insert(table(model)), rows[start : start + 5000])


async def fill(engine: AsyncEngine, messages: int, subscriptions: int, codes: list[str]) -> None:
    rng = random.Random(16)
    now = utcnow()
    weights = [50 if i < 5 else 10 if i < 30 else 1 for i in range(len(codes))]
    await insert_rows(
        engine,
        Conversation,
        [
            {
                "id": n + 1,
                "key": new_key(),
                "channel": CHANNELS[n % 3],
                "external_user_id": f"user-{n}",
                "display_name": "",
                "state": "bot",
                "failures": 0,
                "created_at": now - timedelta(hours=48),
                "updated_at": now,
            }
            for n in range(CONVERSATIONS)
        ],
    )
    incidents = [
        {
            "id": n + 1,
            "reference": f"INC-BENCH-{n:04d}",
            "title": "Bench outage",
            "cause": "bench",
            "services": "broadband",
            "status": "investigating",
            "started_at": now - timedelta(hours=3),
            "updated_at": now - timedelta(hours=3),
            "resolved_at": None,
            "eta": now + timedelta(hours=2),
        }
        for n in range(ACTIVE_INCIDENTS)
    ]
    await insert_rows(engine, Incident, incidents)
    covered = {codes[n * 3]: n + 1 for n in range(ACTIVE_INCIDENTS)}
    await insert_rows(
        engine,
        IncidentArea,
        [{"incident_id": i, "area_code": code} for code, i in covered.items()],
    )
    message_rows: list[dict[str, Any]] = []
    report_rows: list[dict[str, Any]] = []
    for _message in range(messages // 2):
        conversation = rng.randrange(CONVERSATIONS) + 1
        channel = CHANNELS[(conversation - 1) % 3]
        at = now - timedelta(seconds=rng.uniform(0, 48 * 3600))
        base = {
            "conversation_id": conversation,
            "channel": channel,
            "external_id": None,
            "reply_to": None,
            "variant": "default",
            "attempts": 0,
            "next_attempt_at": None,
            "last_error": "",
        }
        message_rows.append(
            {
                **base,
                "direction": "in",
                "author": "customer",
                "text": "broadband down",
                "state": "processed",
                "created_at": at,
                "sent_at": None,
            }
        )
        replied = at + timedelta(seconds=rng.uniform(0.2, 3))
        message_rows.append(
            {
                **base,
                "direction": "out",
                "author": "bot",
                "text": "sorry",
                "state": "sent",
                "created_at": replied,
                "sent_at": replied,
            }
        )
        if rng.random() < 0.4:
            code = rng.choices(codes, weights)[0]
            incident = covered.get(code)
            report_rows.append(
                {
                    "conversation_id": conversation,
                    "channel": channel,
                    "area_code": code,
                    "intent": "report_outage",
                    "outcome": "incident" if incident else "no_incident",
                    "incident_id": incident,
                    "text": f"broadband down in {code}",
                    "created_at": at,
                    "bucket": bucket_of(at),
                }
            )
    await insert_rows(engine, Message, message_rows)
    await insert_rows(engine, Report, report_rows)
    await insert_rows(
        engine,
        Subscription,
        [
            {
                "conversation_id": n % CONVERSATIONS + 1,
                "incident_id": n % ACTIVE_INCIDENTS + 1,
                "area_code": codes[(n % ACTIVE_INCIDENTS) * 3],
                "created_at": now - timedelta(hours=1),
                "notified_at": None,
                "eta_told": now + timedelta(hours=2),
            }
            for n in range(subscriptions)
        ],
    )
    await insert_rows(
        engine,
        Escalation,
        [
            {
                "conversation_id": rng.randrange(CONVERSATIONS) + 1,
                "reason": rng.choice(["request_human", "bot_failed", "vulnerable", "frustrated"]),
                "priority": rng.choice([1, 1, 2, 3]),
                "state": "open" if n < 60 else "closed",
                "outcome": "",
                "created_at": now - timedelta(seconds=rng.uniform(0, 48 * 3600)),
            }
            for n in range(600)
        ],
    )
    await insert_rows(
        engine,
        Alert,
        [
            {
                "area_codes": codes[100 + n],
                "reports": 6,
                "since": now - timedelta(minutes=10),
                "state": "open" if n < 2 else "dismissed",
                "raised_at": now - timedelta(minutes=9),
                "updated_at": now,
                "dismissed_by": "",
            }
            for n in range(10)
        ],
    )
    if engine.dialect.name == "postgresql":
        async with engine.begin() as connection:
            for name in ("conversation", "incident"):
                await connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                    f"(SELECT max(id) FROM {name}))"
                )
            await connection.exec_driver_sql("ANALYZE")


def summary(name: str, samples: list[float], cpu: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"  {name:<14} p50 {statistics.median(ordered):7.2f} ms   p99 {p99:7.2f} ms"
        f"   max {ordered[-1]:7.2f} ms   cpu p50 {statistics.median(cpu):6.2f} ms"
    )


async def timed(
    rounds: int, call: Callable[[], Awaitable[object]]
) -> tuple[list[float], list[float]]:
    """Wall-clock and this process's CPU time per call (CPU includes SQLite's own work,
    which runs in aiosqlite's thread, but not PostgreSQL's, which runs in the server)."""
    await call()  # warm caches and prepared statements
    samples = []
    cpu = []
    for _ in range(rounds):
        start = time.perf_counter()
        cpu_start = time.process_time()
        await call()
        samples.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - cpu_start) * 1000)
    return samples, cpu


async def run(url: str, args: argparse.Namespace, codes: list[str]) -> None:
    await migrate(url)
    engine = create_engine(url)
    started = time.perf_counter()
    await fill(engine, args.messages, args.subscriptions, codes)
    print(f"{safe_url(url)}: filled in {time.perf_counter() - started:.1f} s")
    places = read_area_codes(Settings().data_dir)
    now = utcnow()
    dialect = engine.dialect.name
    figures = await stats.dashboard(engine, places.get)
    print(
        f"  ({len(figures['reports']['areas'])} areas with reports in 24 h, "
        f"{figures['containment']['overall']['conversations']} conversations in 24 h)"
    )
    follow_ups = FollowUps(engine, lambda key, variant, values: key, ZoneInfo("UTC"), places.get)
    # As the service does once started (bot.serve.serving): what is loaded by now stays out
    # of every garbage collection, which otherwise walked it all in the middle of a call.
    gc.collect()
    gc.freeze()

    def part(call: Callable[[AsyncSession], Awaitable[object]]) -> Callable[[], Awaitable[object]]:
        async def once() -> object:
            async with AsyncSession(engine) as session:
                return await call(session)

        return once

    cases: list[tuple[str, Callable[[], Awaitable[object]]]] = [
        ("stats", lambda: stats.dashboard(engine, places.get)),
        ("  reports", part(lambda s: stats.reports(s, places.get, now))),
        ("  incidents", part(stats.incidents)),
        ("  queue", part(lambda s: stats.queue(s, now))),
        ("  containment", part(lambda s: stats.containment(s, now, dialect))),
        ("alerts", lambda: alerts.open_alerts(engine)),
        ("check", lambda: alerts.check(engine, alerts.Thresholds())),
        ("follow-ups", lambda: follow_ups.run()),
    ]
    for name, call in cases:
        print(summary(name, *await timed(args.rounds, call)))

    async def render() -> None:
        chart.render(figures["reports"])

    print(summary("chart (SVG)", *await timed(args.rounds, render)))
    await engine.dispose()


def fresh_sqlite(path: Path) -> None:
    """Remove the previous run's SQLite file (and its WAL files)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--subscriptions", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--sqlite", default=str(ROOT / "var" / "bench" / "dashboard.db"))
    parser.add_argument(
        "--postgres", default="postgresql://postgres@127.0.0.1:5432/outage_bot_bench_dashboard"
    )
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    codes = list(read_area_codes(Settings().data_dir))[:300]
    sqlite_path = Path(args.sqlite)
    fresh_sqlite(sqlite_path)
    await run(f"sqlite:///{sqlite_path}", args, codes)
    if not args.skip_postgres:
        await recreate_pg(args.postgres)
        await run(args.postgres, args, codes)


if __name__ == "__main__":
    asyncio.run(main())
