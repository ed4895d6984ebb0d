"""Time what the agents' console fetches with 500 customers waiting.

Usage:
    .venv/bin/python bench/console_queue.py [--waiting 500] [--rounds 200]
        [--sqlite PATH] [--postgres URL] [--skip-postgres]

Fills a SQLite file and a PostgreSQL database (created afresh; default
``outage_bot_bench_console`` on the local server) with 5,000 conversations, 12 messages
each, 20 active incidents, ``--waiting`` open hand-offs (half of them in an incident's
area) and as many closed ones. Then calls, through the app from its own factory over
loopback HTTP with an agent's API token, ``--rounds`` times each:

- ``GET /api/escalations``: the queue, refetched on every change the console hears of;
- ``GET /api/conversations/{id}``: the open conversation, refetched likewise;
- ``GET /api/conversations/{id}/macros``: the filled-in macros, fetched when one opens.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.incident_lookup import recreate_pg
from bot.db import create_engine, migrate, safe_url
from bot.locations.areas import read_area_codes
from bot.models import Conversation, Escalation, Incident, IncidentArea, Message, new_key, utcnow
from bot.settings import ROOT, Settings
from bot.users import add_user
from bot.web.app import create_app

CHANNELS = ("web", "telegram", "x")
CONVERSATIONS = 5_000
MESSAGES_EACH = 12
ACTIVE_INCIDENTS = 20


async def insert_rows(engine: AsyncEngine, model: Any, rows: list[dict[str, Any]]) -> None:
    async with engine.begin() as connection:
        for start in range(0, len(rows), 5000):
            await connection.execute(insert(model.__table__), rows[start : start + 5000])


def escalation_rows(waiting: int, codes: list[str], now: Any) -> list[dict[str, Any]]:
    rng = random.Random(16)
    rows = []
    for n in range(waiting * 2):
        rows.append(
            {
                "conversation_id": n % CONVERSATIONS + 1,
                "reason": rng.choice(["request_human", "bot_failed", "vulnerable", "frustrated"]),
                "priority": rng.choice([1, 1, 2, 3]),
                "state": "open" if n < waiting else "closed",
                "outcome": "",
                "created_at": now - timedelta(seconds=rng.uniform(0, 3 * 3600)),
            }
        )
        if "area_code" in Escalation.__table__.c:  # type: ignore[attr-defined]
            rows[-1]["area_code"] = codes[(n % (ACTIVE_INCIDENTS * 2)) * 3 // 2]
    return rows


async def fill(engine: AsyncEngine, waiting: int, codes: list[str]) -> None:
    now = utcnow()
    await insert_rows(
        engine,
        Conversation,
        [
            {
                "id": n + 1,
                "key": new_key(),
                "channel": CHANNELS[n % 3],
                "external_user_id": f"user-{n}",
                "display_name": f"Customer {n}",
                "state": "escalated" if n < waiting else "bot",
                "failures": 0,
                "created_at": now - timedelta(hours=4),
                "updated_at": now,
            }
            for n in range(CONVERSATIONS)
        ],
    )
    await insert_rows(
        engine,
        Incident,
        [
            {
                "id": n + 1,
                "reference": f"INC-BENCH-{n:04d}",
                "title": "Bench outage",
                "cause": "a bench",
                "services": "broadband",
                "status": "investigating",
                "started_at": now - timedelta(hours=3),
                "updated_at": now - timedelta(hours=3),
                "resolved_at": None,
                "eta": now + timedelta(hours=2),
            }
            for n in range(ACTIVE_INCIDENTS)
        ],
    )
    await insert_rows(
        engine,
        IncidentArea,
        [{"incident_id": n + 1, "area_code": codes[n * 3]} for n in range(ACTIVE_INCIDENTS)],
    )
    await insert_rows(
        engine,
        Message,
        [
            {
                "conversation_id": n % CONVERSATIONS + 1,
                "channel": CHANNELS[n % CONVERSATIONS % 3],
                "direction": "in" if m % 2 == 0 else "out",
                "author": "customer" if m % 2 == 0 else "bot",
                "text": "my broadband is down again" if m % 2 == 0 else "I'm sorry to hear that",
                "external_id": None,
                "reply_to": None,
                "variant": "default",
                "state": "processed" if m % 2 == 0 else "sent",
                "attempts": 0,
                "next_attempt_at": None,
                "last_error": "",
                "created_at": now - timedelta(minutes=MESSAGES_EACH - m),
                "sent_at": None,
            }
            for m in range(MESSAGES_EACH)
            for n in range(CONVERSATIONS)
        ],
    )
    await insert_rows(engine, Escalation, escalation_rows(waiting, codes, now))
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
        f"  {name:<36} p50 {statistics.median(ordered):7.2f} ms   p99 {p99:7.2f} ms"
        f"   cpu p50 {statistics.median(cpu):6.2f} ms"
    )


async def timed(
    rounds: int, call: Callable[[], Awaitable[int]]
) -> tuple[list[float], list[float]] | None:
    """Wall-clock and this process's CPU time per call (client and server share the process;
    CPU includes SQLite's own work, which runs in aiosqlite's thread, but not PostgreSQL's).
    CPU time is the steadier figure on a machine other jobs share."""
    if await call() == 404:
        return None  # not served by this version
    samples = []
    cpu = []
    for _ in range(rounds):
        start = time.perf_counter()
        cpu_start = time.process_time()
        status = await call()
        samples.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - cpu_start) * 1000)
        assert status == 200, status
    return samples, cpu


async def run(url: str, args: argparse.Namespace, codes: list[str], tmp: Path) -> None:
    await migrate(url)
    engine = create_engine(url)
    started = time.perf_counter()
    await fill(engine, args.waiting, codes)
    _user, _password, token = await add_user(engine, "bench-agent", "agent")
    await engine.dispose()
    print(f"{safe_url(url)}: filled in {time.perf_counter() - started:.1f} s")
    settings = replace(
        Settings.from_env(environ={}, env_file=tmp / "no.env"),
        database_url=url,
        rasa_url="http://127.0.0.1:9",
        var_dir=tmp,
    )
    headers = {"Authorization": f"Bearer {token}"}
    async with TestClient(TestServer(create_app(settings))) as client:

        def get(path: str) -> Callable[[], Awaitable[int]]:
            async def once() -> int:
                async with client.get(path, headers=headers) as response:
                    await response.read()
                    return response.status

            return once

        async with client.get("/api/escalations", headers=headers) as response:
            queue = (await response.json())["escalations"]
        print(f"  ({len(queue)} waiting)")
        conversation = queue[0]["conversation_id"]
        cases = [
            "/api/escalations",
            f"/api/conversations/{conversation}",
            f"/api/conversations/{conversation}/macros",
        ]
        for path in cases:
            measured = await timed(args.rounds, get(path))
            if measured is not None:
                print(summary(f"GET {path}", *measured))


def fresh_sqlite(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waiting", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--sqlite", default=str(ROOT / "var" / "bench" / "console.db"))
    parser.add_argument(
        "--postgres", default="postgresql://postgres@127.0.0.1:5432/outage_bot_bench_console"
    )
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    codes = list(read_area_codes(Settings().data_dir))[:300]
    sqlite_path = Path(args.sqlite)
    fresh_sqlite(sqlite_path)
    tmp = sqlite_path.parent
    await run(f"sqlite:///{sqlite_path}", args, codes, tmp)
    if not args.skip_postgres:
        await recreate_pg(args.postgres)
        await run(args.postgres, args, codes, tmp)


if __name__ == "__main__":
    asyncio.run(main())
